"""Versions: a record hash that tells records apart field by field, pinned value texts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from transforms.versions import record_hash, value_text

SCHEMA = pl.Schema(
    {
        "s": pl.String,
        "t": pl.String,
        "items": pl.List(pl.String),
        "wkb": pl.Binary,
        "amount": pl.Decimal(18, 2),
        "day": pl.Date,
        "at": pl.Datetime("us"),
        "share": pl.Float64,
        "flag": pl.Boolean,
    }
)
BASE: dict[str, Any] = {
    "s": "a",
    "t": "b",
    "items": ["x", "y"],
    "wkb": b"\x01\x02",
    "amount": Decimal("1.00"),
    "day": date(2026, 1, 1),
    "at": datetime(2026, 1, 1, 9, 30),
    "share": 0.5,
    "flag": True,
}
# Each differs from BASE, and from each other, in a way one joined text could blur.
VARIANTS: list[dict[str, Any]] = [
    {"s": "b", "t": "a"},  # values trade fields
    {"s": "a", "t": "a"},
    {"s": "b", "t": "b"},
    {"s": "ab", "t": ""},  # a value's end moves to the next field
    {"s": "", "t": "ab"},
    {"s": "a\x1f:b", "t": None},  # the old separator and NULL marker inside values
    {"s": "a", "t": "\x1f!"},
    {"s": None},
    {"s": ""},
    {"s": "NULL"},
    {"s": "None"},
    {"items": None},
    {"items": []},
    {"items": [""]},
    {"items": ["", ""]},
    {"items": [None]},
    {"items": ["x,y"]},
    {"items": ["x\x1f,y"]},
    {"items": ["y", "x"]},
    {"wkb": None},
    {"wkb": b""},
    {"wkb": b"\x00"},
    {"wkb": b"0102"},  # the old hex text of BASE's WKB, as bytes
    {"amount": Decimal("0.01")},
    {"amount": None},
    {"day": date(2026, 1, 2)},
    {"day": None},
    {"at": datetime(2026, 1, 1, 9, 30, 0, 1)},
    {"share": -0.5},
    {"share": None},
    {"flag": False},
    {"flag": None},
    {key: None for key in BASE},
]


def _rows() -> pl.DataFrame:
    return pl.DataFrame(
        [BASE] + [BASE | change for change in VARIANTS], schema=SCHEMA, orient="row"
    )


def test_records_that_one_joined_text_could_blur_all_hash_differently() -> None:
    rows = _rows()
    hashes = rows.select(record_hash(SCHEMA)).to_series()
    assert hashes.str.contains(r"^\d{39}$").all()
    assert hashes.n_unique() == rows.height


def test_equal_records_hash_equally_however_the_frame_is_split_or_run() -> None:
    rows = _rows()
    doubled = pl.concat([rows, rows.reverse()])  # two chunks
    eager = doubled.select(record_hash(SCHEMA)).to_series()
    streamed = doubled.lazy().select(record_hash(SCHEMA)).collect(engine="streaming").to_series()
    assert eager.equals(streamed)
    assert eager.head(rows.height).equals(eager.tail(rows.height).reverse())


def test_a_null_field_adds_nothing_so_an_added_empty_column_keeps_the_hash() -> None:
    # A column the standard appends reads NULL in every row already loaded: the hash of
    # those rows must not change, or the next delivery would re-version every key.
    rows = _rows()
    widened = pl.Schema({**SCHEMA, "new": pl.String})
    before = rows.select(record_hash(SCHEMA)).to_series()
    after = rows.with_columns(pl.lit(None, pl.String).alias("new")).select(record_hash(widened))
    assert before.equals(after.to_series())


@pytest.mark.parametrize(
    ("value", "dtype", "text"),
    [
        # What the hash reads for the types a standard may hold: if a Polars upgrade spells
        # one differently, every row holding it would look changed on the next delivery.
        (0.1, pl.Float64, "0.1"),
        (116.397123, pl.Float64, "116.397123"),
        (-0.0, pl.Float64, "-0.0"),
        (1e-7, pl.Float64, "1e-7"),
        (True, pl.Boolean, "true"),
        (-42, pl.Int64, "-42"),
        (Decimal("-1.50"), pl.Decimal(18, 2), "-150"),
        (date(1969, 12, 31), pl.Date, "-1"),
        (datetime(1970, 1, 1, 0, 0, 1), pl.Datetime("us"), "1000000"),
        (["a", None, "\x1f,"], pl.List(pl.String), "a\x1f,\x1f!\x1f,\x1f=,\x1f,"),
        ([b"\x01"], pl.List(pl.Binary), "01\x1f,"),
    ],
)
def test_the_text_a_value_hashes_as_is_pinned(value: object, dtype: pl.DataType, text: str) -> None:
    column = pl.Series("v", [value], dtype=dtype)
    assert pl.select(value_text(pl.lit(column), dtype)).item() == text
