"""Dates and datetimes in every spelling the feeds use (feeds.md "Common to all feeds").

Accepted: ``20210305``, ``2021-03-05``, ``2021/3/5``, ``2021.03.05``, ``2021年3月5日``,
datetimes ``2021-03-05 08:00:00`` / ``2021-03-05T08:00:00(.ffffff)(Z|+08:00)`` /
``20210305080000``, and Excel serial numbers (``44260`` → 2021-03-05, 1900 date system,
with or without a fractional time of day).

Excel serials are accepted from 10000 to 80000 only (1927-05-18 to 2119-01-10): below
that, a 4-digit number is far more likely a year (``2021``) than a date in 1905, and
reading it as one would invent a wrong date silently; it is a ``format`` error instead.
``长期`` / ``9999-12-31`` / ``99991231`` (and Excel's 9999-12-31, serial 2958465) mean "no
end date": ``open_ended`` is true and ``value`` null.

Datetimes with a UTC offset are converted to China Standard Time (UTC+8), the time zone
all feeds use; naive ones are taken as given.

Reason codes (``REASONS``):

- ``format``: not a date (datetime) in one of the accepted spellings.
- ``invalid_date``: the spelling is right but the date does not exist (``2021-02-30``).
- ``invalid_time``: (datetimes) the time does not exist (``25:00``).
"""

from __future__ import annotations

import polars as pl

from schemas.codes._core import F, first_reason, named_like, ok_then
from schemas.codes.text import clean_text

__all__ = [
    "OPEN_ENDED_SPELLINGS",
    "REASONS",
    "fast_date",
    "fast_datetime",
    "parse_date",
    "parse_datetime",
]

REASONS: dict[str, str] = {
    "format": "not a date in an accepted spelling",
    "invalid_date": "the date does not exist in the calendar",
    "invalid_time": "the time of day does not exist",
}

#: Words meaning "no end date" (validity periods, 营业期限至).
OPEN_ENDED_SPELLINGS: tuple[str, ...] = ("长期", "长期有效", "永久", "永久有效", "无固定期限")

_EXCEL_MIN, _EXCEL_MAX, _EXCEL_9999_12_31 = 10_000, 80_000, 2_958_465
_EXCEL_EPOCH_OFFSET = 25_569  # serial of 1970-01-01 in Excel's 1900 system
_DATE = r"([0-9]{4})(?:[-/.]|年)([0-9]{1,2})(?:[-/.]|月)([0-9]{1,2})日?"
_TIME = r"(?:[ T]([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?)?"
_COMPACT = r"([0-9]{4})([0-9]{2})([0-9]{2})(?:([0-9]{2})([0-9]{2})([0-9]{2}))?"
# Groups 1-6: compact form; 7-13: separated form; 14: UTC offset.
_PATTERN = rf"^(?:{_COMPACT}|{_DATE}{_TIME})(Z|[+-][0-9]{{2}}:?[0-9]{{2}})?$"
_EXCEL = r"^([0-9]{5}|2958465)(?:\.([0-9]+))?$"


def _group(i: int) -> pl.Expr:
    return F("parts").struct.field(str(i))


def _stages(expr: pl.Expr) -> pl.Expr:
    """Struct of the parsed pieces (cleaned text, regex groups, Excel serial, date, time of
    day in microseconds, UTC offset in minutes, validity flags)."""
    s = F("s")
    year = pl.coalesce(_group(1), _group(7))
    month = pl.coalesce(_group(2), _group(8)).str.zfill(2)
    day = pl.coalesce(_group(3), _group(9)).str.zfill(2)
    hour = pl.coalesce(_group(4), _group(10)).str.to_integer(strict=False)
    minute = pl.coalesce(_group(5), _group(11)).str.to_integer(strict=False)
    second = pl.coalesce(_group(6), _group(12)).str.to_integer(strict=False)
    micros = _group(13).str.slice(0, 6).str.pad_end(6, "0").str.to_integer(strict=False)
    offset = _group(14)
    offset_minutes = (
        pl.when(offset == "Z")
        .then(pl.lit(0))
        .otherwise(
            offset.str.slice(0, 1).replace({"+": "1", "-": "-1"}).str.to_integer(strict=False)
            * (
                offset.str.slice(1, 2).str.to_integer(strict=False) * 60
                + offset.str.tail(2).str.to_integer(strict=False)
            )
        )
    )
    serial = F("excel").struct.field("1").str.to_integer(strict=False)
    fraction = ("0." + F("excel").struct.field("2").fill_null("0")).cast(pl.Float64, strict=False)
    return (
        pl.struct(s=clean_text(expr))
        .struct.with_fields(
            parts=s.str.extract_groups(_PATTERN),
            excel=s.str.extract_groups(_EXCEL),
        )
        .struct.with_fields(
            serial=serial,
            date=(year + month + day).str.strptime(pl.Date, "%Y%m%d", strict=False),
            parsed=_group(1).is_not_null() | _group(7).is_not_null(),
            time_ok=(
                hour.is_null()
                | (
                    (hour <= 23)
                    & (minute <= 59)
                    & (second.is_null() | (second <= 59))
                    & (offset_minutes.is_null() | (offset_minutes.abs() <= 14 * 60))
                )
            ),
            seconds=(
                hour.fill_null(0) * 3600 + minute.fill_null(0) * 60 + second.fill_null(0)
            ).cast(pl.Int64)
            * 1_000_000
            + micros.fill_null(0),
            fraction_micros=(fraction * 86_400_000_000).round(0).cast(pl.Int64, strict=False),
            offset=offset_minutes,
        )
        .struct.with_fields(
            excel_ok=F("serial").is_between(_EXCEL_MIN, _EXCEL_MAX)
            | (F("serial") == _EXCEL_9999_12_31),
            date=pl.when(F("serial").is_not_null())
            .then((F("serial") - _EXCEL_EPOCH_OFFSET).cast(pl.Int32, strict=False).cast(pl.Date))
            .otherwise(F("date")),
        )
        .struct.with_fields(
            open_ended=s.is_in(list(OPEN_ENDED_SPELLINGS)) | (F("date") == pl.date(9999, 12, 31)),
        )
    )


