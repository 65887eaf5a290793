"""Every static SQL file parses as DuckDB SQL and reads only what DuckDB provides."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import sqlglot
from sqlglot import exp

from warehouse.extensions import connect
from warehouse.sql import load_sql, sql_names

if TYPE_CHECKING:
    from collections.abc import Iterator

    import duckdb

# CREATE SECRET is beyond sqlglot's DuckDB grammar; DuckDB itself checks it below.
NOT_PARSED_BY_SQLGLOT = {"postgres_catalog_secret"}
# Maintenance procedures are CALLs, not SELECTs.
CALLS = {n for n in sql_names() if n.startswith("maintain_")}
# Read lake tables: run against real lakes by tests/citybrain/test_airflow_runs.py
# (demo_summary) and tests/test_accuracy_end_to_end.py (authority_directory).
NEEDS_LAKE_TABLES = {"demo_summary", "authority_directory"}


def test_there_are_sql_files() -> None:
    assert "lake_columns" in sql_names()


@pytest.mark.parametrize("name", sorted(set(sql_names()) - NOT_PARSED_BY_SQLGLOT))
def test_sql_file_parses_as_one_duckdb_statement(name: str) -> None:
    statements = sqlglot.parse(load_sql(name), read="duckdb")
    assert len(statements) == 1
    expected = (exp.Command, exp.Anonymous, exp.Expression) if name in CALLS else exp.Select
    assert isinstance(statements[0], expected)


PARAMS = {
    "postgres_catalog_secret": {"password": "x"},
    "loaded_extensions": {},
    "maintain_expire_snapshots": {"lake": "lake", "retention_days": 30},
    "maintain_cleanup_files": {"lake": "lake", "grace_hours": 24},
    "maintain_delete_orphans": {"lake": "lake", "orphan_hours": 24},
}


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(extensions=("ducklake", "postgres_scanner"))
    con.execute("ATTACH 'ducklake::memory:' AS lake")
    yield con
    con.close()


@pytest.mark.parametrize("name", sorted(set(sql_names()) - NEEDS_LAKE_TABLES))
def test_duckdb_accepts_every_sql_file(con: duckdb.DuckDBPyConnection, name: str) -> None:
    # Running it against DuckDB proves the table functions and columns exist in 1.5.
    con.execute(load_sql(name), PARAMS.get(name, {"lake": "lake"}))


def test_unknown_sql_file_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="lake_columns"):
        load_sql("no_such_query")
