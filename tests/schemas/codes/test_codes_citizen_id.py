"""GB 11643 citizen IDs: the vectors of standards.md §1 and verify_vectors.py, and the
project's own rules (15→18, Excel artefacts, region warnings, foreign residents)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from schemas.codes.citizen_id import REASONS, check_citizen_id, citizen_id_check_digit

TODAY = date(2026, 1, 1)


def check(values, today=TODAY):
    frame = pl.DataFrame({"x": values}, schema={"x": pl.String})
    return frame.select(check_citizen_id(pl.col("x"), today=today))["x"].to_list()


def with_check(body17: str) -> str:
    return body17 + citizen_id_check_digit(body17)


@pytest.mark.parametrize(
    ("raw", "value", "sex", "born"),
    [
        # The standard's own example number (§1.5): female, last char X.
        ("11010519491231002X", "11010519491231002X", "2", date(1949, 12, 31)),
        # Lowercase x is the same number after normalization.
        ("11010519491231002x", "11010519491231002X", "2", date(1949, 12, 31)),
        # Second example of the standard: born 1880-01-01, the lower bound itself.
        ("440524188001010014", "440524188001010014", "1", date(1880, 1, 1)),
        # python-stdnum's doctest number.
        ("360426199101010071", "360426199101010071", "1", date(1991, 1, 1)),
        # 15-digit legacy numbers gain century 19 and a check digit (§1.4 examples).
        ("110105491231002", "11010519491231002X", "2", date(1949, 12, 31)),
        ("360426910101007", "360426199101010071", "1", date(1991, 1, 1)),
        # Sequence 996–999 marks a centenarian: century 18 (§1.4 convention).
        ("110105900101997", with_check("11010518900101997"), "1", date(1890, 1, 1)),
        # Full-width digits, ideographic space and a zero-width space from a web form.
        (
            "\u3000１１０１０５１９４９１２３１００２Ｘ\u200b",
            "11010519491231002X",
            "2",
            date(1949, 12, 31),
        ),
        # Spaces inside are layout, not content.
        ("110105 19491231 002X", "11010519491231002X", "2", date(1949, 12, 31)),
    ],
)
def test_valid_numbers_give_canonical_value_and_derived_fields(raw, value, sex, born):
    (row,) = check([raw])
    assert row["reason"] is None
    assert (row["value"], row["sex_code"], row["birth_date"]) == (value, sex, born)
    assert row["region_code"] == value[:6]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        # Check digit should be X (§1.5).
        ("110105194912310020", "checksum"),
        ("110105194912310021", "checksum"),
        # Adjacent digits transposed: the check digit catches it.
        ("11010519491213002X", "checksum"),
        # Checksum fine, but February 31st: why the date is checked separately.
        ("110105194902310026", "birth_date"),
        # 17 characters.
        ("11010519491231002", "format"),
        # A letter other than X, and X anywhere but last.
        ("1101051949123100AX", "format"),
        ("X10105194912310020", "format"),
        # Leading zero: no province group starts with 0.
        (with_check("01010519491231002"), "format"),
        # Arabic-Indic digits are "digits" to a Unicode regex, not to GB 11643.
        ("١١٠١٠٥١٩٤٩١٢٣١٠٠٢X", "format"),
        # Excel float notation: digits were lost on the way (§1.3 step 7).
        ("1.10105E+17", "excel_float"),
        ("1.10105194912310E+17", "excel_float"),
        ("110105194912310020.0", "excel_float"),
        # 18 digits ending 000 that fail the check: Excel's 15 significant digits.
        ("110105194912310000", "excel_float"),
        # Province part 00 / 99 is no province-level code (checksums correct).
        (with_check("00010519491231002"), "format"),
        (with_check("79010519491231002"), "region"),
        # Before 1880 (a 15-digit 996–999 number born 1879 gets there too).
        (with_check("11010518791231002"), "birth_date"),
        # Born after `today`.
        (with_check("11010520260102002"), "future_birth_date"),
        # 15 digits with an impossible date.
        ("110105491331002", "birth_date"),
    ],
)
def test_invalid_numbers_give_reason_and_no_value(raw, reason):
    (row,) = check([raw])
    assert row["reason"] == reason
    assert row["value"] is None
    assert row["sex_code"] is None and row["birth_date"] is None


def test_valid_number_ending_000_is_not_mistaken_for_excel():
    # A real number can end in 000 when its check digit is 0; only failing ones are Excel.
    body = next(
        body
        for day in range(1, 29)
        for first in "0123456789"
        if citizen_id_check_digit(body := f"440106199001{day:02d}{first}00") == "0"
    )
    (row,) = check([body + "0"])
    assert row["reason"] is None


def test_unknown_address_code_warns_but_stays_valid():
    # 110199 never existed, but the address code is the one at issue time and the table
    # may be older than the number: warn, do not reject (§1.3 step 5).
    (row,) = check([with_check("11019919800101002")])
    assert (row["reason"], row["warning"]) == (None, "unknown_region")
    assert row["region_code"] == "110199"


def test_retired_address_code_is_valid_without_warning():
    # 440102 东山区 was retired in 2005; people born there keep it in their number.
    (row,) = check([with_check("44010219800101002")])
    assert (row["reason"], row["warning"], row["region_code"]) == (None, None, "440102")


def test_born_more_than_120_years_ago_warns():
    (row,) = check([with_check("11010519000101002")])
    assert (row["reason"], row["warning"]) == (None, "age_over_120")


def test_foreign_permanent_resident_id_passes_without_region():
    # 2023 版永居证: first digit 9, same MOD 11-2; the next digits are no address code.
    number = with_check("91184019800101123")
    (row,) = check([number])
    assert (row["value"], row["reason"], row["region_code"]) == (number, None, None)
    assert row["birth_date"] == date(1980, 1, 1)
    (bad,) = check([number[:-1] + ("1" if number[-1] != "1" else "2")])
    assert bad["reason"] == "checksum"


def test_taiwan_residence_permit_prefix_83_is_a_region():
    (row,) = check([with_check("83000019800101002")])
    assert row["reason"] is None


def test_today_bounds_the_birth_date():
    number = with_check("11010520250601002")
    assert check([number], today=date(2025, 6, 1))[0]["reason"] is None
    assert check([number], today=date(2025, 5, 31))[0]["reason"] == "future_birth_date"


def test_null_and_null_spellings_have_neither_value_nor_reason():
    for row in check([None, "", "NULL", "无", "-"]):
        assert row == dict.fromkeys(row)


def test_scalar_check_digit_matches_standard_examples():
    assert citizen_id_check_digit("11010519491231002") == "X"
    assert citizen_id_check_digit("44052418800101001") == "4"


def test_every_reason_is_documented():
    produced = {
        row["reason"]
        for row in check(
            [
                "110105194912310020",
                "110105194902310026",
                "1101",
                "1.1E+17",
                with_check("79010519491231002"),
                with_check("11010520260102002"),
            ]
        )
    }
    assert produced == set(REASONS)


def test_lazy_and_streaming_give_the_eager_result():
    values = ["11010519491231002x", "110105491231002", "110105194912310020", None]
    eager = check(values)
    lazy = (
        pl.LazyFrame({"x": values}, schema={"x": pl.String})
        .select(check_citizen_id(pl.col("x"), today=TODAY))
        .collect(engine="streaming")["x"]
        .to_list()
    )
    assert lazy == eager


def test_legacy_numbers_among_many_are_converted_on_their_own_rows():
    # The 15-digit numbers are converted apart and gathered back: mixed with 18-digit
    # numbers, junk and nulls, each must come back on its own row, in both engines.
    import random

    rng = random.Random(3)
    values, expected = [], []
    for _ in range(3000):
        born = date(1900, 1, 1).toordinal() + rng.randrange(36_500)
        day = date.fromordinal(born).strftime("%Y%m%d")
        seq = f"{rng.choice([rng.randrange(996), rng.randrange(996, 1000)]):03d}"
        kind = rng.random()
        if kind < 0.3:  # legacy: no century, no check digit
            century = "18" if seq >= "996" else "19"
            values.append(f"440106{day[2:]}{seq}")
            expected.append(with_check(f"440106{century}{day[2:]}{seq}"))
        elif kind < 0.9:
            values.append(with_check(f"440106{day}{seq}"))
            expected.append(values[-1])
        else:
            values.append(rng.choice([None, "ABC", "44010619900307"]))
            expected.append(None)
    for engine in ("in-memory", "streaming"):
        got = (
            pl.LazyFrame({"x": values}, schema={"x": pl.String})
            .select(check_citizen_id(pl.col("x"), today=TODAY).struct.field("value"))
            .collect(engine=engine)["value"]
            .to_list()
        )
        # A legacy centenarian born before 1880 is rejected, and so has no value.
        assert got == [e if e is None or e[6:10] >= "1880" else None for e in expected]
