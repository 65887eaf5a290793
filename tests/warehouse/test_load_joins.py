"""The left-out rows' DELETE builds its hash join on the list of rows, whatever the
optimizer estimates (``warehouse.load.batch.joins_as_written``)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from warehouse.load.batch import joins_as_written

# The shape of warehouse.load.apply.delete_left_out: one batch's rows, those listed go.
DELETE = "DELETE FROM t WHERE b = 'batch-1' AND r IN (SELECT r FROM read_parquet($left_out_path))"


def _join_type(con: duckdb.DuckDBPyConnection, left_out: Path) -> str:
    plan = con.execute("EXPLAIN " + DELETE, {"left_out_path": str(left_out)}).fetchall()[0][1]
    (line,) = [line for line in plan.splitlines() if "Join Type" in line]
    return line.strip("│ ").removeprefix("Join Type:").strip()


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT 'batch-1' AS b, i AS r FROM range(1000000) r(i)")
    return con


def test_the_hash_table_is_built_on_the_list_even_when_the_estimates_say_otherwise(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    left_out = tmp_path / "superseded.parquet"
    con.execute(f"COPY (SELECT i * 2 AS r FROM range(400000) r(i)) TO '{left_out}'")
    # Left to its estimates, DuckDB swaps the sides: the table's rows become the hash table
    # (RIGHT_SEMI). In the lake that happened with 7,840 listed rows against 5M.
    assert _join_type(con, left_out) == "RIGHT_SEMI"
    with joins_as_written(con):
        assert _join_type(con, left_out) == "SEMI"
        deleted = con.execute(DELETE, {"left_out_path": str(left_out)}).fetchall()[0][0]
    assert deleted == 400_000
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 600_000
    assert _join_type(con, left_out) == "RIGHT_SEMI"  # the connection's setting is back


def test_the_optimizers_disabled_before_stay_disabled_even_after_a_failure(
    con: duckdb.DuckDBPyConnection,
) -> None:
    con.execute("SET disabled_optimizers = 'join_order'")
    with pytest.raises(duckdb.CatalogException), joins_as_written(con):
        current = con.execute("SELECT current_setting('disabled_optimizers')").fetchone()[0]
        assert current == "join_order,build_side_probe_side"
        con.execute("SELECT * FROM no_such_table")
    assert (
        con.execute("SELECT current_setting('disabled_optimizers')").fetchone()[0] == "join_order"
    )


def test_an_error_that_aborts_the_transaction_comes_through_as_itself(
    con: duckdb.DuckDBPyConnection,
) -> None:
    con.execute("BEGIN")
    with pytest.raises(duckdb.ConversionException), joins_as_written(con):
        con.execute("SELECT 'x'::INTEGER")
    con.execute("ROLLBACK")
    # The aborted transaction kept the list; the next use sets it right again.
    with joins_as_written(con):
        pass
    assert con.execute("SELECT current_setting('disabled_optimizers')").fetchone()[0] == ""
