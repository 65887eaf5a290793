"""clean_text and collapse_spaces: the normalization every check starts from."""

from __future__ import annotations

import random
import unicodedata

import polars as pl
import pytest

from schemas.codes import text
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


# Unicode White_Space: what Polars' strip_chars() removes.
_WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
_WHITE_SPACE += "\u2028\u2029\u202f\u205f\u3000"


def _python_clean(value: str) -> str | None:
    """clean_text's contract in plain Python: the oracle for the fast path below."""
    table = dict.fromkeys(map(ord, text._ZERO_WIDTH_CHARS)) | dict.fromkeys(
        map(ord, text._ODD_SPACE_CHARS), " "
    )
    # Python's strip() also takes U+001C-U+001F, which Polars' (Unicode White_Space) keeps.
    fixed = unicodedata.normalize("NFKC", value).translate(table).strip(_WHITE_SPACE)
    return None if fixed in NULL_SPELLINGS else fixed


def test_clean_text_skips_nfkc_only_where_it_changes_nothing() -> None:
    # clean_text runs NFKC only on values holding a character NFKC (or the space fixes)
    # could change. Every kind of such character, alone and inside Chinese text, must
    # come out exactly as a full NFKC of the value would make it.
    import random

    rng = random.Random(7)
    tricky = [
        "１",
        "Ｘ",
        "\u3000",
        "\u00a0",
        "\u200b",
        "\ufeff",
        "\u2f00",
        "\uf900",
        "\u2460",
        "e\u0301",
        "\u1100\u1161",
        "\uac00\u11a8",
        "\u212b",
        "ﬁ",
        "㈱",
        "\u1680",
        "\u2028",
        "\u2003",
        "\u202f",
        "\u205f",
        "\u2060",
        "\u200d",
        "\x85",
        "\t",
        "\x1f",
        "\U0002f800",
        "ｶ",
        "\u0345",
    ]
    plain = ["张", "三", "广", "州", "市", "1", "a", " ", "-", "号", "路"]
    values = []
    for _ in range(3000):
        parts = [rng.choice(plain) for _ in range(rng.randint(0, 6))]
        if rng.random() < 0.5:
            parts.insert(rng.randint(0, len(parts)), rng.choice(tricky))
        values.append("".join(parts))
    got = pl.DataFrame({"x": values}).select(clean_text(pl.col("x")))["x"].to_list()
    assert got == [_python_clean(v) for v in values]


def _full_scan_class() -> set[str]:
    """The unstable characters by the definition, every code point of planes 0-2 tested."""
    unstable = set(text._ZERO_WIDTH_CHARS + text._ODD_SPACE_CHARS)
    unstable.update(map(chr, [*range(0x1161, 0x1176), *range(0x11A8, 0x11C3)]))
    for code in range(0x80, 0x30000):
        char = chr(code)
        if unicodedata.combining(char) or unicodedata.normalize("NFKC", char) != char:
            unstable.add(char)
        decomposition = unicodedata.decomposition(char).split()
        if len(decomposition) == 2 and not decomposition[0].startswith("<"):
            unstable.add(chr(int(decomposition[1], 16)))
    return unstable


def test_unstable_class_is_the_full_scan():
    # The class skips blocks it takes to be stable and NFKC-tests only decomposable
    # characters; both shortcuts must give exactly what testing every code point gives.
    expected = _full_scan_class()
    in_class = pl.Series([chr(c) for c in range(0x80, 0x30000) if not 0xD800 <= c < 0xE000])
    found = set(in_class.filter(in_class.str.contains(text._unstable_class())).to_list())
    assert found == expected - {chr(c) for c in range(0xD800, 0xE000)}
    assert {"１", "\u3000", "\u0301", "\u2f00", "\uf900"} <= found


def test_collapse_spaces_puts_each_value_back_on_its_row():
    # Only the values with whitespace are collapsed, then gathered back: a frame mixing
    # them with untouched values and nulls must keep every row in place.
    rng = random.Random(5)
    names = [
        "张三",
        "张 三",
        "欧 阳 娜 娜",
        "王 Tom",
        "John  Smith",
        "李\u3000四",
        None,
        "阿依古丽·买买提",
    ]
    values = [rng.choice(names) for _ in range(2000)]
    expected = {
        "张三": "张三",
        "张 三": "张三",
        "欧 阳 娜 娜": "欧阳娜娜",
        "王 Tom": "王 Tom",
        "John  Smith": "John Smith",
        "李\u3000四": "李四",
        None: None,
        "阿依古丽·买买提": "阿依古丽·买买提",
    }
    frame = pl.DataFrame({"x": values}, schema={"x": pl.String})
    out = frame.select(collapse_spaces(pl.col("x")))["x"].to_list()
    assert out == [expected[v] for v in values]
    lazy = frame.lazy().with_columns(collapse_spaces(pl.col("x")).alias("y")).collect()
    assert lazy["y"].to_list() == out
