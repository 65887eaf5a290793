"""Rows typed by polars_schema go into the lake and come back unchanged."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from schemas.generate import polars_schema, table_columns, table_name
from schemas.records import TABLES
from warehouse.frames import insert_frame, read_frame
from warehouse.lake import attach, init_lake
from warehouse.retry import transaction

if TYPE_CHECKING:
    from collections.abc import Iterator

    from schemas.records.base import CanonicalRecord

# POINT(116.397 39.909) as little-endian WKB.
POINT_WKB = bytes.fromhex("0101000000c3f5285c8f195d40c520b07268f44340")


def _value(dtype: pl.DataType, sql_type: str, i: int) -> Any:
    # Values that expose lossy conversions: microseconds, cents, a leap day, non-ASCII.
    if sql_type == "GEOMETRY":
        return POINT_WKB
    if sql_type == "JSON":
        return '{"XM":"张三","n":' + str(i) + "}"
    if isinstance(dtype, pl.List):
        return ["警告", f"罚款{i}"]
    if isinstance(dtype, pl.Decimal):
        return Decimal("1234567890123456.78") if i == 0 else Decimal("-0.01")
    if isinstance(dtype, pl.Datetime):
        return dt.datetime(2024, 2, 29, 23, 59, 59, 123456) + dt.timedelta(days=i)
    samples = {
        pl.String: f"统一社会信用代码{i}",
        pl.Int64: 2**40 + i,
        pl.Float64: 116.397128 + i,
        pl.Boolean: i % 2 == 0,
        pl.Date: dt.date(2024, 2, 29) + dt.timedelta(days=i),
    }
    return samples[type(dtype)]


def sample_frame(model: type[CanonicalRecord], *, history: bool = False) -> pl.DataFrame:
    """Two rows: every column filled, then every nullable column NULL."""
    schema = polars_schema(model, lake=True, history=history)
    columns = {c.name: c for c in table_columns(model, history=history)}
    rows = [
        {name: _value(dtype, columns[name].sql_type, 0) for name, dtype in schema.items()},
        {
            name: None if columns[name].nullable else _value(dtype, columns[name].sql_type, 1)
            for name, dtype in schema.items()
        },
    ]
    return pl.DataFrame(rows, schema=schema, orient="row")


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    from schemas.settings import Settings

    settings = Settings(
        home=tmp_path_factory.mktemp("lake"), lake_catalog=None, lake_data_path=None
    )
    init_lake(settings)
    con = attach(settings)
    yield con
    con.close()


CASES = [(m, h) for m in TABLES for h in ((False, True) if m.__history__ else (False,))]


@pytest.mark.parametrize(
    ("model", "history"), CASES, ids=[table_name(m, history=h) for m, h in CASES]
)
def test_row_round_trips_through_the_lake(
    lake: duckdb.DuckDBPyConnection, model: type[CanonicalRecord], history: bool
) -> None:
    frame = sample_frame(model, history=history)
    with transaction(lake):
        assert insert_frame(lake, model, frame, history=history) == 2
    back = read_frame(lake, model, history=history)
    # No cast on the way back: the lake's types must map to exactly these dtypes.
    assert back.schema == frame.schema
    assert_frame_equal(back, frame, check_row_order=False)


def test_null_in_a_required_column_is_refused(lake: duckdb.DuckDBPyConnection) -> None:
    from schemas.records import table

    model = table("meta.watermarks")
    frame = sample_frame(model).with_columns(pl.lit(None, pl.String).alias("cursor_value"))
    with (
        pytest.raises(duckdb.ConstraintException, match="NOT NULL constraint failed"),
        transaction(lake),
    ):
        insert_frame(lake, model, frame)
