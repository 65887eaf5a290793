"""What the lake holds right now: the answer behind ``citybrain lake status``."""

from __future__ import annotations

from datetime import datetime
from functools import reduce
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict
from sqlglot import exp

from schemas.generate import DIALECT
from schemas.generate import table_name as model_table_name
from warehouse.lake import attach, data_path, lake_exists, redact
from warehouse.sql import load_sql

if TYPE_CHECKING:
    from collections.abc import Iterable

    import duckdb

    from schemas.records.base import CanonicalRecord
    from schemas.settings import Settings


class TableStatus(BaseModel):
    """One table of the lake."""

    model_config = ConfigDict(frozen=True)

    name: str  # schema.table
    label: str | None  # the Chinese label recorded in the catalog
    rows: int
    in_standard: bool  # declared by a model of schemas/records (or its history twin)


class LakeStatus(BaseModel):
    """The state of the lake, as ``citybrain lake status`` shows it."""

    model_config = ConfigDict(frozen=True)

    initialised: bool  # the catalog exists and holds every table of the standard
    lake_name: str
    catalog: str  # password hidden
    catalog_kind: str
    data_path: str
    ducklake_version: str | None = None
    tables: tuple[TableStatus, ...] = ()
    missing_tables: tuple[str, ...] = ()
    snapshots: int = 0
    latest_snapshot_id: int | None = None
    latest_snapshot_at: datetime | None = None
    data_files: int = 0
    data_bytes: int = 0
    delete_files: int = 0

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def summary(self) -> str:
        """One sentence in plain language."""
        if not self.initialised and not self.tables:
            return (
                f"The lake is not initialised: there is no catalog at {self.catalog} yet. "
                "Run `citybrain lake init` (or `make demo`) to create it."
            )
        if self.missing_tables:
            return (
                f"The lake is not initialised completely: {len(self.missing_tables)} table(s) "
                "of the data standard are missing. Run `citybrain lake init`."
            )
        return (
            f"The lake holds {len(self.tables)} tables and {self.rows:,} rows in "
            f"{self.data_files:,} data files; {self.snapshots:,} snapshots."
        )


def _row_counts(
    con: duckdb.DuckDBPyConnection, lake: str, tables: list[tuple[str, str]]
) -> dict[str, int]:
    if not tables:
        return {}
    selects = [
        exp.select(
            exp.Literal.string(f"{schema}.{table}").as_("name"),
            exp.func("count", exp.Star()).as_("rows"),
        ).from_(exp.table_(table, db=schema, catalog=lake))
        for schema, table in tables
    ]
    query = reduce(lambda a, b: exp.union(a, b, distinct=False), selects)
    return dict(con.execute(query.sql(dialect=DIALECT)).fetchall())


def _standard_tables(models: Iterable[type[CanonicalRecord]]) -> list[str]:
    names = []
    for model in models:
        names.append(model_table_name(model))
        if model.__history__:
            names.append(model_table_name(model, history=True))
    return names


def lake_status(
    settings: Settings, tables: Iterable[type[CanonicalRecord]] | None = None
) -> LakeStatus:
    """Catalog, data path, tables with row counts, snapshots and files of the lake.

    Reads through a read-only attach, so it runs beside a loader. When the (SQLite)
    catalog does not exist yet nothing is created and ``initialised`` is False.
    ``tables`` defaults to :data:`schemas.records.TABLES`, to report what is missing.
    """
    if tables is None:
        from schemas.records import TABLES

        tables = TABLES
    standard = _standard_tables(tables)
    base = {
        "lake_name": settings.lake_name,
        "catalog": redact(settings.catalog),
        "catalog_kind": settings.catalog_kind,
    }
    if lake_exists(settings) is False:
        return LakeStatus(
            initialised=False,
            data_path=data_path(settings),
            missing_tables=tuple(standard),
            **base,
        )
    con = attach(settings, read_only=True)
    try:
        params = {"lake": settings.lake_name}
        _, version, stored_path = con.execute(load_sql("lake_settings"), params).fetchone()
        listed = con.execute(load_sql("lake_tables"), params).fetchall()
        counts = _row_counts(con, settings.lake_name, [(s, t) for s, t, _ in listed])
        snapshots, latest_id, latest_at = con.execute(load_sql("lake_snapshots"), params).fetchone()
        files, size, deletes, _ = con.execute(load_sql("lake_files"), params).fetchone()
    finally:
        con.close()
    present = {f"{s}.{t}" for s, t, _ in listed}
    missing = tuple(name for name in standard if name not in present)
    return LakeStatus(
        initialised=not missing,
        data_path=stored_path,
        ducklake_version=version,
        tables=tuple(
            TableStatus(
                name=f"{s}.{t}",
                label=comment,
                rows=counts[f"{s}.{t}"],
                in_standard=f"{s}.{t}" in standard,
            )
            for s, t, comment in listed
        ),
        missing_tables=missing,
        snapshots=snapshots,
        latest_snapshot_id=latest_id,
        latest_snapshot_at=latest_at,
        data_files=int(files),
        data_bytes=int(size),
        delete_files=int(deletes),
        **base,
    )
