"""Dates, money and phone numbers in the spellings of feeds.md."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from schemas.codes.dates import fast_date, parse_date, parse_datetime
from schemas.codes.money import check_currency, parse_money
from schemas.codes.phone import check_phone

MARCH_5 = date(2021, 3, 5)


DATES = [
    # Every spelling of feeds.md "Common to all feeds".
    ("20210305", MARCH_5),
    ("2021-03-05", MARCH_5),
    ("2021/3/5", MARCH_5),
    ("2021.03.05", MARCH_5),
    ("2021年3月5日", MARCH_5),
    ("2021年03月05", MARCH_5),
    ("44260", MARCH_5),  # Excel serial, 1900 date system
    ("44260.75", MARCH_5),  # Excel serial with a time of day
    ("2021-03-05 08:00:00", MARCH_5),  # datetime: date part
    ("2021-03-05T08:00:00+08:00", MARCH_5),
    ("20210305080000", MARCH_5),
    ("２０２１－０３－０５", MARCH_5),  # full-width
    ("2020-02-29", date(2020, 2, 29)),  # leap day
    ("10000", date(1927, 5, 18)),  # lowest Excel serial accepted
]
OPEN_ENDED = ["长期", "9999-12-31", "99991231", "9999/12/31", "2958465", "长期有效"]
BAD_DATES = [
    ("2021-02-30", "invalid_date"),
    ("2021-02-29", "invalid_date"),  # not a leap year
    ("20211305", "invalid_date"),
    ("0000-00-00", "invalid_date"),  # a database's "no date"
    ("2021年2月29日", "invalid_date"),
    ("2021", "format"),  # a year is not an Excel serial (module docstring)
    ("9999", "format"),
    ("80001", "format"),  # beyond the plausible serial range
    ("09999", "format"),
    ("2021035", "format"),  # 7 digits: 2021-03-05 or 2021-0-35?
    ("21-3-5", "format"),  # two-digit year
    ("2021-03-05 garbage", "format"),
    ("2021-003-05", "format"),
    ("三月五日", "format"),
]


@pytest.mark.parametrize(("raw", "value"), DATES)
def test_dates(raw, value, run_check):
    assert run_check(parse_date, [raw])[0] == {"value": value, "reason": None, "open_ended": False}


@pytest.mark.parametrize("raw", OPEN_ENDED)
def test_open_ended_dates(raw, run_check):
    assert run_check(parse_date, [raw])[0] == {"value": None, "reason": None, "open_ended": True}


@pytest.mark.parametrize(("raw", "reason"), BAD_DATES)
def test_bad_dates(raw, reason, run_check):
    assert run_check(parse_date, [raw])[0] == {"value": None, "reason": reason, "open_ended": False}


@pytest.mark.parametrize(
    "raw", [raw for raw, _ in DATES] + OPEN_ENDED + [raw for raw, _ in BAD_DATES]
)
def test_the_fast_twin_answers_as_the_parser_or_not_at_all(raw, run_check):
    fast = run_check(fast_date, [raw])[0]
    assert fast is None or fast == run_check(parse_date, [raw])[0]


@pytest.mark.parametrize(
    "raw",
    [
        "20210305",
        "2021-03-05",
        "2021/3/5",
        "2021.03.05",
        "2021年3月5日",
        "2021年03月05",
        "44260",
        "2021-03-05 08:00:00",
        "2020-02-29",
        "10000",
        *OPEN_ENDED[:4],
    ],
)
def test_the_fast_twin_answers_the_common_spellings(raw, run_check):
    assert run_check(fast_date, [raw])[0] == run_check(parse_date, [raw])[0]


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("2021-03-05 08:00:00", datetime(2021, 3, 5, 8)),
        ("2021-03-05T08:00:00", datetime(2021, 3, 5, 8)),
        ("2021-03-05 8:05", datetime(2021, 3, 5, 8, 5)),
        ("2021-03-05T08:00:00.123456", datetime(2021, 3, 5, 8, 0, 0, 123456)),
        ("2021-03-05T08:00:00.5", datetime(2021, 3, 5, 8, 0, 0, 500000)),
        ("2021-03-05T00:00:00Z", datetime(2021, 3, 5, 8)),  # UTC → UTC+8
        ("2021-03-05T09:00:00+09:00", datetime(2021, 3, 5, 8)),  # Tokyo → UTC+8
        ("2021-03-05T08:00:00+0800", datetime(2021, 3, 5, 8)),
        ("20210305080000", datetime(2021, 3, 5, 8)),
        ("2021-03-05", datetime(2021, 3, 5)),  # date alone: midnight
        ("44260.5", datetime(2021, 3, 5, 12)),  # Excel serial: fraction is the time
    ],
)
def test_datetimes(raw, value, run_check):
    assert run_check(parse_datetime, [raw])[0] == {"value": value, "reason": None}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("2021-03-05 24:00:00", "invalid_time"),
        ("2021-03-05 08:60", "invalid_time"),
        ("2021-03-05T08:00:00+15:00", "invalid_time"),
        ("2021-02-30 08:00:00", "invalid_date"),
        ("长期", "format"),
        ("08:00:00", "format"),
    ],
)
def test_bad_datetimes(raw, reason, run_check):
    assert run_check(parse_datetime, [raw])[0] == {"value": None, "reason": reason}


@pytest.mark.parametrize(
    ("raw", "value", "currency"),
    [
        # Every spelling of feeds.md 注册资本.
        ("500万元人民币", "5000000", "CNY"),
        ("500万人民币", "5000000", "CNY"),
        ("500万元", "5000000", "CNY"),
        ("5000000元", "5000000", "CNY"),
        ("100万美元", "1000000", "USD"),
        ("50万港元", "500000", "HKD"),
        ("1,000.5万元", "10005000", "CNY"),
        ("500", "5000000", "CNY"),  # bare: default unit 万元
        # Others seen in registry exports.
        ("人民币500万元", "5000000", "CNY"),
        ("500万元整", "5000000", "CNY"),  # 整: "exactly"
        ("1.5亿元", "150000000", "CNY"),
        ("１２０万欧元", "1200000", "EUR"),
        ("$1,200", "1200", "USD"),
        ("USD 100", "100", "USD"),
        ("¥0.5万", "5000", "CNY"),
        ("0", "0", "CNY"),
        ("0.123456万元", "1234.56", "CNY"),  # cents survive the scaling exactly
    ],
)
def test_money(raw, value, currency, run_check):
    assert run_check(parse_money, [raw])[0] == {
        "value": Decimal(value).quantize(Decimal("0.01")),
        "reason": None,
        "currency": currency,
    }


def test_money_default_unit(run_check):
    rows = run_check(lambda e: parse_money(e, default_unit="元"), ["500", "500万元"])
    assert [r["value"] for r in rows] == [Decimal("500.00"), Decimal("5000000.00")]
    with pytest.raises(ValueError, match="default_unit"):
        parse_money(None, default_unit="千元")  # a programming error, raised at build time


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("-500万元", "negative"),
        ("500万卢比", "unknown_currency"),
        ("$500元", "unknown_currency"),  # two currencies that disagree
        ("壹佰万元", "format"),  # Chinese numerals are not parsed (module docstring)
        ("约500万元", "unknown_currency"),  # "about": not an amount
        ("500万元以上", "unknown_currency"),
        ("5,00万元", "format"),
        ("1e400", "format"),  # no scientific notation in registry amounts
        ("99999999999亿元", "out_of_range"),
        ("abc", "format"),
    ],
)
def test_bad_money(raw, reason, run_check):
    assert run_check(parse_money, [raw])[0] == {"value": None, "reason": reason, "currency": None}


def test_currencies(run_check):
    rows = run_check(check_currency, ["CNY", "rmb", "美元", "港币", "€", "XXX"])
    assert [r["value"] for r in rows] == ["CNY", "CNY", "USD", "HKD", "EUR", None]


@pytest.mark.parametrize(
    ("raw", "value", "kind"),
    [
        # feeds.md LXDH spellings.
        ("+86 138-0013-8000", "13800138000", "mobile"),
        ("0086 13800138000", "13800138000", "mobile"),
        ("138 0013 8000", "13800138000", "mobile"),
        ("8613800138000", "13800138000", "mobile"),
        ("19912345678", "19912345678", "mobile"),
        ("(020)12345678", "020-12345678", "landline"),
        ("（020）12345678", "020-12345678", "landline"),  # full-width brackets
        ("020-12345678", "020-12345678", "landline"),
        ("02012345678", "020-12345678", "landline"),  # 020 is always 3 digits
        ("010-6512345", "010-6512345", "landline"),  # 7-digit local number
        ("0755-12345678", "0755-12345678", "landline"),
        ("075512345678", "0755-12345678", "landline"),
        ("020-12345678-801", "020-12345678-801", "landline"),
        ("020-12345678转801", "020-12345678-801", "landline"),
        ("020-12345678 ext. 801", "020-12345678-801", "landline"),
        ("+86 20 1234 5678", "020-12345678", "landline"),
        ("+86-755-12345678", "0755-12345678", "landline"),
    ],
)
def test_phones(raw, value, kind, run_check):
    assert run_check(check_phone, [raw])[0] == {"value": value, "reason": None, "kind": kind}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("12345678", "no_area_code"),
        ("1380013800", "format"),  # 10 digits
        ("23800138000", "format"),  # no mobile starts with 2
        ("12800138000", "format"),  # nor 12
        ("400-123-4567", "format"),  # service number
        ("020-0123456", "format"),  # local numbers do not start with 0
        ("phone", "format"),
    ],
)
def test_bad_phones(raw, reason, run_check):
    assert run_check(check_phone, [raw])[0] == {"value": None, "reason": reason, "kind": None}
