"""Governed queries that should run: masks exactly as the standard says, scope, limits,
dialects, audit."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import pytest

from schemas.errors import AccessDenied, QueryRefused
from tests.warehouse.governed.conftest import (
    ID_LI,
    ID_OUYANG,
    ID_ZHANG,
    TIANHE,
    USCC_YUEXIU,
    audit_row,
)
from warehouse.governed import principal_for, run_query

if TYPE_CHECKING:
    from pathlib import Path

    import duckdb

    from schemas.settings import Settings


def analyst(settings: Settings):
    return principal_for("analyst", "test-analyst", settings=settings)


def district(settings: Settings, code: str = TIANHE):
    return principal_for("district_analyst", "test-district", code, settings=settings)


def test_analyst_sees_the_standard_masks(lake: Settings) -> None:
    result = run_query(
        "SELECT id_number, name, phone, birth_date, residence_address, ethnicity_code "
        "FROM core.person ORDER BY person_key",
        analyst(lake),
        settings=lake,
    )
    rows = {r["id_number"]: r for r in result.to_dicts()}
    zhang = rows["110105********002X"]
    assert zhang["name"] == "张*"
    assert zhang["phone"] == "138****1234"
    assert str(zhang["birth_date"]) == "1949-01-01"  # cut to the year, still a DATE
    assert zhang["residence_address"] == "广州市天河区石牌街道****"
    assert zhang["ethnicity_code"] is None  # redact: never shown below steward
    assert {r["name"] for r in rows.values()} == {"张*", "欧阳**", "李*"}
    assert {r["phone"] for r in rows.values()} == {"138****1234", "139****5432", "020-******21"}
    assert result.masked_columns == [
        "id_number",
        "name",
        "phone",
        "birth_date",
        "residence_address",
        "ethnicity_code",
    ]
    assert not result.truncated


def test_steward_sees_unmasked(lake: Settings) -> None:
    steward = principal_for("steward", "test-steward", settings=lake)
    result = run_query(
        "SELECT id_number, name, phone FROM core.person WHERE name = '张三'", steward, settings=lake
    )
    assert result.rows == [(ID_ZHANG, "张三", "13812341234")]
    assert result.masked_columns == []


def test_organizations_stay_readable_people_do_not(lake: Settings) -> None:
    result = run_query(
        "SELECT subject_code, subject_name FROM core.credit_penalty ORDER BY decision_date",
        analyst(lake),
        settings=lake,
    )
    assert result.rows == [
        ("110105********002X", "张*"),
        (USCC_YUEXIU, "广州越秀示例餐饮有限公司"),
    ]
    holders = run_query(
        "SELECT holder_code FROM core.licence ORDER BY holder_code_type",
        analyst(lake),
        settings=lake,
    )
    assert holders.rows == [(ID_OUYANG[:6] + "********" + ID_OUYANG[-4:],), (USCC_YUEXIU,)]


def test_district_analyst_sees_only_their_district(lake: Settings) -> None:
    result = run_query(
        "SELECT residence_region_code, count(*) AS people FROM core.person GROUP BY ALL",
        district(lake),
        settings=lake,
    )
    assert result.rows == [(TIANHE, 2)]
    entities = run_query(
        "SELECT e.name FROM core.legal_entity e JOIN core.licence l ON l.region_code = e.region_code",
        district(lake),
        settings=lake,
    )
    assert {r[0] for r in entities.rows} == {"广州天河示例科技有限公司"}


def test_district_role_needs_its_district(lake: Settings) -> None:
    with pytest.raises(AccessDenied, match="6-digit district code"):
        principal_for("district_analyst", "x", settings=lake)
    with pytest.raises(AccessDenied, match="no role 'mayor'"):
        principal_for("mayor", "x", settings=lake)


def test_row_limit_truncates_and_says_so(
    lake: Settings, audit_reader: duckdb.DuckDBPyConnection
) -> None:
    result = run_query("SELECT name FROM core.person", analyst(lake), max_rows=2, settings=lake)
    assert len(result.rows) == 2
    assert result.truncated
    row = audit_row(audit_reader, result.query_id)
    assert row["rows_returned"] == 2
    assert "truncated at 2 rows" in row["reason"]


def test_order_survives_the_row_limit(lake: Settings) -> None:
    result = run_query(
        "SELECT phone FROM core.person ORDER BY phone DESC",
        analyst(lake),
        max_rows=3,
        settings=lake,
    )
    assert [r[0] for r in result.rows] == ["139****5432", "138****1234", "020-******21"]


def test_allowed_query_is_audited(lake: Settings, audit_reader: duckdb.DuckDBPyConnection) -> None:
    sql = "SELECT name, sex_code FROM core.person WHERE name LIKE '张%'"
    result = run_query(sql, analyst(lake), settings=lake)
    row = audit_row(audit_reader, result.query_id)
    assert row["allowed"] is True
    assert row["principal"] == "test-analyst"
    assert row["role"] == "analyst"
    assert row["sql"] == sql
    assert row["tables"] == ["core.person"]
    assert row["sensitive_columns"] == ["core.person.name", "core.person.sex_code"]
    assert row["rows_returned"] == 1
    assert row["reason"] == "masked: core.person.name"


def test_refused_query_is_audited_with_what_it_reached_for(
    lake: Settings, audit_reader: duckdb.DuckDBPyConnection
) -> None:
    sql = "SELECT id_number FROM core.person UNION ALL SELECT sql FROM meta.query_audit"
    with pytest.raises(QueryRefused) as refused:
        run_query(sql, analyst(lake), settings=lake)
    assert refused.value.reason == "table.not_allowed"
    assert "may read core.*, mart.*" in refused.value.message
    row = audit_row(audit_reader, sql=sql)
    assert row["allowed"] is False
    assert row["rows_returned"] is None
    assert row["reason"].startswith("table.not_allowed: ")
    assert "meta.query_audit" in row["tables"]


@pytest.mark.parametrize(
    ("dialect", "sql"),
    [
        # backticks, LIMIT offset,count and IFNULL
        (
            "mysql",
            "SELECT `name`, IFNULL(`phone`, '') AS p FROM `core`.`person` ORDER BY `name` LIMIT 0, 10",
        ),
        # :: casts and ILIKE
        (
            "postgres",
            "SELECT name::text AS name, phone::varchar AS p FROM core.person WHERE name ILIKE '%' LIMIT 10",
        ),
        # FETCH FIRST and NVL
        (
            "oracle",
            "SELECT name, NVL(phone, '-') AS p FROM core.person ORDER BY name FETCH FIRST 10 ROWS ONLY",
        ),
        # backticks and Hive's NVL
        ("hive", "SELECT `name`, nvl(phone, '') AS p FROM core.person LIMIT 10"),
    ],
)
def test_other_dialects_are_translated_and_masked(lake: Settings, dialect: str, sql: str) -> None:
    result = run_query(sql, analyst(lake), dialect=dialect, settings=lake)
    assert sorted(r[0] for r in result.rows) == sorted(["张*", "欧阳**", "李*"])
    assert sorted(r[1] for r in result.rows) == sorted(
        ["138****1234", "139****5432", "020-******21"]
    )


def test_unknown_dialect_is_refused(lake: Settings) -> None:
    with pytest.raises(QueryRefused) as refused:
        run_query("SELECT 1", analyst(lake), dialect="cobol", settings=lake)
    assert refused.value.reason == "dialect.unknown"


def test_roles_file_overrides_and_time_limit_stops_a_runaway(
    lake: Settings, tmp_path: Path
) -> None:
    roles = tmp_path / "roles.toml"
    roles.write_text(
        textwrap.dedent(
            """
            [roles.analyst]
            tables = ["core.person"]
            timeout_seconds = 0.3

            [roles.auditor]
            tables = ["meta.query_audit"]
            personal_data = { pi = "clear", sensitive_pi = "clear" }
            """
        ),
        encoding="utf-8",
    )
    settings = lake.model_copy(update={"roles_file": roles})
    slow = principal_for("analyst", "test-analyst", settings=settings)
    with pytest.raises(QueryRefused) as refused:
        run_query(
            "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t",
            slow,
            settings=settings,
        )
    assert refused.value.reason == "limit.time"
    with pytest.raises(QueryRefused) as narrower:
        run_query("SELECT name FROM core.licence", slow, settings=settings)
    assert narrower.value.reason == "table.not_allowed"
    auditor = principal_for("auditor", "test-auditor", settings=settings)
    audits = run_query(
        "SELECT count(*) FROM meta.query_audit WHERE reason LIKE 'limit.time%'",
        auditor,
        settings=settings,
    )
    assert audits.rows[0][0] >= 1


def test_unmasked_id_never_matches_a_probe(lake: Settings) -> None:
    result = run_query(
        f"SELECT count(*) FROM core.person WHERE id_number = '{ID_LI}'",
        analyst(lake),
        settings=lake,
    )
    assert result.rows == [(0,)]


def test_public_reads_marts_with_people_masked_and_entities_readable(lake: Settings) -> None:
    public = principal_for("public", "test-page", settings=lake)
    result = run_query(
        "SELECT subject_kind, subject_code, subject_name FROM mart.alerts ORDER BY subject_kind",
        public,
        settings=lake,
    )
    assert result.rows == [
        ("entity", USCC_YUEXIU, "广州越秀示例餐饮有限公司"),
        ("person", ID_OUYANG[:6] + "********" + ID_OUYANG[-4:], "欧阳**"),
    ]
    assert result.masked_columns == ["subject_code", "subject_name"]
    with pytest.raises(QueryRefused) as refused:
        run_query("SELECT count(*) FROM core.person", public, settings=lake)
    assert refused.value.reason == "table.not_allowed"
    assert "mart.*" in refused.value.message
    scoped = run_query("SELECT subject_name FROM mart.alerts", district(lake), settings=lake)
    assert scoped.rows == [("欧阳**",)]


def test_everyday_analyst_sql_is_allowed(lake: Settings) -> None:
    # The allow-list must not get in the way of ordinary analysis: operators sqlglot
    # models as functions (AND, OR, EXISTS), windows, FILTER, dates, intervals, lists.
    sql = """
        WITH people AS (
            SELECT residence_region_code AS district, birth_date, population_type, phone
            FROM core.person
            WHERE NOT is_deceased AND (population_type = 'registered' OR phone IS NOT NULL)
        )
        SELECT
            district,
            count(*) AS people,
            count(*) FILTER (WHERE population_type = 'floating') AS floating,
            round(avg(date_diff('year', birth_date, DATE '2026-11-01')), 1) AS mean_age,
            max(strftime(birth_date, '%Y')) AS youngest_cohort,
            sum(CASE WHEN year(birth_date) BETWEEN 1940 AND 1960 THEN 1 ELSE 0 END) AS elders,
            rank() OVER (ORDER BY count(*) DESC) AS rnk,
            EXISTS (SELECT 1 FROM core.licence l WHERE l.region_code = district) AS licensed,
            coalesce(max(date_trunc('month', birth_date) + INTERVAL 1 MONTH), DATE '2000-01-01') AS m,
            list_contains(list(population_type), 'registered') AS has_registered
        FROM people
        WHERE district IN ('440106', '440104')
        GROUP BY district
        HAVING count(*) > 0
        ORDER BY district
    """
    result = run_query(sql, analyst(lake), settings=lake)
    assert [r[0] for r in result.rows] == ["440104", "440106"]
    assert [r[1] for r in result.rows] == [1, 2]
    assert "youngest_cohort" in result.masked_columns  # derived from the masked birth date
    assert "people" not in result.masked_columns


def test_the_service_connection_is_locked_down(lake: Settings) -> None:
    # Defence in depth: even SQL that got past the rewrite could not read a file or
    # switch external access back on, on the connection the service runs queries on.
    import duckdb

    from warehouse.governed.service import _READERS

    run_query("SELECT 1 AS one", analyst(lake), settings=lake)  # the connection exists
    cursor = _READERS.cursor(lake, "2GB")
    try:
        with pytest.raises(duckdb.PermissionException):
            cursor.execute("SELECT * FROM read_csv('/etc/passwd')")
        with pytest.raises(duckdb.InvalidInputException, match="locked"):
            cursor.execute("SET enable_external_access = true")
        with pytest.raises(duckdb.Error, match=r"read-only|read only"):
            cursor.execute("DELETE FROM lake.core.person")
        assert cursor.execute("SELECT count(*) FROM lake.core.person").fetchone() == (3,)
    finally:
        cursor.close()


def test_no_lake_no_answer_and_no_lake_created(tmp_path: Path) -> None:
    from schemas.errors import LakeError
    from schemas.settings import Settings as Fresh

    settings = Fresh(home=tmp_path / "empty", roles_file=None, lake_catalog=None)
    principal = principal_for("analyst", "x", settings=settings)
    with pytest.raises(LakeError, match="citybrain lake init"):
        run_query("SELECT getenv('HOME')", principal, settings=settings)
    with pytest.raises(LakeError, match="citybrain lake init"):
        run_query("SELECT 1", principal, settings=settings)
    assert not (tmp_path / "empty" / "lake" / "catalog.sqlite").exists()


def test_queries_from_several_threads_are_all_answered_and_audited(
    lake: Settings, audit_reader: duckdb.DuckDBPyConnection
) -> None:
    # The HTTP endpoint answers from a thread pool: one kept connection, a cursor each.
    from concurrent.futures import ThreadPoolExecutor

    principal = analyst(lake)
    sqls = [f"SELECT name, {i} AS i FROM core.person WHERE sex_code = '1'" for i in range(8)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda sql: run_query(sql, principal, settings=lake), sqls))
    assert [sorted(r.rows) for r in results] == [
        sorted([("张*", i), ("欧阳**", i), ("李*", i)]) for i in range(8)
    ]
    assert len({r.query_id for r in results}) == 8
    for result in results:
        assert audit_row(audit_reader, result.query_id)["allowed"] is True


def test_a_repeated_query_is_audited_in_full_each_time(
    lake: Settings, audit_reader: duckdb.DuckDBPyConnection
) -> None:
    # The second run reuses the first one's plan; its audit row must not be thinner.
    sql = "SELECT phone FROM core.person WHERE sex_code = '1' ORDER BY phone"
    first, second = (run_query(sql, analyst(lake), settings=lake) for _ in range(2))
    assert first.rows == second.rows
    rows = [audit_row(audit_reader, r.query_id) for r in (first, second)]
    for row in rows:
        assert row["tables"] == ["core.person"]
        assert row["sensitive_columns"] == ["core.person.phone", "core.person.sex_code"]
        assert row["reason"] == "masked: core.person.phone"
