"""A real DuckLake per test, tiny hand-written core/meta rows, and a pinned clock.

``put`` fills what a test does not care about: the required columns of a table with
plain defaults, and the lake's provenance (and SCD2) columns, so each test names only
the values its mart reads.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest
from sqlglot import exp

from schemas.generate import table_columns, table_name
from schemas.records import table
from warehouse.lake import attach, init_lake
from warehouse.marts import build_marts

if TYPE_CHECKING:
    from collections.abc import Iterator

    import duckdb

    from schemas.settings import Settings

AS_OF = date(2026, 6, 15)
BUILT_AT = datetime(2026, 6, 15, 4, 0)  # naive UTC, noon in the city
LOADED_AT = datetime(2026, 6, 1, 1, 0)

DEFAULTS: dict[str, dict[str, Any]] = {
    "core.person": {
        "name": "张三",
        "sex_code": "1",
        "birth_date": date(1980, 1, 1),
        "population_type": "registered",
        "is_deceased": False,
        "residence_region_code": "440106",
        "source_updated_at": datetime(2026, 1, 1),
    },
    "core.legal_entity": {
        "name": "广州某某有限公司",
        "status": "ACTIVE",
        "region_code": "440106",
        "industry_section": "I",
    },
    "core.licence": {
        "licence_type_code": "11100000000013338W001",
        "licence_name": "食品经营许可证",
        "holder_name": "广州某某有限公司",
        "holder_code_type": "uscc",
        "is_perpetual": False,
        "status": "VALID",
        "valid_from": date(2025, 1, 1),
        "valid_to": date(2028, 1, 1),
        "region_code": "440106",
    },
    "core.credit_list": {
        "list_type": "black",
        "listed_at": date(2026, 1, 10),
        "subject_name": "广州某某有限公司",
    },
    "core.credit_penalty": {
        "authority_code": "11440106MB0000000X",
        "subject_name": "广州某某有限公司",
        "subject_code_type": "uscc",
        "penalty_types": ["罚款"],
    },
    "core.area": {"geometry": "POLYGON((113 23, 113.1 23, 113.1 23.1, 113 23.1, 113 23))"},
    "meta.batches": {
        "source": "test",
        "rows_quarantined": 0,
        "rows_duplicate": 0,
        "status": "loaded",
    },
    "meta.quarantine": {"source": "test", "raw_record": "{}"},
}


def _provenance(row: dict[str, Any], i: int) -> dict[str, Any]:
    return {
        "_version_at": row.get("source_updated_at") or LOADED_AT,
        "_feed": "test",
        "_batch_id": "test-batch",
        "_source": "test",
        "_source_row": i,
        "_record_hash": f"h{i}",
        "_loaded_at": LOADED_AT,
    }


def put(
    con: duckdb.DuckDBPyConnection, name: str, rows: list[dict[str, Any]], *, history: bool = False
) -> None:
    """Insert ``rows`` into ``lake.<name>`` (or its ``_history`` twin), defaults filled in."""
    model = table(name)
    columns = table_columns(model, history=history)
    full = []
    for i, row in enumerate(rows, start=1):
        values = {**DEFAULTS.get(name, {}), **row}
        if name == "core.person":
            values.setdefault("person_key", f"key-{values['id_number']}")
        if model.__history__:
            values = {**_provenance(values, i), **values}
        if history:
            values = {
                "_valid_from": values["_version_at"],
                "_valid_to": None,
                "_is_current": True,
                **values,
            }
        full.append({c.name: values.get(c.name) for c in columns})
    frame = pl.DataFrame(full, infer_schema_length=None)
    con.register("frame", frame)
    selected = [
        exp.func("ST_GeomFromText", exp.column(c.name)).as_(c.name)
        if c.sql_type == "GEOMETRY"
        else exp.column(c.name)
        for c in columns
    ]
    target = _target(table_name(model, history=history))
    insert = exp.insert(
        exp.select(*selected).from_("frame"), target, columns=[c.name for c in columns]
    )
    con.execute(insert.sql("duckdb"))
    con.unregister("frame")


def put_core(con: duckdb.DuckDBPyConnection, name: str, rows: list[dict[str, Any]]) -> None:
    """Current rows into a core table and, as current versions, into its history."""
    put(con, name, rows)
    put(con, name, rows, history=True)


def _target(qualified: str) -> exp.Table:
    schema, name = qualified.split(".")
    return exp.table_(name, db=schema, catalog="lake")


def read(con: duckdb.DuckDBPyConnection, name: str) -> pl.DataFrame:
    """A table's rows (a mart's in the order its SQL file sorts them)."""
    return con.execute(exp.select("*").from_(_target(name)).sql("duckdb")).pl()


def build(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, int]:
    return build_marts(con, settings, as_of=AS_OF, built_at=BUILT_AT)


@pytest.fixture
def con(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """An empty lake of the whole standard, attached with the spatial functions."""
    con = attach(settings, spatial=True)
    init_lake(settings, con=con)
    yield con
    con.close()
