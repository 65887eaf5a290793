"""``meta.lineage`` and what the catalog reads from the lake.

The edges from core columns on to the departments' fields come from the feed specs,
which ``warehouse`` may not import: ``citybrain`` writes both kinds of edge into
``meta.lineage`` (:func:`replace_lineage`), and everything that serves people reads them
back from there, with each feed's last load and SLA (:func:`read_lake_state`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlglot
from pydantic import BaseModel, ConfigDict
from sqlglot import exp

from schemas.errors import LakeError
from schemas.generate import DIALECT
from warehouse.lineage.edges import Edge
from warehouse.load.statements import requalify
from warehouse.retry import transaction
from warehouse.sql import load_sql

if TYPE_CHECKING:
    from collections.abc import Sequence

    import duckdb

    from schemas.records.base import CanonicalRecord
    from schemas.settings import Settings


def _lineage_model() -> type[CanonicalRecord]:
    from schemas.records.lineage import LineageEdge

    return LineageEdge


def replace_lineage(
    con: duckdb.DuckDBPyConnection,
    edges: Sequence[Edge],
    *,
    lake: str = "lake",
    recorded_at: datetime | None = None,
) -> int:
    """Replace every row of ``meta.lineage`` with ``edges``, in the caller's transaction.

    Hand the whole transaction to :func:`warehouse.retry.with_retry`; returns rows written.
    """
    import polars as pl

    from schemas.generate import polars_schema
    from warehouse.frames import insert_frame

    model = _lineage_model()
    when = (recorded_at or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    target = exp.to_table(model.__table__, dialect=DIALECT)
    target.set("catalog", exp.to_identifier(lake))
    con.execute(exp.delete(target).sql(dialect=DIALECT))
    rows = [
        {
            "target_table": e.target_table,
            "target_column": e.target_column,
            "source_kind": e.source_kind,
            "source_feed": e.source_feed,
            "source_resource": e.source_resource,
            "source_table": e.source_table,
            "source_column": e.source_column,
            "source_rank": e.source_rank,
            "transform": e.transform,
            "recorded_at": when,
        }
        for e in dict.fromkeys(edges)
    ]
    frame = pl.DataFrame(rows, schema=polars_schema(model), orient="row")
    return insert_frame(con, model, frame, catalog=lake)


def read_lake_edges(con: duckdb.DuckDBPyConnection, lake: str = "lake") -> list[Edge]:
    """The edges stored in ``meta.lineage`` (the table must exist)."""
    return [
        Edge(*fields) for *fields, _ in con.execute(_statement("lineage_edges", lake)).fetchall()
    ]


def _statement(name: str, lake: str) -> str:
    parsed = sqlglot.parse_one(load_sql(f"catalog/{name}"), read=DIALECT)
    return requalify(parsed, lake).sql(dialect=DIALECT)


class LakeState(BaseModel):
    """What the catalog reads from the lake: lineage edges and each feed's last load."""

    model_config = ConfigDict(frozen=True)

    found: bool
    edges: tuple[Edge, ...] = ()
    recorded_at: datetime | None = None
    last_loads: dict[str, datetime] = {}
    slas: dict[str, float] = {}
    notes: tuple[str, ...] = ()


def read_lake_state(settings: Settings) -> LakeState:
    """Lineage and freshness from the lake, read-only; a missing lake or table is a note."""
    from warehouse.lake import attach

    try:
        con = attach(settings, read_only=True)
    except LakeError as exc:
        return LakeState(found=False, notes=(str(exc),))
    try:
        # One read transaction: DuckLake loads its catalog once, not once per query.
        with transaction(con):
            return _read_state(con, settings.lake_name)
    finally:
        con.close()


def _read_state(con: duckdb.DuckDBPyConnection, lake: str) -> LakeState:
    present = {
        f"{schema}.{table}"
        for schema, table, _ in con.execute(load_sql("lake_tables"), {"lake": lake}).fetchall()
    }
    notes: list[str] = []
    edges: list[Edge] = []
    recorded: datetime | None = None
    if "meta.lineage" in present:
        for *fields, at in con.execute(_statement("lineage_edges", lake)).fetchall():
            edges.append(Edge(*fields))
            recorded = at if recorded is None else max(recorded, at)
    else:
        notes.append("meta.lineage is not in the lake yet: run `citybrain catalog --refresh`")
    if "meta.lineage" in present and not edges:
        notes.append("no lineage recorded yet: run `citybrain catalog --refresh`")
    last_loads: dict[str, datetime] = {}
    if "meta.batches" in present:
        last_loads = {
            feed: at
            for feed, at in con.execute(_statement("last_loads", lake)).fetchall()
            if at is not None
        }
    slas: dict[str, float] = {}
    if "meta.feed_slas" in present:
        slas = {
            feed: float(hours)
            for feed, hours in con.execute(_statement("feed_slas", lake)).fetchall()
            if hours is not None
        }
    else:
        notes.append("meta.feed_slas is not in the lake yet: freshness SLAs unknown")
    return LakeState(
        found=True,
        edges=tuple(edges),
        recorded_at=recorded,
        last_loads=last_loads,
        slas=slas,
        notes=tuple(notes),
    )