def parse_date(expr: pl.Expr) -> pl.Expr:
    """Parse a date in any accepted spelling (module docstring); a time part is ignored.

    Returns a struct ``{value, reason, open_ended}``: ``value`` is a Date, null when
    invalid or open-ended; ``open_ended`` is true for ``长期``, ``9999-12-31`` and the like.

    Example:
        >>> df = pl.DataFrame({"d": ["20210305", "2021/3/5", "2021年3月5日", "44260",
        ...                          "2021-03-05 08:00:00", "长期", "2021-02-30", "2021"]})
        >>> for row in df.select(parse_date(pl.col("d")))["d"]:
        ...     print(row)
        {'value': datetime.date(2021, 3, 5), 'reason': None, 'open_ended': False}
        {'value': datetime.date(2021, 3, 5), 'reason': None, 'open_ended': False}
        {'value': datetime.date(2021, 3, 5), 'reason': None, 'open_ended': False}
        {'value': datetime.date(2021, 3, 5), 'reason': None, 'open_ended': False}
        {'value': datetime.date(2021, 3, 5), 'reason': None, 'open_ended': False}
        {'value': None, 'reason': None, 'open_ended': True}
        {'value': None, 'reason': 'invalid_date', 'open_ended': False}
        {'value': None, 'reason': 'format', 'open_ended': False}
    """
    s = F("s")
    reason = first_reason(
        s,
        (F("open_ended"), None),
        (F("serial").is_not_null() & ~F("excel_ok"), "format"),
        (F("serial").is_null() & ~F("parsed"), "format"),
        (F("date").is_null(), "invalid_date"),
    )
    checked = (
        _stages(expr)
        .struct.with_fields(reason=reason)
        .struct.eval(
            value=ok_then(pl.when(~F("open_ended")).then(F("date"))),
            reason=F("reason"),
            open_ended=pl.when(s.is_not_null()).then(F("open_ended").fill_null(False)),
        )
    )
    return named_like(checked, expr)


def parse_datetime(expr: pl.Expr) -> pl.Expr:
    """Parse a datetime (``yyyy-MM-dd HH:mm:ss``, ISO with ``T`` and optional offset,
    ``yyyyMMddHHmmss``, Excel serials with a time fraction) or a date alone (midnight).

    Returns a struct ``{value, reason}``; ``value`` is a naive Datetime(us) in UTC+8.

    Example:
        >>> df = pl.DataFrame({"t": ["2021-03-05 08:00:00", "2021-03-05T00:30:00Z", "20210305",
        ...                          "44260.5", "2021-03-05 25:00:00", "2021-02-30 08:00"]})
        >>> for row in df.select(parse_datetime(pl.col("t")))["t"]:
        ...     print(row)
        {'value': datetime.datetime(2021, 3, 5, 8, 0), 'reason': None}
        {'value': datetime.datetime(2021, 3, 5, 8, 30), 'reason': None}
        {'value': datetime.datetime(2021, 3, 5, 0, 0), 'reason': None}
        {'value': datetime.datetime(2021, 3, 5, 12, 0), 'reason': None}
        {'value': None, 'reason': 'invalid_time'}
        {'value': None, 'reason': 'invalid_date'}
    """
    s = F("s")
    reason = first_reason(
        s,
        (F("serial").is_not_null() & ~F("excel_ok"), "format"),
        (F("serial").is_null() & ~F("parsed"), "format"),
        (F("open_ended"), "format"),
        (F("date").is_null(), "invalid_date"),
        (~F("time_ok"), "invalid_time"),
    )
    micros = pl.when(F("serial").is_not_null()).then(F("fraction_micros")).otherwise(F("seconds"))
    # A given offset is undone to UTC, then UTC+8 is applied: the lake's times are CST.
    shift = pl.when(F("offset").is_not_null()).then((8 * 60 - F("offset")) * 60_000_000)
    checked = (
        _stages(expr)
        .struct.with_fields(reason=reason)
        .struct.eval(
            value=ok_then(
                F("date").cast(pl.Datetime("us"))
                + pl.duration(microseconds=micros + shift.fill_null(0), time_unit="us")
            ),
            reason=F("reason"),
        )
    )
    return named_like(checked, expr)


