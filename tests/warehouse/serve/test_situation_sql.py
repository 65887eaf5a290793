"""The page's SQL files: one SELECT each, every parameter bound, every column in the marts."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import pytest
import sqlglot
from pydantic import ValidationError
from sqlglot import exp

from warehouse.serve.situation import (
    FILTERED,
    PANEL_QUERIES,
    SituationError,
    SituationFilter,
    parsed_sql,
    situation_sql,
    sql_names,
)

if TYPE_CHECKING:
    from schemas.settings import Settings

CITY = SituationFilter(month_from=date(2025, 12, 1), month_to=date(2026, 11, 1))
DISTRICT = CITY.model_copy(update={"district_code": "440106"})
SHAPES = "district_shapes"


def test_every_panel_query_has_a_file_and_every_file_is_used() -> None:
    used = {name for names in PANEL_QUERIES.values() for name in names} | {SHAPES}
    assert used == set(sql_names())


@pytest.mark.parametrize("name", sql_names())
def test_each_file_is_one_select(name: str) -> None:
    statements = sqlglot.parse(
        parsed_sql(name).sql("duckdb"), read="duckdb"
    )  # round trip: the text we send parses again
    assert len(statements) == 1
    assert isinstance(statements[0], exp.Select)


@pytest.mark.parametrize("name", sorted(FILTERED))
def test_filters_are_bound_as_literals_not_left_as_parameters(name: str) -> None:
    sql = situation_sql(name, DISTRICT)
    bound = sqlglot.parse_one(sql, read="duckdb")
    assert list(bound.find_all(exp.Placeholder)) == []
    assert "'440106'" in sql
    assert "CAST('2026-11-01' AS DATE)" in sql


def test_a_hostile_district_value_cannot_reach_the_sql() -> None:
    # The filter admits 6 digits only; and a value that got past it would still be one
    # quoted literal, never SQL.
    with pytest.raises(ValidationError, match="pattern"):
        SituationFilter(
            district_code="1' OR '1'='1", month_from=date(2026, 1, 1), month_to=date(2026, 2, 1)
        )
    sql = situation_sql("alerts", CITY, district="x' OR 1=1 --")
    assert "'x'' OR 1=1 --'" in sql


def test_filtered_queries_refuse_to_run_without_a_filter() -> None:
    with pytest.raises(SituationError, match="needs a district/month filter"):
        situation_sql("tiles")


def test_a_reversed_month_range_is_refused_with_the_months_named() -> None:
    with pytest.raises(ValidationError, match="2026-05 to 2026-02 is reversed"):
        SituationFilter(month_from=date(2026, 5, 1), month_to=date(2026, 2, 1))


def test_the_city_filter_binds_a_typed_null() -> None:
    assert "CAST(NULL AS TEXT) IS NULL" in situation_sql("tiles", CITY)


def test_duckdb_runs_every_query_on_an_empty_lake(settings: Settings) -> None:
    # Against the tables init_lake creates from the standard: proves every mart column the
    # page names exists with a type the SQL can use.
    from warehouse.lake import attach, init_lake
    from warehouse.serve.situation import direct_runner

    init_lake(settings)
    con = attach(settings, read_only=True, spatial=True)
    try:
        run = direct_runner(con, settings.lake_name)
        for name in sql_names():
            params = {"tolerance": 0.001} if name == SHAPES else {}
            sql = situation_sql(name, DISTRICT if name in FILTERED else None, **params)
            rows = run(sql)
            assert rows.columns, name
    finally:
        con.close()
