"""GB/T 4754 industry codes, GB/T 2261.1 sex and GB/T 3304 ethnic-group codes."""

from __future__ import annotations

import pytest

from schemas.codes import industry, person_codes
from schemas.codes.industry import (
    SECTIONS,
    check_industry_code,
    check_industry_section,
    division_section,
)
from schemas.codes.person_codes import (
    ETHNIC_GROUPS,
    SEX_CODES,
    check_ethnicity_code,
    check_sex_code,
)


@pytest.mark.parametrize(
    ("raw", "value", "section", "reason"),
    [
        ("I6510", "I6510", "I", None),  # §4.3 example ✓
        ("6510", "I6510", "I", None),  # letter missing: derived
        ("i6510", "I6510", "I", None),
        ("C6510", None, None, "section_mismatch"),  # §4.3 example ✗
        ("A0111", "A0111", "A", None),  # first division, leading zero kept
        ("T9700", "T9700", "T", None),  # last division
        ("K70", "K70", "K", None),  # a division alone
        ("701", "K701", "K", None),  # a group (3 digits)
        ("0011", None, None, "unknown_division"),
        ("9810", None, None, "unknown_division"),
        ("U6510", None, None, "format"),  # no section U
        ("I651", "I651", "I", None),
        ("I65101", None, None, "format"),
        ("6", None, None, "format"),
    ],
)
def test_industry_codes(raw, value, section, reason, run_check):
    (row,) = run_check(check_industry_code, [raw])
    assert (row["value"], row["section"], row["reason"]) == (value, section, reason)


def test_sections_cover_the_97_divisions_once():
    # The ranges of §4.3 tile 01..97 with no gap and no overlap (20 sections).
    assert len(SECTIONS) == 20
    assert sorted(division_section()) == [f"{d:02d}" for d in range(1, 98)]


def test_industry_section_letters(run_check):
    rows = run_check(check_industry_section, ["A", "t", "U", "AB"])
    assert [r["reason"] for r in rows] == [None, None, "unknown_section", "unknown_section"]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("0", "0"),
        ("1", "1"),
        ("2", "2"),
        ("5", "5"),
        ("6", "6"),
        ("9", "9"),
        ("男", "1"),
        ("女", "2"),
        ("男性", "1"),
        ("女性", "2"),
        ("未知", "0"),
        ("M", "1"),
        ("f", "2"),
        ("未说明的性别", "9"),
    ],
)
def test_sex_codes(raw, code, run_check):
    assert run_check(check_sex_code, [raw])[0] == {"value": code, "reason": None}


@pytest.mark.parametrize("raw", ["3", "4", "7", "男女", "X", "01"])
def test_sex_codes_not_in_the_table(raw, run_check):
    # 3, 4, 7 are not codes: GB/T 2261.1 is not contiguous.
    assert run_check(check_sex_code, [raw])[0] == {"value": None, "reason": "unknown"}


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("01", "01"),
        ("1", "01"),
        ("汉族", "01"),
        ("汉", "01"),  # §4.2 spellings
        ("毛难族", "36"),
        ("崩龙族", "46"),  # former names
        ("蒙古", "02"),
        ("维吾尔族", "05"),
        ("56", "56"),
        ("基诺族", "56"),
        ("97", "97"),
        ("98", "98"),
        ("外国血统中国籍人士", "98"),
        ("土族", "30"),
        ("土家族", "15"),  # a name that prefixes another
    ],
)
def test_ethnicity_codes(raw, code, run_check):
    assert run_check(check_ethnicity_code, [raw])[0] == {"value": code, "reason": None}


@pytest.mark.parametrize("raw", ["57", "00", "96", "汉人", "Han"])
def test_ethnicity_codes_not_in_the_table(raw, run_check):
    assert run_check(check_ethnicity_code, [raw])[0] == {"value": None, "reason": "unknown"}


def test_ethnicity_not_stated_is_null_not_an_error(run_check):
    assert (
        run_check(check_ethnicity_code, ["99", "未说明"]) == [{"value": None, "reason": None}] * 2
    )


def test_tables_are_complete():
    assert len(ETHNIC_GROUPS) == 58  # 56 groups + 97 + 98
    assert list(ETHNIC_GROUPS)[:56] == [f"{n:02d}" for n in range(1, 57)]
    assert set(SEX_CODES) == {"0", "1", "2", "5", "6", "9"}
    assert set(person_codes.REASONS) == {"unknown"}
    assert set(industry.REASONS) == {
        "format",
        "unknown_division",
        "section_mismatch",
        "unknown_section",
    }
