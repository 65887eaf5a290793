"""The marts' SQL files against the standard, and what one build guarantees.

Each ``.sql`` is one plain SELECT whose output columns are exactly its table's columns in
the model's order (the catalog reads lineage from these files), reading only ``core`` and
``meta``. A build replaces every mart in one transaction: twice gives the same rows, a
failure leaves the marts as they were.
"""

from __future__ import annotations

from datetime import date

import pytest
import sqlglot
from polars.testing import assert_frame_equal
from sqlglot import exp
from sqlglot.optimizer.scope import traverse_scope

from schemas.errors import LakeError
from schemas.generate import table_columns
from schemas.records import TABLES, table
from tests.warehouse.marts.conftest import build, put_core, read
from warehouse import marts
from warehouse.marts import MARTS, mart_columns, mart_sql, sql_names

SQL_FILES = [(name, "", f"mart.{name}") for name in MARTS] + [
    ("new_quality_results", "meta", "meta.quality_results")
]


def test_every_mart_model_has_its_sql_file_and_the_reverse() -> None:
    models = {m.__table__ for m in TABLES if m.__table__.startswith("mart.")}
    assert models == {f"mart.{name}" for name in MARTS}
    assert sql_names() == sorted(MARTS)


@pytest.mark.parametrize(("name", "folder", "target"), SQL_FILES)
def test_sql_file_is_one_select_with_the_tables_columns_in_order(
    name: str, folder: str, target: str
) -> None:
    statements = sqlglot.parse(mart_sql(name, folder), read="duckdb")
    assert len(statements) == 1
    select = statements[0]
    assert isinstance(select, exp.Select)
    assert select.named_selects == [c.name for c in table_columns(table(target))]
    # Every output column is named explicitly (catalog lineage follows the names).
    assert all(isinstance(e, exp.Alias) for e in select.expressions)


@pytest.mark.parametrize(("name", "folder", "target"), SQL_FILES)
def test_sql_file_reads_only_core_and_meta_tables_of_the_lake(
    name: str, folder: str, target: str
) -> None:
    select = sqlglot.parse_one(mart_sql(name, folder), read="duckdb")
    ctes = {cte.alias for cte in select.find_all(exp.CTE)}
    read_tables = {
        (t.catalog, t.db, t.name)
        for t in select.find_all(exp.Table)
        if not isinstance(t.this, exp.Func) and t.name not in ctes
    }
    assert read_tables
    assert all(catalog == "lake" and db in {"core", "meta"} for catalog, db, _ in read_tables), (
        read_tables
    )
    # Referenced columns exist in the tables read (Splink's check), scope by scope: the
    # files reuse short aliases in different CTEs.
    for scope in traverse_scope(select):
        for column in scope.columns:
            source = scope.sources.get(column.table)
            if not isinstance(source, exp.Table) or not source.db:
                continue
            history = source.name.endswith("_history")
            model = table(f"{source.db}.{source.name.removesuffix('_history')}")
            known = {c.name for c in table_columns(model, history=history)}
            assert column.name in known, f"{name}.sql: {column.table}.{column.name}"


def test_mart_columns_come_from_the_standard() -> None:
    assert mart_columns("alerts")[:3] == ["alert_type", "severity", "subject_code"]


def _scene(con) -> None:
    put_core(con, "core.person", [{"id_number": "A"}, {"id_number": "B", "is_deceased": True}])
    put_core(con, "core.legal_entity", [{"uscc": "E1", "established_date": date(2026, 3, 3)}])
    put_core(con, "core.licence", [{"certificate_id": "L1", "holder_code": "B"}])


def test_building_twice_gives_the_same_rows_in_one_snapshot_each(con, settings) -> None:
    _scene(con)
    first = build(con, settings)
    rows = {name: read(con, f"mart.{name}") for name in MARTS}
    snapshots = con.execute("SELECT count(*) FROM lake.snapshots()").fetchone()[0]
    again = build(con, settings)
    assert again == first
    assert first["population_by_area"] == 1 and first["alerts"] == 1
    for name in MARTS:
        assert_frame_equal(read(con, f"mart.{name}"), rows[name])
    # One transaction: one snapshot for the whole rebuild.
    assert con.execute("SELECT count(*) FROM lake.snapshots()").fetchone()[0] == snapshots + 1


def test_a_failing_mart_leaves_every_mart_as_it_was(con, settings, monkeypatch) -> None:
    _scene(con)
    build(con, settings)
    before = {name: read(con, f"mart.{name}") for name in MARTS}
    put_core(con, "core.person", [{"id_number": "C"}])

    real = marts.parsed

    def broken(name: str, folder: str = "") -> exp.Expression:
        if name == MARTS[-1]:
            return sqlglot.parse_one("SELECT no_such_column FROM lake.meta.batches")
        return real(name, folder)

    monkeypatch.setattr(marts, "parsed", broken)
    with pytest.raises(LakeError, match=rf"(?s)mart\.{MARTS[-1]}.*citybrain marts build"):
        build(con, settings)
    # The first marts were rebuilt before the last failed, and rolled back with it.
    for name in MARTS:
        assert_frame_equal(read(con, f"mart.{name}"), before[name])


def test_a_lake_attached_under_another_name_builds_too(settings) -> None:
    from warehouse.lake import attach, init_lake
    from warehouse.marts import FeedSla, build, write_feed_slas

    renamed = settings.model_copy(update={"lake_name": "city"})
    con = attach(renamed)
    try:
        init_lake(renamed, con=con)
        assert write_feed_slas(con, renamed, [FeedSla("licence", "x", "@daily", 24.0)]) == [
            "licence"
        ]
        result = build(con, renamed)
    finally:
        con.close()
    # The never-loaded feed is the one row: stale.
    assert result.rows == {name: int(name == "feed_freshness") for name in MARTS}
