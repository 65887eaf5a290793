"""Polars frames in and out of lake tables, typed by the standard.

Frames follow :func:`schemas.generate.polars_schema`; the lake follows the DDL. The two
agree column for column except where Arrow has no lake type: GEOMETRY travels as WKB
(``Binary``) and JSON as text (``String``). The projections here do those conversions,
so loaders can use them inside their own MERGE as well as through :func:`insert_frame`.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlglot import exp

from schemas.generate import DIALECT, table_columns, table_name

if TYPE_CHECKING:
    import duckdb
    import polars as pl

    from schemas.records.base import CanonicalRecord


def _lake_table(model: type[CanonicalRecord], catalog: str, history: bool) -> exp.Table:
    table = exp.to_table(table_name(model, history=history), dialect=DIALECT)
    table.set("catalog", exp.to_identifier(catalog))
    return table


def to_lake_projection(
    model: type[CanonicalRecord], *, history: bool = False
) -> list[exp.Expression]:
    """SELECT list turning a frame's columns into the lake table's types, in table order.

    >>> from schemas.records import table
    >>> [p.sql("duckdb") for p in to_lake_projection(table("core.area"))][4]
    'ST_GEOMFROMWKB(geometry) AS geometry'
    """
    out: list[exp.Expression] = []
    for col in table_columns(model, history=history):
        source: exp.Expression = exp.column(col.name)
        if col.sql_type == "GEOMETRY":
            source = exp.func("ST_GeomFromWKB", source, dialect=DIALECT)
        out.append(exp.alias_(source, col.name))
    return out


def from_lake_projection(
    model: type[CanonicalRecord], *, history: bool = False
) -> list[exp.Expression]:
    """SELECT list reading a lake table back in the frame's types (GEOMETRY as WKB).

    >>> from schemas.records import table
    >>> [p.sql("duckdb") for p in from_lake_projection(table("core.area"))][4]
    'ST_ASWKB(geometry) AS geometry'
    """
    out: list[exp.Expression] = []
    for col in table_columns(model, history=history):
        source: exp.Expression = exp.column(col.name)
        if col.sql_type == "GEOMETRY":
            source = exp.func("ST_AsWKB", source, dialect=DIALECT)
        out.append(exp.alias_(source, col.name))
    return out


def insert_frame(
    con: duckdb.DuckDBPyConnection,
    model: type[CanonicalRecord],
    frame: pl.DataFrame,
    *,
    catalog: str = "lake",
    history: bool = False,
) -> int:
    """Append ``frame`` to the model's lake table in the caller's transaction; rows added.

    A building block, not a load: batch loads merge on the business key and write
    history and ledger in one transaction (DESIGN.md decision 4). The frame must have
    the columns of ``polars_schema(model, lake=True)`` (any order).
    """
    view = f"_frame_{uuid.uuid4().hex}"
    insert = exp.insert(
        exp.select(*to_lake_projection(model, history=history)).from_(view),
        _lake_table(model, catalog, history),
        columns=[c.name for c in table_columns(model, history=history)],
    )
    con.register(view, frame)
    try:
        con.execute(insert.sql(dialect=DIALECT))
    finally:
        con.unregister(view)
    return frame.height


def read_frame(
    con: duckdb.DuckDBPyConnection,
    model: type[CanonicalRecord],
    *,
    catalog: str = "lake",
    history: bool = False,
) -> pl.DataFrame:
    """The model's lake table as a Polars frame typed by ``polars_schema(model, lake=True)``."""
    query = exp.select(*from_lake_projection(model, history=history)).from_(
        _lake_table(model, catalog, history)
    )
    return con.execute(query.sql(dialect=DIALECT)).pl()
