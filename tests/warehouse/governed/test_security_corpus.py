"""Hostile and careless queries against a real lake, for `analyst` and `district_analyst`.

Every query is either refused (with the expected reason) or answered masked; no answer
may contain a raw ID number, name or phone of the known people in any form (every value
returned is scanned, inside lists, structs and bytes too), a district analyst sees
nothing of another district, and every query, refused or not, has its row in
meta.query_audit with `allowed` telling which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from schemas.errors import QueryRefused
from tests.warehouse.governed.conftest import (
    ID_LI,
    ID_ZHANG,
    ID_ZHAO,
    SECRETS,
    TIANHE,
    YUEXIU,
    audit_row,
)
from warehouse.governed import principal_for, run_query

if TYPE_CHECKING:
    import duckdb

    from schemas.settings import Settings

MASKED = "masked"


@dataclass(frozen=True)
class Case:
    id: str
    sql: str
    analyst: str  # MASKED, or the refusal reason expected
    district: str | None = None  # same as analyst when None
    dialect: str | None = None
    rows: list[tuple] | None = None  # expected rows, when the answer itself matters


LAKE_FILES = "/tmp/does-not-matter/lake/data/core/person/*.parquet"

# One case per line, a table to read down: kept as written.
# fmt: off
CORPUS = [
    # --- files, network, extensions -------------------------------------------------------
    Case("read_csv", "SELECT * FROM read_csv('/etc/passwd')", "table.function"),
    Case("read_csv_auto", "SELECT * FROM read_csv_auto('/etc/passwd', header=false)", "table.function"),
    Case("read_parquet_lake_files", f"SELECT * FROM read_parquet('{LAKE_FILES}')", "table.function"),
    Case("read_json", "SELECT * FROM read_json_auto('/etc/hosts')", "table.function"),
    Case("read_text_scalar", "SELECT read_text('/etc/passwd')", "function.not_allowed"),
    Case("string_table_name", "SELECT * FROM '/etc/passwd'", "table.unknown"),
    Case("string_url_table", "SELECT * FROM 'https://example.org/people.parquet'", "table.unknown"),
    Case("glob", "SELECT * FROM glob('/**')", "table.function"),
    Case("attach", "ATTACH '/tmp/evil.duckdb' AS evil", "statement.not_select"),
    Case("attach_lake_writable", "ATTACH 'ducklake:sqlite:catalog.sqlite' AS w", "statement.not_select"),
    Case("detach", "DETACH lake", "statement.not_select"),
    Case("copy_out", "COPY (SELECT * FROM core.person) TO '/tmp/people.csv'", "statement.not_select"),
    Case("install", "INSTALL httpfs", "statement.not_select"),
    Case("load", "LOAD httpfs", "statement.not_select"),
    Case("export", "EXPORT DATABASE '/tmp/dump'", "sql.parse"),
    # --- settings, catalog, environment ---------------------------------------------------
    Case("pragma", "PRAGMA database_list", "statement.not_select"),
    Case("set", "SET enable_external_access = true", "statement.not_select"),
    Case("reset", "RESET lock_configuration", "statement.not_select"),
    Case("call", "CALL pragma_version()", "statement.not_select"),
    Case("getenv", "SELECT getenv('HOME')", "function.not_allowed"),
    Case("current_setting", "SELECT current_setting('enable_external_access')", "function.not_allowed"),
    Case("getvariable", "SELECT getvariable('x')", "function.not_allowed"),
    Case("duckdb_settings", "SELECT * FROM duckdb_settings()", "table.function"),
    Case("duckdb_tables", "SELECT * FROM duckdb_tables()", "table.function"),
    Case("pragma_table_info", "SELECT * FROM pragma_table_info('core.person')", "table.function"),
    Case("ducklake_snapshots", "SELECT * FROM ducklake_snapshots('lake')", "table.function"),
    Case("information_schema", "SELECT * FROM information_schema.tables", "table.unknown"),
    Case("metadata_catalog", "SELECT * FROM __ducklake_metadata_lake.main.ducklake_table", "table.unknown"),
    Case("system_catalog", "SELECT * FROM system.main.duckdb_settings", "table.unknown"),
    Case("query_function", "SELECT * FROM query('SELECT * FROM lake.core.person')", "table.function"),
    Case("query_scalar", "SELECT query('SELECT 1')", "function.not_allowed"),
    Case("query_table", "SELECT * FROM query_table('lake.core.person')", "table.function"),
    Case("version", "SELECT version()", "function.not_allowed"),
    Case("nextval", "SELECT nextval('s')", "function.not_allowed"),
    Case("columns_regex", "SELECT COLUMNS('.*') FROM core.person", "function.not_allowed"),
    # --- more than one statement, or not a SELECT -----------------------------------------
    Case("two_statements", "SELECT 1; DROP TABLE core.person", "statement.multiple"),
    Case("comment_hides_statement", "SELECT name FROM core.person --\n; ATTACH 'x' AS y", "statement.multiple"),
    Case("comment_breakout", "SELECT name FROM core.person -- */ ATTACH 'x' AS y", MASKED),
    Case("block_comment", "SELECT name /* ; SELECT id_number FROM core.person */ FROM core.person", MASKED),
    Case("select_into", "SELECT * INTO stolen FROM core.person", "clause.not_allowed"),
    Case("ctas", "CREATE TABLE stolen AS SELECT * FROM core.person", "statement.not_select"),
    Case("insert_audit", "INSERT INTO meta.query_audit (query_id) VALUES ('x')", "statement.not_select"),
    Case("delete_audit", "DELETE FROM meta.query_audit", "statement.not_select"),
    Case("cte_dml", "WITH x AS (DELETE FROM core.person RETURNING *) SELECT * FROM x", "statement.not_select"),
    Case("describe", "DESCRIBE core.person", "statement.not_select"),
    Case("summarize", "SUMMARIZE core.person", "statement.not_select"),
    Case("pivot", "PIVOT core.person ON sex_code", "statement.not_select"),
    Case("time_travel", "SELECT * FROM core.person AT (VERSION => 1)", "table.modifier"),
    Case("sample", "SELECT * FROM core.person USING SAMPLE 1", "clause.not_allowed"),
    Case("lateral", "SELECT x.i FROM core.person p, LATERAL (SELECT p.id_number AS i) x", "clause.not_allowed"),
    Case("lateral_unnest", "SELECT * FROM core.person, unnest([1, 2])", "function.not_allowed"),
    Case("parameter", "SELECT name FROM core.person WHERE id_number = ?", "sql.parameter"),
    # --- tables the role may not read -----------------------------------------------------
    Case("read_audit", "SELECT * FROM meta.query_audit", "table.not_allowed"),
    Case("read_quarantine", "SELECT raw_record FROM meta.quarantine", "table.not_allowed"),
    Case("audit_via_union", "SELECT name FROM core.person UNION SELECT sql FROM meta.query_audit", "table.not_allowed"),
    Case("audit_via_cte", "WITH a AS (SELECT * FROM meta.query_audit) SELECT count(*) FROM a", "table.not_allowed"),
    Case("whole_row", "SELECT person FROM core.person", "column.unresolved"),
    Case("deep_nesting", "SELECT " + "(" * 3000 + "1" + ")" * 3000, "sql.unsupported"),
    Case("error_message_echo", "SELECT CAST(name AS INTEGER) FROM core.person", "query.error"),
    Case("error_message_id", "SELECT CAST(id_number AS BIGINT) FROM core.person", "query.error"),
    # --- personal columns every which way: masked, never raw -----------------------------
    Case("star", "SELECT * FROM core.person", MASKED),
    Case("star_lake_qualified", "SELECT * FROM lake.core.person", MASKED),
    Case("unqualified_table", "SELECT id_number, name, phone FROM person", MASKED),
    Case("star_exclude", "SELECT * EXCLUDE (sex_code) FROM core.person", MASKED),
    Case("star_replace", "SELECT * REPLACE (upper(name) AS name) FROM core.person", MASKED),
    Case("aliases", "SELECT p.id_number AS x, p.name AS y, p.phone AS z FROM core.person AS p", MASKED),
    Case("upper_lower", "SELECT upper(name), lower(id_number), upper(phone) FROM core.person", MASKED),
    Case("concat", "SELECT name || '', id_number || '', concat(phone, '') FROM core.person", MASKED),
    Case("casts", "SELECT CAST(id_number AS BLOB), phone::VARCHAR(40), TRY_CAST(phone AS BIGINT) FROM core.person", MASKED),
    Case("string_agg", "SELECT string_agg(id_number, ','), string_agg(name, '') FROM core.person", MASKED),
    Case("list_agg", "SELECT list(name), array_agg(phone), list(id_number ORDER BY id_number) FROM core.person", MASKED),
    Case("struct", "SELECT {'id': id_number, 'n': name, 'p': phone} AS s FROM core.person", MASKED),
    Case("json_object", "SELECT json_object('id', id_number, 'name', name) FROM core.person", MASKED),
    Case("regexp_extract", r"SELECT regexp_extract(id_number, '^(\d{6})(\d{8})', 2) FROM core.person", MASKED),
    Case("regexp_replace", "SELECT regexp_replace(name, '\\*', '') FROM core.person", MASKED),
    Case("substr_tricks", "SELECT substr(id_number, 1, 18), substr(id_number, 7, 8), right(id_number, 12), reverse(id_number) FROM core.person", MASKED),
    Case("md5", "SELECT md5(id_number), md5(phone) FROM core.person", MASKED),
    Case("lambda", "SELECT list_transform([name, phone], x -> upper(x)) FROM core.person", MASKED),
    Case("subquery", "SELECT x FROM (SELECT id_number AS x FROM core.person) AS s", MASKED),
    Case("scalar_subquery", "SELECT (SELECT max(id_number) FROM core.person) AS m", MASKED),
    Case("cte", "WITH x AS (SELECT id_number, name FROM core.person) SELECT * FROM x", MASKED),
    Case("cte_shadows_table", "WITH person AS (SELECT * FROM core.person) SELECT id_number, name FROM person", MASKED),
    Case("cte_shadow_then_qualified", "WITH person AS (SELECT 'decoy' AS id_number) SELECT p.id_number FROM core.person p", MASKED),
    Case("history_table", "SELECT * FROM core.person_history", MASKED),
    Case("legal_rep", "SELECT legal_rep_name, legal_rep_id_number FROM core.legal_entity", MASKED),
    Case("licence_holders", "SELECT holder_name, holder_code FROM core.licence", MASKED),
    Case("quoted_upper_case", 'SELECT "ID_NUMBER", "NAME" FROM "core"."PERSON"', MASKED),
    # --- probing raw values through predicates, order and grouping ------------------------
    Case("probe_equals", f"SELECT count(*) FROM core.person WHERE id_number = '{ID_ZHANG}'", MASKED, rows=[(0,)]),
    Case("probe_like_prefix", "SELECT count(*) FROM core.person WHERE id_number LIKE '1101051949%'", MASKED, rows=[(0,)]),
    Case("probe_substr", "SELECT count(*) FROM core.person WHERE substr(id_number, 7, 4) = '1949'", MASKED, rows=[(0,)]),
    Case("probe_name", "SELECT count(*) FROM core.person WHERE name = '张三'", MASKED, rows=[(0,)]),
    Case("probe_in_subquery", f"SELECT count(*) FROM core.person WHERE id_number IN (SELECT '{ID_LI}')", MASKED, rows=[(0,)]),
    Case("order_by_id", "SELECT name FROM core.person ORDER BY id_number", MASKED),
    Case("order_by_birth_digits", "SELECT row_number() OVER (ORDER BY substr(id_number, 7, 8)) AS r, name FROM core.person", MASKED),
    Case("and_or_probe", f"SELECT count(*) FROM core.person WHERE phone IS NOT NULL AND (id_number = '{ID_ZHANG}' OR name = '张三')", MASKED, rows=[(0,)]),
    Case("group_by_id", "SELECT id_number, count(*) FROM core.person GROUP BY id_number", MASKED),
    Case("join_on_id", "SELECT p.name, c.subject_name FROM core.person p JOIN core.credit_penalty c ON c.subject_code = p.id_number", MASKED, "scope.no_district"),
    Case("time_bomb_cross_join", "SELECT count(*) FROM core.person a, core.person b, core.person c, core.person d, core.person e", MASKED),
    # --- other districts ------------------------------------------------------------------
    Case("other_district_where", f"SELECT name, phone FROM core.person WHERE residence_region_code = '{YUEXIU}'", MASKED),
    Case("other_district_union", f"SELECT name FROM core.person WHERE residence_region_code = '{TIANHE}' UNION ALL SELECT name FROM core.person WHERE residence_region_code = '{YUEXIU}'", MASKED),
    Case("other_district_subquery", f"SELECT (SELECT max(phone) FROM core.person p2 WHERE p2.residence_region_code = '{YUEXIU}') AS p", MASKED),
    Case("other_district_join", f"SELECT e.name, e.legal_rep_name FROM core.legal_entity e JOIN core.person p ON true WHERE e.region_code = '{YUEXIU}'", MASKED),
    Case("penalties_no_district", "SELECT subject_name FROM core.credit_penalty", MASKED, "scope.no_district"),
    Case("areas_no_district", "SELECT name FROM core.area", MASKED, "scope.no_district"),
    # --- other dialects -------------------------------------------------------------------
    Case("mysql_backticks", "SELECT `id_number`, `name` FROM `core`.`person` LIMIT 0, 5", MASKED, dialect="mysql"),
    Case("mysql_load_file", "SELECT LOAD_FILE('/etc/passwd')", "function.not_allowed", dialect="mysql"),
    Case("mysql_into_outfile", "SELECT * FROM core.person INTO OUTFILE '/tmp/p.txt'", "sql.parse", dialect="mysql"),
    Case("postgres_casts", "SELECT id_number::text, name::varchar FROM core.person", MASKED, dialect="postgres"),
    Case("postgres_read_file", "SELECT pg_read_file('/etc/passwd')", "function.not_allowed", dialect="postgres"),
    Case("oracle_rownum", "SELECT id_number FROM core.person WHERE ROWNUM <= 5", "column.unknown", dialect="oracle"),
    Case("oracle_fetch_first", "SELECT id_number, name FROM core.person FETCH FIRST 5 ROWS ONLY", MASKED, dialect="oracle"),
    Case("hive_reflect", "SELECT reflect('java.lang.System', 'getenv', 'HOME')", "function.not_allowed", dialect="hive"),
    Case("hive_backticks", "SELECT `name`, concat(`id_number`, '') FROM core.person", MASKED, dialect="hive"),
]
# fmt: on

OTHER_DISTRICT = ("李*", "020-******21", ID_LI[:6], ID_ZHAO[:6], "赵*", "越秀")
"""Masked values of 越秀 rows: a 天河 district analyst must not see even these."""


def _flatten(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, bytes | bytearray):
        return [bytes(value).decode("utf-8", errors="replace")]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_flatten(k), *_flatten(v))]
    if isinstance(value, list | tuple | set):
        return [s for item in value for s in _flatten(item)]
    return [str(value)]


def assert_no_leak(rows: list[tuple], forbidden: tuple[str, ...]) -> None:
    texts = [text for row in rows for text in _flatten(row)]
    leaked = sorted({f for f in forbidden for text in texts if f in text})
    assert not leaked, f"leaked {leaked} in {rows!r}"


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 40
    assert len({c.id for c in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("role", ["analyst", "district_analyst"])
@pytest.mark.parametrize("case", CORPUS, ids=[c.id for c in CORPUS])
def test_hostile_query(
    lake: Settings, audit_reader: duckdb.DuckDBPyConnection, case: Case, role: str
) -> None:
    name = f"corpus:{case.id}:{role}"
    district = TIANHE if role == "district_analyst" else None
    principal = principal_for(role, name, district, settings=lake)
    expected = case.district if role == "district_analyst" and case.district else case.analyst
    if expected == MASKED:
        result = run_query(case.sql, principal, dialect=case.dialect, settings=lake)
        assert_no_leak(result.rows, SECRETS)
        if role == "district_analyst":
            assert_no_leak(result.rows, OTHER_DISTRICT)
        if case.rows is not None:
            assert result.rows == case.rows
        row = audit_row(audit_reader, query_id=result.query_id)
        assert row["allowed"] is True
        assert row["rows_returned"] == len(result.rows)
    else:
        with pytest.raises(QueryRefused) as refused:
            run_query(case.sql, principal, dialect=case.dialect, settings=lake)
        assert refused.value.reason == expected, str(refused.value)
        assert refused.value.message  # says what is allowed instead
        assert_no_leak([(refused.value.message,)], SECRETS)
        row = audit_row(audit_reader, principal=name)
        assert row["allowed"] is False
        assert row["reason"].startswith(expected + ":")
    assert row["sql"] == case.sql
    assert row["role"] == role
