"""The generators derive Polars schema, DDL and dictionary from the models, and agree."""

from __future__ import annotations

import datetime as dt
import enum
import re
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

import duckdb
import polars as pl
import pytest
import sqlglot
from pydantic import Field
from sqlglot import exp

from schemas.errors import SpecError
from schemas.generate import (
    HISTORY_COLUMNS,
    PROVENANCE_COLUMNS,
    create_table,
    data_dictionary_markdown,
    ddl_sql,
    polars_schema,
    table_columns,
    table_name,
)
from schemas.records import TABLES
from schemas.records.base import CanonicalRecord, Geometry, JsonText, LakeType, Money
from schemas.standard import std


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


class Everything(CanonicalRecord):
    """Every kind of field the generators must map."""

    __table__: ClassVar[str] = "core.everything"
    __business_key__: ClassVar[tuple[str, ...]] = ("key",)
    __label__: ClassVar[str] = "全类型"
    __owner__: ClassVar[str] = "测试"
    __history__: ClassVar[bool] = True

    key: str = std("主键", "Key.", business_key=True)
    count: int = std("数量", "Int.")
    ratio: float | None = std("比例", "Float, optional.", default=None)
    amount: Money = std("金额", "Money.")
    maybe_amount: Money | None = std("可选金额", "Optional money.", default=None)
    plain_decimal: Decimal = std("小数", "Decimal without marker.")
    day: dt.date = std("日期", "Date.")
    at: dt.datetime | None = std("时间", "Datetime, optional.", default=None)
    flag: bool = std("标志", "Bool (a subclass of int in Python).")
    tags: list[str] = std("标签", "List.", default_factory=list)
    codes: tuple[str, ...] | None = std("代码", "Tuple as a list.", default=None)
    shape: Geometry = std("形状", "Geometry.")
    raw: JsonText | None = std("原文", "JSON, optional.", default=None)
    kind: Literal["a", "b"] = std("类别", "Literal of str.")
    level: Literal[1, 2, 3] = std("级别", "Literal of int.")
    colour: Colour = std("颜色", "StrEnum.")
    sized: Annotated[str, Field(min_length=2)] = std("定长", "Constrained str.")
    custom: Annotated[str, LakeType("UUID", "String")] = std("标识", "Custom LakeType.")


EXPECTED = {
    # name: (sql type, nullable, polars dtype)
    "key": ("VARCHAR", False, pl.String()),
    "count": ("BIGINT", False, pl.Int64()),
    "ratio": ("DOUBLE", True, pl.Float64()),
    "amount": ("DECIMAL(18,2)", False, pl.Decimal(18, 2)),
    "maybe_amount": ("DECIMAL(18,2)", True, pl.Decimal(18, 2)),
    "plain_decimal": ("DECIMAL(18,2)", False, pl.Decimal(18, 2)),
    "day": ("DATE", False, pl.Date()),
    "at": ("TIMESTAMP", True, pl.Datetime("us")),
    "flag": ("BOOLEAN", False, pl.Boolean()),
    "tags": ("VARCHAR[]", False, pl.List(pl.String())),
    "codes": ("VARCHAR[]", True, pl.List(pl.String())),
    "shape": ("GEOMETRY", False, pl.Binary()),
    "raw": ("JSON", True, pl.String()),
    "kind": ("VARCHAR", False, pl.String()),
    "level": ("BIGINT", False, pl.Int64()),
    "colour": ("VARCHAR", False, pl.String()),
    "sized": ("VARCHAR", False, pl.String()),
    "custom": ("UUID", False, pl.String()),
}


def test_every_python_type_maps_to_its_lake_and_polars_type() -> None:
    columns = {c.name: c for c in table_columns(Everything)}
    schema = polars_schema(Everything)
    assert list(schema) == list(EXPECTED)
    for name, (sql_type, nullable, dtype) in EXPECTED.items():
        assert (columns[name].sql_type, columns[name].nullable) == (sql_type, nullable), name
        assert schema[name] == dtype, name


def test_provenance_follows_the_fields_of_core_tables_only() -> None:
    names = [c.name for c in table_columns(Everything)]
    provenance = ["_feed", "_batch_id", "_source", "_source_row", "_record_hash", "_loaded_at"]
    assert names[-6:] == provenance
    history = [c.name for c in table_columns(Everything, history=True)]
    assert history == [*names, "_valid_from", "_valid_to", "_is_current"]
    # Every added column has a Chinese label too.
    assert all(re.search(r"[\u4e00-\u9fff]", c.standard.label) for c in PROVENANCE_COLUMNS)
    assert all(re.search(r"[\u4e00-\u9fff]", c.standard.label) for c in HISTORY_COLUMNS)
    for model in TABLES:
        names = {c.name for c in table_columns(model)}
        assert ("_batch_id" in names) is model.__history__, model.__table__


def test_added_columns_cannot_collide_with_fields() -> None:
    # core.licence and core.credit_permit have business valid_from/valid_to columns.
    for model in TABLES:
        if model.__history__:
            names = [c.name for c in table_columns(model, history=True)]
            assert len(names) == len(set(names)), model.__table__


def test_history_of_a_table_without_history_is_a_spec_error() -> None:
    meta = next(m for m in TABLES if not m.__history__)
    with pytest.raises(SpecError, match="keeps no history"):
        table_columns(meta, history=True)


@pytest.mark.parametrize(
    ("annotation", "match"),
    [(dict[str, int], "has no lake column type"), (int | str, "has no lake column type")],
)
def test_unmappable_type_names_model_and_field(annotation: Any, match: str) -> None:
    class Bad(CanonicalRecord):
        __table__: ClassVar[str] = "meta.bad"
        __business_key__: ClassVar[tuple[str, ...]] = ("x",)
        __label__: ClassVar[str] = "坏"
        __owner__: ClassVar[str] = "测试"

        x: annotation = std("坏字段", "Bad.")  # type: ignore[valid-type]

    with pytest.raises(SpecError, match=rf"Bad\.x: .*{match}"):
        table_columns(Bad)


