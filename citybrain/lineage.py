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
from typing import TYPE_CHECKING, NamedTuple

from pydantic import BaseModel, ConfigDict

from feeds.spec import FEEDS
from schemas.errors import LakeError
from warehouse.lineage import Edge, history_edges, mart_lineage

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from feeds.spec import FeedSpec
    from schemas.settings import Settings


class Derivation(NamedTuple):
    """A core column the transforms (or the loader) compute from other core columns."""

    sources: tuple[str, ...]  # columns of the same table, or "schema.table.column"
    how: str


# The FeedSpecs list which columns are derived, not from what: that lives in the transform
# steps' code. A test holds this table to every spec's ``derived`` columns, so a new derived
# column cannot go untraced.
DERIVED: dict[tuple[str, str], Derivation] = {
    ("core.person", "person_key"): Derivation(
        ("id_number",), "keyed HMAC-SHA256 of the normalized ID number"
    ),
    ("core.person", "residence_region_code"): Derivation(
        ("residence_street_code",), "county part of the street code, retired codes mapped"
    ),
    ("core.legal_entity", "industry_section"): Derivation(
        ("industry_code",), "GB/T 4754 section letter of the industry code"
    ),
    ("core.legal_entity", "capital_currency"): Derivation(
        ("registered_capital",), "currency written in 注册资本 (万元人民币, 万美元 ...)"
    ),
    ("core.legal_entity", "status_raw"): Derivation(
        ("status",), "the bureau's own wording of 登记状态, kept as delivered"
    ),
    ("core.address_point", "lon"): Derivation(
        ("source_lon", "source_lat", "source_crs"), "converted to WGS-84 from GCJ-02/BD-09"
    ),
    ("core.address_point", "lat"): Derivation(
        ("source_lon", "source_lat", "source_crs"), "converted to WGS-84 from GCJ-02/BD-09"
    ),
    ("core.address_point", "region_code"): Derivation(
        ("street_code", "lon", "lat", "core.area.geometry"),
        "county of 所属区划代码, else of the district polygon containing the point",
    ),
    ("core.address_point", "grid_code"): Derivation(
        ("lon", "lat", "core.area.geometry"), "grid polygon containing the point (loader)"
    ),
    ("core.address_point", "h3_r9"): Derivation(
        ("lon", "lat"), "H3 cell (resolution 9) of the WGS-84 point"
    ),
    ("core.credit_penalty", "subject_code_type"): Derivation(
        ("subject_code", "subject_category"), "USCC or citizen ID, judged from the code"
    ),
    ("core.credit_permit", "subject_code_type"): Derivation(
        ("subject_code", "subject_category"), "USCC or citizen ID, judged from the code"
    ),
    ("core.credit_list", "list_name"): Derivation(
        ("list_type",), "the list's own name as delivered (list_type keeps black/red)"
    ),
    ("core.licence", "is_perpetual"): Derivation(
        ("valid_to",), "true when 有效期截止 is 长期, 9999-12-31 or empty"
    ),
}


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
            for column in res.derived:
                derivation = DERIVED.get((res.table, column))
                if derivation is None:
                    continue  # the test of DERIVED names it
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
