"""The package contract: the registry matches the standard's CodeType, every check turns
any garbage into a reason (never an exception), and no check runs Python per row."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import polars as pl
import pytest

from schemas import codes
from schemas.codes import CHECKS, REASONS, WARNINGS
from schemas.standard import CodeType

PACKAGE = Path(codes.__file__).parent

# Values no check accepts: empty-ish, control characters, emoji, injection attempts,
# quotes, full-width and mixed scripts, digits of other scripts, very long strings.
GARBAGE = [
    "\x00",
    "😀",
    "😀" * 300,
    "'",
    '"',
    "''",
    "'; DROP TABLE persons; --",
    "1' OR '1'='1",
    "<script>alert(1)</script>",
    "${jndi:ldap://x}",
    "ＡＢＣＤＥＦ",
    "ｘｘｘ",
    "张三李四",
    "张" * 1000,
    "7" * 1000,
    "X" * 1000,
    "1.2.156.3005.2." + "1" * 1000,
    "٠١٢٣٤٥٦٧٨٩",  # Arabic-Indic digits
    "𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖#",  # mathematical bold digits: NFKC makes them 12345678
    "11010519491231002X\u202e",  # right-to-left override after a valid ID
    "e\u0301e\u0301",  # combining accents
    "-1",
    "NaN",
    "inf",
    "1e400",
    "0x1F",
    "..........",
    "----",
    "()",
    "+",
    "#",
]
# Spellings of "no value": null out, no reason (required-ness is checked elsewhere).
NULLISH = [
    None,
    "",
    " ",
    "\t",
    "\n\r",
    "\u3000",
    "\u200b",
    "无",
    "NULL",
    "null",
    "/",
    "-",
    "——",
    "\ufeff \u00a0",
]

ALL_CHECKS = {
    **CHECKS,
    "date": codes.parse_date,
    "datetime": codes.parse_datetime,
    "money": codes.parse_money,
    "statistical_code": codes.check_statistical_code,
    "org_code": codes.check_org_code,
}


def test_registry_keys_are_the_standards_code_types():
    assert set(CHECKS) == set(typing.get_args(CodeType))
    assert set(REASONS) == set(CHECKS)
    assert set(WARNINGS) <= set(CHECKS)


@pytest.mark.parametrize("name", sorted(ALL_CHECKS))
@pytest.mark.parametrize("engine", ["in-memory", "streaming"])
def test_garbage_gives_a_reason_never_an_exception(name, engine):
    frame = pl.LazyFrame({"x": GARBAGE + NULLISH}, schema={"x": pl.String})
    out = frame.select(ALL_CHECKS[name](pl.col("x")).alias("out")).collect(engine=engine)
    rows = out["out"].to_list()
    for raw, row in zip(GARBAGE, rows, strict=False):
        assert row["reason"] is not None and row["value"] is None, (raw, row)
    for raw, row in zip(NULLISH, rows[len(GARBAGE) :], strict=True):
        assert row["reason"] is None and row["value"] is None, (raw, row)
    if name in REASONS:
        assert {row["reason"] for row in rows} - {None} <= set(REASONS[name])


@pytest.mark.parametrize("name", sorted(ALL_CHECKS))
def test_checks_take_any_expression_and_keep_the_column_name(name):
    frame = pl.DataFrame({"GMSFHM": ["  x "], "other": ["y"]})
    assert frame.select(ALL_CHECKS[name](pl.col("GMSFHM"))).columns == ["GMSFHM"]
    # A computed input (no single column behind it) works too.
    out = frame.select(ALL_CHECKS[name](pl.col("GMSFHM") + pl.col("other")))
    assert out.height == 1


def test_empty_frame():
    frame = pl.DataFrame({"x": []}, schema={"x": pl.String})
    for check in ALL_CHECKS.values():
        assert frame.select(check(pl.col("x"))).height == 0


def test_no_python_per_row():
    # The contract: vectorized expressions only. A Python UDF would pass every functional
    # test and still be 10-100x too slow on a feed (DESIGN.md "Traps").
    udf = re.compile(r"\b(map_elements|map_batches|map_rows|map_groups|apply)\(")
    for path in PACKAGE.glob("*.py"):
        assert not udf.search(path.read_text(encoding="utf-8")), path


@pytest.mark.parametrize("name", sorted(REASONS))
def test_reason_codes_are_documented_in_module_docstrings(name):
    module = {
        "citizen_id": codes.citizen_id,
        "uscc": codes.credit_code,
        "registration_number": codes.credit_code,
        "subject_code": codes.credit_code,
        "region_code": codes.region,
        "street_code": codes.region,
        "community_code": codes.region,
        "industry_code": codes.industry,
        "industry_section": codes.industry,
        "sex_code": codes.person_codes,
        "ethnicity_code": codes.person_codes,
        "licence_id": codes.licence_id,
        "phone": codes.phone,
        "currency": codes.money,
    }[name]
    for code in REASONS[name]:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", code)
        if name != "subject_code":  # subject codes reuse the citizen-ID reasons
            assert f"``{code}``" in module.__doc__, (name, code)
