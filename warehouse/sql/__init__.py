"""Static SQL of the lake, one statement per ``.sql`` file, loaded by name.

Generated SQL (DDL, per-table queries) is built with sqlglot in the modules that need it;
only fixed statements live here. Parameters are DuckDB named parameters (``$lake``).

>>> "duckdb_columns()" in load_sql("lake_columns")
True
"""

from __future__ import annotations

from functools import cache
from importlib import resources


def sql_names() -> list[str]:
    """Names of the ``.sql`` files shipped here, sorted."""
    return sorted(
        entry.name.removesuffix(".sql")
        for entry in resources.files(__name__).iterdir()
        if entry.name.endswith(".sql")
    )


@cache
def load_sql(name: str) -> str:
    """The text of ``warehouse/sql/<name>.sql``."""
    path = resources.files(__name__) / f"{name}.sql"
    if not path.is_file():
        msg = f"no SQL file {name!r} in warehouse/sql; there are: {', '.join(sql_names())}"
        raise KeyError(msg)
    return path.read_text(encoding="utf-8")
