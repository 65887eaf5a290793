"""The loader's static SQL: ``warehouse/sql/load/*.sql`` and ``warehouse/sql/quarantine/*.sql``.

The files name the lake ``lake`` (``lake.meta.batches``, ``lake.snapshots()``), the
default ``CITYBRAIN_LAKE_NAME``; :func:`statement` parses a file with sqlglot and points
those names at the lake actually attached, so a renamed lake needs no second copy of the
SQL. Values are DuckDB named parameters (``$batch_id``), never spliced in.

>>> print(statement("load", "last_snapshot", "city"))
SELECT id FROM city.LAST_COMMITTED_SNAPSHOT()
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import sqlglot
from sqlglot import exp

from schemas.generate import DIALECT

DEFAULT_LAKE = "lake"
"""The catalog name the ``.sql`` files are written against."""

FOLDERS = ("load", "quarantine")


def sql_files(folder: str) -> list[str]:
    """Names of the ``.sql`` files in ``warehouse/sql/<folder>/``, sorted."""
    root = resources.files("warehouse.sql").joinpath(folder)
    return sorted(e.name.removesuffix(".sql") for e in root.iterdir() if e.name.endswith(".sql"))


@cache
def parsed(folder: str, name: str) -> exp.Expression:
    """The statement of ``warehouse/sql/<folder>/<name>.sql`` as a sqlglot expression."""
    if folder not in FOLDERS:
        msg = f"no SQL folder {folder!r}; expected one of {', '.join(FOLDERS)}"
        raise KeyError(msg)
    path = resources.files("warehouse.sql").joinpath(folder, f"{name}.sql")
    if not path.is_file():
        known = ", ".join(sql_files(folder))
        msg = f"no SQL file {name!r} in warehouse/sql/{folder}; there are: {known}"
        raise KeyError(msg)
    return sqlglot.parse_one(path.read_text(encoding="utf-8"), read=DIALECT)


def requalify(expression: exp.Expression, lake: str) -> exp.Expression:
    """A copy of ``expression`` reading and writing the lake attached as ``lake``.

    Tables carry the lake as their catalog (``lake.meta.batches``); table functions of
    the DuckLake extension carry it where a schema would go (``lake.snapshots()``).
    """
    if lake == DEFAULT_LAKE:
        return expression
    out = expression.copy()
    for table in out.find_all(exp.Table):
        if table.catalog == DEFAULT_LAKE:
            table.set("catalog", exp.to_identifier(lake))
        elif isinstance(table.this, exp.Func) and table.db == DEFAULT_LAKE:
            table.set("db", exp.to_identifier(lake))
    return out


@cache
def statement(folder: str, name: str, lake: str = DEFAULT_LAKE) -> str:
    """DuckDB text of a loader ``.sql`` file for the lake attached as ``lake``."""
    return requalify(parsed(folder, name), lake).sql(dialect=DIALECT, comments=False)
