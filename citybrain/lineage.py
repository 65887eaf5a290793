"""Lineage from the departments' fields to the marts, recorded in ``meta.lineage``.

``warehouse/`` traces mart columns back to core columns from the mart SQL files, but may
not import ``feeds/``, where the departments' field names live (the FeedSpecs' field
mappings, every generation of names). This module, above both rooms, joins the two halves
and writes them to the lake, so the catalog page can read the whole chain from there.

>>> edges = feed_edges()
>>> [(e.source_column, e.source_rank) for e in edges
...  if e.target_table == "core.credit_penalty" and e.target_column == "subject_name"]
[('CF_XDR_MC', 0), ('CF_XDR', 1)]
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from feeds.spec import FEEDS
from schemas.errors import LakeError
from warehouse.lineage import Edge, history_edges, mart_lineage

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from feeds.spec import FeedSpec
    from schemas.settings import Settings


def _split(table: str, source: str) -> tuple[str, str]:
    zone_table, _, column = source.rpartition(".")
    return (zone_table, column) if zone_table else (table, source)


def feed_edges(feeds: Mapping[str, FeedSpec] | None = None) -> list[Edge]:
    """Edges from core columns to the departments' fields, and to derived columns' inputs.

    One edge per field name: ``source_rank`` 0 is the name the department uses now,
    higher ranks are older generations or alternatives (both credit generations).
    """
    edges: list[Edge] = []
    for spec in (FEEDS if feeds is None else feeds).values():
        for res in spec.resources:
            for column, names in res.fields.items():
                for rank, name in enumerate(names):
                    edges.append(
                        Edge(
                            target_table=res.table,
                            target_column=column,
                            source_kind="feed_field",
                            source_column=name,
                            source_feed=spec.name,
                            source_resource=res.name,
                            source_rank=rank,
                            transform="mapped" if rank == 0 else "mapped (older or other name)",
                        )
                    )
            if res.updated_at:
                edges.append(
                    Edge(
                        target_table=res.table,
                        target_column="_version_at",
                        source_kind="core_column",
                        source_column=res.updated_at,
                        source_table=res.table,
                        transform="orders the versions of a key: its update time",
                    )
                )
            for column, derivation in res.derived.items():
                for source in derivation.sources:
                    table, source_column = _split(res.table, source)
                    edges.append(
                        Edge(
                            target_table=res.table,
                            target_column=column,
                            source_kind="core_column",
                            source_column=source_column,
                            source_table=table,
                            transform=f"derived: {derivation.how}",
                        )
                    )
    return edges


def lineage_edges() -> list[Edge]:
    """Every edge: department fields to core columns, core to history, core to marts."""
    return feed_edges() + history_edges() + mart_lineage()


def feed_slas_hours(feeds: Mapping[str, FeedSpec] | None = None) -> dict[str, float]:
    """Each feed's freshness SLA in hours, from its spec.

    >>> feed_slas_hours()["population"]
    30.0
    """
    return {
        name: spec.freshness_sla.total_seconds() / 3600
        for name, spec in (FEEDS if feeds is None else feeds).items()
    }


class LineageReport(BaseModel):
    """What :func:`record_lineage` wrote."""

    model_config = ConfigDict(frozen=True)

    rows: int
    feed_field_edges: int
    mart_edges: int
    marts: tuple[str, ...]
    changed: bool
    recorded_at: datetime


def _same(stored: Iterable[Edge], edges: Iterable[Edge]) -> bool:
    return set(stored) == set(edges)


def record_lineage(settings: Settings, *, now: datetime | None = None) -> LineageReport:
    """Replace ``meta.lineage`` with the lineage of today's specs and mart files.

    One transaction; when the lake already holds exactly these edges nothing is written
    (no new snapshot), so running it twice changes nothing. Creates ``meta.lineage`` in a
    lake made before the table existed.
    """
    import duckdb

    from schemas.records.lineage import LineageEdge
    from warehouse.lake import attach, init_lake, lake_exists, redact
    from warehouse.lineage import read_lake_edges, replace_lineage
    from warehouse.retry import transaction, with_retry

    if lake_exists(settings) is False:
        msg = (
            f"there is no lake at {redact(settings.catalog)} yet: run `citybrain lake init` "
            "(or `make demo`) first, then `citybrain catalog --refresh`"
        )
        raise LakeError(msg)
    marts = mart_lineage()
    edges = feed_edges() + history_edges() + marts
    when = now or datetime.now(UTC)
    con = attach(settings)
    try:
        init_lake(settings, tables=[LineageEdge], con=con)

        def write() -> int | None:
            with transaction(con):
                if _same(read_lake_edges(con, settings.lake_name), edges):
                    return None
                return replace_lineage(con, edges, lake=settings.lake_name, recorded_at=when)

        written = with_retry(write, what="record lineage")
    except duckdb.Error as exc:
        msg = f"could not record lineage in the lake at {redact(settings.catalog)}: {exc}"
        raise LakeError(msg) from exc
    finally:
        con.close()
    return LineageReport(
        rows=len(set(edges)),
        feed_field_edges=sum(e.source_kind == "feed_field" for e in edges),
        mart_edges=len(marts),
        marts=tuple(sorted({e.target_table for e in marts})),
        changed=written is not None,
        recorded_at=when,
    )