def test_field_without_std_is_a_spec_error() -> None:
    class Bare(CanonicalRecord):
        __table__: ClassVar[str] = "meta.bare"
        __business_key__: ClassVar[tuple[str, ...]] = ("x",)
        __label__: ClassVar[str] = "裸"
        __owner__: ClassVar[str] = "测试"

        x: str

    with pytest.raises(SpecError, match=r"Bare\.x: declare the field with schemas\.standard\.std"):
        table_columns(Bare)


MODELS = [*TABLES, Everything]


@pytest.mark.parametrize("model", MODELS, ids=[m.__table__ for m in MODELS])
def test_generated_ddl_parses_and_says_what_the_model_says(model: type[CanonicalRecord]) -> None:
    statements = ddl_sql(model)
    assert statements[0].startswith("CREATE TABLE IF NOT EXISTS")
    parsed = [sqlglot.parse_one(s, read="duckdb") for s in statements]
    assert all(not isinstance(p, exp.Command) for p in parsed)
    creates = [p for p in parsed if isinstance(p, exp.Create)]
    assert len(creates) == (2 if model.__history__ else 1)
    for create, history in zip(creates, (False, True), strict=False):
        assert create.this.this.sql("duckdb") == table_name(model, history=history)
        found = [
            (
                d.name,
                exp.DataType.build(d.args["kind"].sql("duckdb"), dialect="duckdb"),
                not any(isinstance(c.kind, exp.NotNullColumnConstraint) for c in d.constraints),
            )
            for d in create.this.expressions
        ]
        wanted = [
            (c.name, exp.DataType.build(c.sql_type, dialect="duckdb"), c.nullable)
            for c in table_columns(model, history=history)
        ]
        assert found == wanted
    # No constraint DuckLake refuses.
    text = " ".join(statements).upper()
    assert "PRIMARY KEY" not in text
    assert "UNIQUE" not in text


@pytest.mark.parametrize("model", MODELS, ids=[m.__table__ for m in MODELS])
def test_ddl_runs_in_duckdb_and_reports_the_model_types(model: type[CanonicalRecord]) -> None:
    schema, name = model.__table__.split(".")
    con = duckdb.connect()
    con.execute(exp.Create(this=exp.Table(db=exp.to_identifier(schema)), kind="SCHEMA").sql())
    for statement in ddl_sql(model):
        con.execute(statement)
    rows = con.execute(
        "SELECT column_name, data_type, is_nullable = 'YES' FROM information_schema.columns"
        " WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, name],
    ).fetchall()
    assert rows == [(c.name, c.sql_type, c.nullable) for c in table_columns(model)]


# Arrow carries GEOMETRY as WKB and JSON as text; warehouse.frames converts these two.
ARROW_STAND_INS = {"GEOMETRY": "BLOB", "JSON": "VARCHAR", "UUID": "VARCHAR"}


@pytest.mark.parametrize("model", MODELS, ids=[m.__table__ for m in MODELS])
def test_polars_schema_matches_ddl_types(model: type[CanonicalRecord]) -> None:
    frame = pl.DataFrame(schema=polars_schema(model, lake=True))
    con = duckdb.connect()
    con.register("frame", frame)
    described = con.execute("DESCRIBE SELECT * FROM frame").fetchall()
    got = [(name, sql_type) for name, sql_type, *_ in described]
    wanted = [(c.name, ARROW_STAND_INS.get(c.sql_type, c.sql_type)) for c in table_columns(model)]
    assert got == wanted


def test_create_table_qualifies_with_the_lake() -> None:
    create = create_table(Everything, history=True, catalog="lake")
    assert create.sql("duckdb").startswith(
        "CREATE TABLE IF NOT EXISTS lake.core.everything_history (key TEXT NOT NULL,"
    )


def test_identifiers_are_quoted_where_duckdb_needs_it() -> None:
    # `at` is a keyword in DuckDB; the DDL must still run (meta.query_audit has one).
    con = duckdb.connect()
    con.execute("CREATE SCHEMA core")
    for statement in ddl_sql(Everything):
        con.execute(statement)
    assert con.execute('SELECT count("at") FROM core.everything').fetchone() == (0,)


def test_data_dictionary_markdown_has_every_table_and_column() -> None:
    text = data_dictionary_markdown(TABLES)
    for model in TABLES:
        section = text.split(f"## {model.__table__} — {model.__label__}\n")[1].split("\n## ")[0]
        assert f"- Owner 数据责任部门: {model.__owner__}" in section
        assert ", ".join(model.__business_key__) in section
        rows = [line for line in section.splitlines() if line.startswith("| `")]
        assert [r.split("`")[1] for r in rows] == [c.name for c in table_columns(model)]
        for row in rows:
            # 10 cells each, whatever the description contains.
            assert len(re.split(r"(?<!\\)\|", row)) == 12, row


def test_data_dictionary_row_carries_the_governance() -> None:
    text = data_dictionary_markdown([Everything, *TABLES])
    id_row = next(line for line in text.splitlines() if line.startswith("| `id_number` |"))
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", id_row)[1:-1]]
    assert cells == [
        "`id_number`",
        "公民身份号码",
        "VARCHAR",
        "yes",
        "citizen_id · GB 11643-1999",
        "general-4",
        "敏感个人信息 sensitive PI",
        "不予开放",
        "id_number",
        cells[-1],
    ]
    kind_row = next(line for line in text.splitlines() if line.startswith("| `kind` |"))
    assert "a / b" in kind_row  # allowed values of a Literal
