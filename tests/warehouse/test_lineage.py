"""Column-level lineage of SQL and of the mart files; meta.lineage and freshness in a real lake."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import polars as pl
import pytest

from schemas.errors import SpecError
from schemas.generate import polars_schema, table_columns
from schemas.records import TABLES, table
from warehouse.frames import insert_frame
from warehouse.lake import attach, init_lake
from warehouse.lineage import (
    COMPUTED,
    Edge,
    build_catalog,
    freshness,
    history_edges,
    lake_schema,
    lineage_tree,
    mart_sql_files,
    output_columns,
    read_lake_edges,
    read_lake_state,
    replace_lineage,
    sql_lineage,
)
from warehouse.retry import transaction

if TYPE_CHECKING:
    from schemas.settings import Settings


def sources(sql: str) -> dict[str, set[tuple[str | None, str]]]:
    out: dict[str, set[tuple[str | None, str]]] = {}
    for edge in sql_lineage(sql, "mart.test"):
        out.setdefault(edge.target_column, set()).add((edge.source_table, edge.source_column))
    return out


# (case, SQL, expected sources per output column)
CASES = [
    pytest.param(
        """SELECT e.name AS entity, p.phone AS rep_phone
        FROM core.legal_entity AS e JOIN core.person AS p ON p.id_number = e.legal_rep_id_number""",
        {"entity": {("core.legal_entity", "name")}, "rep_phone": {("core.person", "phone")}},
        id="join: each column from its own side",
    ),
    pytest.param(
        """SELECT region_code, sum(registered_capital) AS capital, count(*) AS n
        FROM core.legal_entity GROUP BY region_code""",
        {
            "region_code": {("core.legal_entity", "region_code")},
            "capital": {("core.legal_entity", "registered_capital")},
            # count(*) reads no column: it counts the rows, i.e. the business keys.
            "n": {("core.legal_entity", "uscc")},
        },
        id="aggregate and count(*)",
    ),
    pytest.param(
        """SELECT CASE WHEN l.is_perpetual THEN 'perpetual'
                       WHEN l.valid_to < DATE '2027-01-01' THEN 'expiring' ELSE 'valid' END AS band
        FROM core.licence AS l""",
        {"band": {("core.licence", "is_perpetual"), ("core.licence", "valid_to")}},
        id="CASE reads every column of its branches",
    ),
    pytest.param(
        """WITH adults AS (SELECT id_number, residence_region_code AS district
                           FROM core.person WHERE NOT is_deceased),
                by_district AS (SELECT district, count(id_number) AS people
                                FROM adults GROUP BY district)
        SELECT district AS district_code, people FROM by_district""",
        {
            "district_code": {("core.person", "residence_region_code")},
            "people": {("core.person", "id_number")},
        },
        id="CTEs chained",
    ),
    pytest.param(
        "SELECT * FROM lake.core.area",
        {c.name: {("core.area", c.name)} for c in table_columns(table("core.area"))},
        id="star over a lake-qualified table",
    ),
    pytest.param(
        """SELECT subject_code AS code FROM core.credit_penalty
        UNION ALL SELECT holder_code FROM core.licence""",
        {"code": {("core.credit_penalty", "subject_code"), ("core.licence", "holder_code")}},
        id="UNION ALL: both branches",
    ),
    pytest.param(
        """SELECT 'district' AS area_level, a.area_code FROM core.area AS a
        LEFT JOIN core.person AS p ON p.residence_region_code = a.area_code""",
        # A constant describes the rows of the driving table, not of the joined lookup.
        {"area_level": {("core.area", "area_code")}, "area_code": {("core.area", "area_code")}},
        id="constant per row of the FROM table",
    ),
    pytest.param(
        """SELECT m::DATE AS month, count(b.batch_id) AS batches
        FROM generate_series(DATE '2026-01-01', DATE '2026-12-01', INTERVAL 1 MONTH) AS t(m)
        LEFT JOIN meta.batches AS b ON date_trunc('month', b.finished_at) = m GROUP BY 1""",
        {
            "month": {
                (
                    None,
                    "GENERATE_SERIES(CAST('2026-01-01' AS DATE), CAST('2026-12-01' AS DATE), INTERVAL '1' MONTH)",
                )
            },
            # count(x) counts the rows behind x; the spine is computed, not read.
            "batches": {("meta.batches", "batch_id")},
        },
        id="a month spine is computed; counting joined rows reaches the table",
    ),
]


@pytest.mark.parametrize(("sql", "expected"), CASES)
def test_lineage_of_hand_written_sql(sql: str, expected: dict) -> None:
    assert sources(sql) == expected


def test_edges_say_how_the_value_is_made() -> None:
    edges = sql_lineage(
        "WITH x AS (SELECT upper(name) AS n FROM core.area) SELECT n AS name FROM x", "mart.t"
    )
    assert [(e.source_kind, e.transform) for e in edges] == [("core_column", "UPPER(area.name)")]
    spine = sql_lineage("SELECT 1 AS one", "mart.t")
    assert [(e.source_kind, e.source_table, e.source_column) for e in spine] == [
        (COMPUTED, None, "1")
    ]
    meta = sql_lineage("SELECT feed FROM meta.batches", "mart.t")
    assert [(e.source_kind, e.source_table) for e in meta] == [("meta_column", "meta.batches")]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT nope FROM core.person", "nope"),
        ("SELECT name FROM core.no_such_table", "core.no_such_table, which is not a table"),
        ("DELETE FROM core.person", "expected one SELECT or WITH statement, got DELETE"),
        ("SELECT FROM WHERE", "does not parse"),
    ],
)
def test_sql_that_cannot_be_traced_is_refused_with_the_file_named(sql: str, message: str) -> None:
    with pytest.raises(SpecError, match=message) as caught:
        sql_lineage(sql, "mart.t", where="warehouse/marts/t.sql")
    assert "warehouse/marts/t.sql" in str(caught.value)


def test_lake_schema_covers_every_table_and_history() -> None:
    schema = lake_schema()
    for model in TABLES:
        zone, name = model.__table__.split(".")
        assert set(schema[zone][name]) == {c.name for c in table_columns(model)}
    assert "_is_current" in schema["core"]["licence_history"]


# --- the mart files, as they land ---------------------------------------------------------

MART_FILES = sorted(mart_sql_files())


@pytest.mark.parametrize(
    "mart",
    MART_FILES
    or [pytest.param(None, marks=pytest.mark.skip(reason="no warehouse/marts/*.sql yet"))],
)
def test_every_mart_column_traces_back_to_the_lake(mart: str) -> None:
    sql = mart_sql_files()[mart].read_text(encoding="utf-8")
    columns = output_columns(sql)
    edges = sql_lineage(sql, mart, where=mart)
    by_column: dict[str, list[Edge]] = {}
    for edge in edges:
        by_column.setdefault(edge.target_column, []).append(edge)
    assert set(by_column) == set(columns), f"{mart}: columns without lineage"
    schema = lake_schema()
    for edge in edges:
        if edge.source_kind == COMPUTED:
            continue
        zone, name = edge.source_table.split(".")
        assert zone in {"core", "meta"}, f"{mart}.{edge.target_column} reads {zone}"
        assert edge.source_column in schema[zone][name], edge
    for column, found in by_column.items():
        lake_sources = [e for e in found if e.source_kind != COMPUTED]
        if lake_sources:
            continue
        # Only a generated spine (months of a year) may come from no lake column at all.
        assert all(e.source_column.startswith("GENERATE_SERIES") for e in found), (
            f"{mart}.{column} comes from no core or meta column: {found}"
        )
    try:
        model = table(mart)
    except KeyError:
        return
    assert columns == [c.name for c in table_columns(model)], f"{mart}: columns differ"


# --- trees and freshness (pure) -----------------------------------------------------------

FEED_EDGE = Edge(
    "core.person",
    "birth_date",
    "feed_field",
    "CSRQ",
    source_feed="population",
    source_resource="persons",
    source_rank=0,
    transform="mapped",
)


def test_lineage_tree_reaches_the_department_field_and_survives_cycles() -> None:
    edges = [
        Edge("mart.population_by_area", "age_60_plus", "core_column", "birth_date", "core.person"),
        FEED_EDGE,
        # A (wrong) loop must not hang the tree.
        Edge("core.person", "birth_date", "core_column", "birth_date", "core.person_history"),
        Edge("core.person_history", "birth_date", "core_column", "birth_date", "core.person"),
    ]
    tree = lineage_tree("mart.population_by_area", edges)
    column = next(c for c in tree.columns if c.column == "age_60_plus")
    (person,) = column.sources
    assert (person.table, person.column, person.label) == ("core.person", "birth_date", "出生日期")
    field = next(s for s in person.sources if s.kind == "feed_field")
    assert (field.column, field.department, field.feed) == ("CSRQ", "市公安局", "population")
    with pytest.raises(KeyError, match="known tables"):
        lineage_tree("core.nope", edges)


def test_freshness_against_the_sla() -> None:
    now = datetime(2026, 11, 22, 12)
    found = {
        f.feed: f
        for f in freshness(
            {"population": datetime(2026, 11, 20, 12), "licence": datetime(2026, 11, 21)},
            {"population": 30.0, "licence": 840.0, "credit": 30.0},
            now,
        )
    }
    assert (found["population"].lag_hours, found["population"].is_stale) == (48.0, True)
    assert found["licence"].is_stale is False
    assert (found["credit"].last_loaded_at, found["credit"].is_stale) == (None, None)


# --- in a real lake -------------------------------------------------------------------------


def _insert(settings: Settings, name: str, rows: list[dict]) -> None:
    model = table(name)
    con = attach(settings)
    try:
        with transaction(con):
            insert_frame(con, model, pl.DataFrame(rows, schema=polars_schema(model)))
    finally:
        con.close()


def test_replace_lineage_and_read_it_back_with_freshness(settings: Settings) -> None:
    assert read_lake_state(settings).found is False
    assert not settings.home.exists()  # reading never creates a lake
    init_lake(settings)
    first = [
        FEED_EDGE,
        Edge("mart.population_by_area", "total", "core_column", "id_number", "core.person"),
    ]
    con = attach(settings)
    try:
        with transaction(con):
            assert replace_lineage(con, first) == 2
        with transaction(con):
            replace_lineage(con, first[:1])  # replaces, never appends
        assert read_lake_edges(con) == first[:1]
    finally:
        con.close()

    _insert(
        settings,
        "meta.batches",
        [
            {
                "batch_id": f"b{i}",
                "feed": "population",
                "source": "x",
                "rows_in": 1,
                "rows_loaded": 1,
                "rows_quarantined": 0,
                "rows_duplicate": 0,
                "status": status,
                "started_at": at,
                "finished_at": at,
                "message": None,
            }
            for i, (status, at) in enumerate(
                [
                    ("loaded", datetime(2026, 11, 20, 6)),
                    ("skipped_duplicate", datetime(2026, 11, 21, 6)),
                    ("failed", datetime(2026, 11, 22, 6)),  # a failure refreshes nothing
                ]
            )
        ],
    )
    _insert(
        settings,
        "meta.feed_slas",
        [
            {
                "feed": "population",
                "department": "市公安局",
                "schedule": "0 2 * * *",
                "freshness_sla_hours": 30.0,
                "updated_at": datetime(2026, 11, 1),
            }
        ],
    )
    state = read_lake_state(settings)
    assert state.edges == (FEED_EDGE,)
    assert state.last_loads == {"population": datetime(2026, 11, 21, 6)}
    assert state.slas == {"population": 30.0}
    result = build_catalog(TABLES, state, now=datetime(2026, 11, 22, 18))
    person = next(t for t in result.tables if t.name == "core.person")
    assert person.feeds == ("population",)
    assert person.is_stale is True  # 36 h since the last delivery, SLA 30 h
    assert next(c for c in person.columns if c.name == "birth_date").has_lineage


def test_a_lake_older_than_the_lineage_table_says_what_to_run(settings: Settings) -> None:
    init_lake(settings, tables=[table("meta.batches")])
    state = read_lake_state(settings)
    assert state.found and state.edges == ()
    assert any("citybrain catalog --refresh" in n for n in state.notes)
    assert any("meta.feed_slas" in n for n in state.notes)


def test_history_tables_trace_to_their_core_table() -> None:
    tree = lineage_tree("core.person_history", history_edges())
    assert tree.label == "人口基础信息（历史）"
    birth = next(c for c in tree.columns if c.column == "birth_date")
    assert [(s.table, s.column) for s in birth.sources] == [("core.person", "birth_date")]
    assert next(c for c in tree.columns if c.column == "_is_current").sources == ()
