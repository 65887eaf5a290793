"""The checks' shortcuts give the checks' own answers: ``cleaned=True`` on text that
clean_text produced, and the fast mobile twin on every value it accepts.

Inputs are generated deterministically from a fixed seed, with the dirt departments
deliver (full-width digits, ideographic and odd spaces, zero-width characters, null
spellings, Excel floats) mixed into valid and invalid numbers.
"""

from __future__ import annotations

import random
from datetime import date

import polars as pl

from schemas.codes.citizen_id import check_citizen_id, citizen_id_check_digit
from schemas.codes.phone import check_phone, fast_mobile
from schemas.codes.text import NULL_SPELLINGS, clean_text

N = 4000
DIRT = ["", " ", "\u3000", "\u00a0", "\u200b", "\u2003", "\ufeff", "\u0085", "\t"]
FULL_WIDTH = str.maketrans("0123456789X+-()", "０１２３４５６７８９Ｘ＋－（）")


def dirty(value: str, rng: random.Random) -> str:
    if rng.random() < 0.1:
        value = value.translate(FULL_WIDTH)
    if rng.random() < 0.3:
        i = rng.randrange(len(value) + 1)
        value = value[:i] + rng.choice(DIRT) + value[i:]
    return rng.choice(DIRT) + value + rng.choice(DIRT)


def phones(seed: int) -> list[str | None]:
    rng = random.Random(seed)
    out: list[str | None] = []
    for _ in range(N):
        mobile = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
        area = rng.choice(["010", "020", "0755", "0571"])
        number = f"{rng.randrange(2, 10)}{rng.randrange(10**7):07d}"
        value = rng.choice(
            [
                mobile,
                f"{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}",
                f"+86 {mobile[:3]} {mobile[3:7]} {mobile[7:]}",
                f"0086{mobile}",
                f"+86-{mobile}",
                f"({mobile[:3]}){mobile[3:]}",
                f"{mobile}.0",
                f"{mobile[:-1]}",
                f"2{mobile[1:]}",
                f"{area}-{number}",
                f"({area}){number}-{rng.randrange(1000)}",
                f"{area}{number}转8",
                number,
                f"1.{mobile[1:]}E+10",
                rng.choice(NULL_SPELLINGS),
            ]
        )
        out.append(dirty(value, rng) if rng.random() < 0.5 else value)
    return [*out, None]


def citizen_ids(seed: int) -> list[str | None]:
    rng = random.Random(seed)
    out: list[str | None] = []
    for _ in range(N):
        birth = date(1900 + rng.randrange(125), rng.randrange(1, 13), rng.randrange(1, 29))
        body = f"{rng.choice(['110105', '440106', '440803', '650102'])}{birth:%Y%m%d}"
        body += f"{rng.randrange(1000):03d}"
        value = body + citizen_id_check_digit(body)
        value = rng.choice(
            [
                value,
                value.lower(),
                value[:6] + value[8:17],  # a 15-digit legacy number
                value[:-1] + rng.choice("0123456789X"),
                f"{value[:6]} {value[6:]}",
                "1.10105E+17",
                rng.choice(NULL_SPELLINGS),
            ]
        )
        out.append(dirty(value, rng) if rng.random() < 0.5 else value)
    return [*out, None]


def both(values: list[str | None], check, shortcut) -> tuple[list, list]:
    frame = pl.DataFrame({"x": values}, schema={"x": pl.String})
    return (
        frame.select(check(pl.col("x")))["x"].to_list(),
        frame.select(shortcut(pl.col("x")))["x"].to_list(),
    )


def test_citizen_id_on_cleaned_text_is_the_check():
    values = citizen_ids(11)
    today = date(2026, 10, 1)
    plain, on_cleaned = both(
        values,
        lambda e: check_citizen_id(e, today=today),
        lambda e: check_citizen_id(clean_text(e), today=today, cleaned=True),
    )
    assert on_cleaned == plain
    # The generated values reach every branch: valid, legacy, and several reasons.
    assert {r["reason"] for r in plain} >= {None, "checksum", "excel_float", "format"}


def test_phone_on_cleaned_text_is_the_check():
    plain, on_cleaned = both(
        phones(12), check_phone, lambda e: check_phone(clean_text(e), cleaned=True)
    )
    assert on_cleaned == plain


def test_fast_mobile_is_the_check_where_it_answers():
    values = phones(13)
    plain, fast = both(values, check_phone, fast_mobile)
    answered = [(v, f, p) for v, f, p in zip(values, fast, plain, strict=True) if f is not None]
    assert [f for _, f, _ in answered] == [p for _, _, p in answered]
    # It answers the plain, dashed and +86 spellings (a sixth of these values), with spaces
    # around them too, and nothing but mobiles.
    assert len(answered) > N // 8
    assert any(v != v.strip() for v, _, _ in answered)
    assert any("-" in v for v, _, _ in answered)
    assert all(p["kind"] == "mobile" for _, _, p in answered)
