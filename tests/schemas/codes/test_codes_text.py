"""clean_text and collapse_spaces: the normalization every check starts from."""

from __future__ import annotations

import polars as pl
import pytest

from schemas.codes.text import NULL_SPELLINGS, clean_text, collapse_spaces


def clean(values):
    frame = pl.DataFrame({"x": values}, schema={"x": pl.String})
    return frame.select(clean_text(pl.col("x")))["x"].to_list()


@pytest.mark.parametrize("spelling", NULL_SPELLINGS)
def test_null_spellings_become_null(spelling):
    assert clean([spelling, f" {spelling}\u3000"]) == [None, None]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("１２３ＡＢＣ", "123ABC"),  # full-width digits and letters
        ("（有限公司）", "(有限公司)"),  # full-width brackets, as names differ by delivery
        ("\u3000张三\u3000", "张三"),  # ideographic spaces around
        ("a\u00a0b", "a b"),  # NBSP inside
        ("91\u200b110000", "91110000"),  # zero-width space (copy-paste from the web)
        ("\ufeff91110000", "91110000"),  # BOM at the start of a file's first field
        ("a\u2003b", "a b"),  # em space: one kind of space after cleaning
        ("／", None),  # full-width slash is the null spelling "/"
        ("－", None),  # full-width hyphen-minus is "-"
        ("NULL值", "NULL值"),  # only whole values are null spellings
        ("Null", "Null"),  # the list is exact, not case-folded
        ("ascii stays", "ascii stays"),
    ],
)
def test_clean_text(raw, expected):
    assert clean([raw]) == [expected]


def test_mixed_chunk_normalizes_only_what_needs_it():
    # NFKC runs only on non-ASCII rows; a frame mixing both must still be all clean.
    values = ["ABC"] * 1000 + ["ＡＢＣ"] + ["abc "] * 1000
    assert set(clean(values)) == {"ABC", "abc"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("张 三", "张三"),
        ("欧 阳 娜 娜", "欧阳娜娜"),  # every gap, including the ones a single pass skips
        ("John  Smith", "John Smith"),
        ("王 Tom", "王 Tom"),
        ("阿依古丽·买买提", "阿依古丽·买买提"),
        (None, None),
    ],
)
def test_collapse_spaces(raw, expected):
    frame = pl.DataFrame({"x": [raw]}, schema={"x": pl.String})
    assert frame.select(collapse_spaces(pl.col("x"))).item() == expected