# The fast twins of the parsers (transforms.common.with_check runs the parser only on the
# values a twin leaves null). Each pattern accepts a subset of the parser's, and only
# ASCII digits, separators and 年月日, which cleaning leaves as they are: so the twin may
# read the raw value, where the parser reads it cleaned.
_COMPACT_DAY = r"^[0-9]{8}$"
# The parser's separated day: any of its separators, even mixed as it allows, or 年月日;
# months and days of one or two digits; a time after the day is ignored, as there.
_SEPARATED_DAY = (
    r"^[0-9]{4}(?:[-/.]|年)[0-9]{1,2}(?:[-/.]|月)[0-9]{1,2}日?(?: [0-9]{2}:[0-9]{2}:[0-9]{2})?$"
)
_SEPARATED_DAY_PART = r"^([0-9]{4}[-/.年][0-9]{1,2}[-/.月][0-9]{1,2})"
_EXCEL_DAY = r"^[0-9]{5}$"
_DAY = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
# Hours, minutes and seconds in range: strptime would accept a leap second (60).
_DASHED_TIME = rf"^{_DAY} (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$"


def fast_date(expr: pl.Expr) -> pl.Expr:
    """:func:`parse_date`'s struct for the common spellings, at a quarter to a third of its cost:
    ``yyyyMMdd``; ``yyyy-MM-dd`` with ``-``, ``/`` or ``.`` and months and days of one or
    two digits (``2021/3/5``), or ``2021年3月5日``, a time ``HH:mm:ss`` after them ignored
    as there; 5-digit Excel serials; and the "no end" spellings (``长期``, ``9999-12-31``).
    Null for any other spelling (full-width digits, ISO times, ``2958465``), and for a day
    that does not exist: the parser answers those.

    A separated day is read with ``-`` for its separators, whose ``strptime`` takes months
    and days of one digit: the tests hold it to the parser's answers, which pad them.

    >>> df = pl.DataFrame({"d": ["20210305", "2021年3月5日", "2021/3/5 08:00:00", "44260",
    ...                          "长期", "99991231", "2021-02-30", "２０２１０３０５"]})
    >>> for row in df.select(fast_date(pl.col("d")).alias("d"))["d"]:
    ...     print(row)
    {'value': datetime.date(2021, 3, 5), 'reason': None, 'open_ended': False}
    {'value': datetime.date(2021, 3, 5), 'reason': None, 'open_ended': False}
    {'value': datetime.date(2021, 3, 5), 'reason': None, 'open_ended': False}
    {'value': datetime.date(2021, 3, 5), 'reason': None, 'open_ended': False}
    {'value': None, 'reason': None, 'open_ended': True}
    {'value': None, 'reason': None, 'open_ended': True}
    None
    None
    """
    dashed = expr.str.extract(_SEPARATED_DAY_PART, 1).str.replace_all(r"[/.年月]", "-")
    serial = pl.when(expr.str.contains(_EXCEL_DAY)).then(expr.cast(pl.Int32, strict=False))
    date = pl.coalesce(
        pl.when(expr.str.contains(_COMPACT_DAY))
        .then(expr.str.strptime(pl.Date, "%Y%m%d", strict=False))
        .when(expr.str.contains(_SEPARATED_DAY))
        .then(dashed.str.strptime(pl.Date, "%Y-%m-%d", strict=False)),
        pl.when(serial.is_between(_EXCEL_MIN, _EXCEL_MAX)).then(
            (serial - _EXCEL_EPOCH_OFFSET).cast(pl.Date)
        ),
    )
    no_reason = pl.lit(None, dtype=pl.String)
    found = pl.struct(value=date, reason=no_reason, open_ended=pl.lit(False))
    open_ended = pl.struct(
        value=pl.lit(None, dtype=pl.Date), reason=no_reason, open_ended=pl.lit(True)
    )
    return (
        pl.when(expr.is_in(OPEN_ENDED_SPELLINGS) | (date == pl.date(9999, 12, 31)))
        .then(open_ended)
        .when(date.is_not_null())
        .then(found)
    )


def fast_datetime(expr: pl.Expr) -> pl.Expr:
    """:func:`parse_datetime`'s struct for ``yyyy-MM-dd HH:mm:ss``,
    null for any other spelling and for year 9999; see :func:`fast_date`.

    >>> df = pl.DataFrame({"t": ["2026-10-01 08:30:00", "2026-10-01 08:30:60", "2026-10-01"]})
    >>> df.select(fast_datetime(pl.col("t")).alias("t"))["t"].to_list()
    [{'value': datetime.datetime(2026, 10, 1, 8, 30), 'reason': None}, None, None]
    """
    value = pl.when(expr.str.contains(_DASHED_TIME)).then(
        expr.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False)
    )
    found = pl.struct(value=value, reason=pl.lit(None, dtype=pl.String))
    return pl.when(value.dt.year() < 9999).then(found)
