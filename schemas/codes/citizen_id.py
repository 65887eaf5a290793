"""公民身份号码, GB 11643-1999 (standards.md §1): check, 15→18 conversion, derived fields.

Steps, in order: clean (NFKC, no spaces, ``x`` → ``X``); a 15-digit legacy number is
converted to 18 digits (century ``19``, or ``18`` for sequence 996–999, §1.4 — a convention,
not the standard's text); format; ISO 7064 MOD 11-2 check digit; birth date a real calendar
date, not before 1880 and not after ``today``; province part of the address code.

The address code is the one in force when the number was *issued*, often decades after
birth, and it is never updated: a 6-digit code unknown to every period of GB/T 2260 only
warns (``unknown_region``), it does not reject (§1.3 step 5; python-stdnum gets this wrong).

Numbers starting with ``9`` are foreigners' permanent-residence IDs (2023 版永居证, §1.1):
same length and MOD 11-2 check as a citizen number, per the National Immigration
Administration. Their birth date is checked at the same position; the digits after the ``9``
are not an address code (their layout is unverified), so ``region_code`` is null for them.

Reason codes (``REASONS``):

- ``excel_float``: the value went through Excel or a float column (``1.10105E+17``, a
  ``.0`` tail, or 18 digits ending ``000`` that fail the check): digits were lost;
  quarantine, never repair.
- ``format``: not 18 characters ``[1-9]`` + 16 digits + digit or ``X`` (nor 15 digits).
- ``checksum``: the 18th character is not the MOD 11-2 check of the first 17.
- ``region``: the first two digits are not a province-level code.
- ``birth_date``: digits 7–14 are not a calendar date, or the date is before 1880.
- ``future_birth_date``: the birth date is after ``today``.

Warnings (valid, but worth a look): ``unknown_region`` (address code in no period of
GB/T 2260), ``age_over_120`` (born more than 120 years before ``today``).
"""

from __future__ import annotations

from datetime import date
from functools import cache

import polars as pl

from schemas.codes._core import (
    INVALID,
    F,
    byte_pairs,
    clean_code,
    first_reason,
    in_set,
    named_like,
    ok_then,
    pair_code,
    pair_sum,
    pair_tables,
)
from schemas.codes.region import known_region_codes, province_codes

__all__ = ["REASONS", "WARNINGS", "check_citizen_id", "citizen_id_check_digit"]

REASONS: dict[str, str] = {
    "excel_float": "the number went through Excel as a float and lost digits",
    "format": "not 18 characters (17 digits + digit or X) nor a 15-digit legacy number",
    "checksum": "the check character does not match (ISO 7064 MOD 11-2)",
    "region": "the first two digits are not a province-level code",
    "birth_date": "the birth date is not a calendar date, or is before 1880",
    "future_birth_date": "the birth date is in the future",
}

WARNINGS: dict[str, str] = {
    "unknown_region": "the address code is in no period of GB/T 2260 (valid, but check it)",
    "age_over_120": "born more than 120 years ago",
}

_CHECK_CHARS = "0123456789X"
# Taiwan residents' residence permits use address code 830000 (standards.md §1.1, ⚠️):
# not a GB/T 2260 province, but a real prefix of citizen-style numbers.
_ID_PROVINCES = {"83"}


def citizen_id_check_digit(body17: str) -> str:
    """The MOD 11-2 check character of 17 digits (plain Python, for data generators).

    >>> citizen_id_check_digit("11010519491231002")
    'X'
    """
    return _CHECK_CHARS[(1 - 2 * int(body17, 13)) % 11]


@cache
def _id_tables() -> list[pl.Series]:
    """GB 11643 format and check sum over byte pairs: a digit 1-9, 16 digits, then a digit
    or X (10); weights 2^(17-i) mod 11 and 1 for the check character, so a valid number
    sums to 1 mod 11 (ISO 7064 MOD 11-2)."""
    digits = {str(d): d for d in range(10)}
    first = {str(d): d for d in range(1, 10)}
    positions = [first, *[digits] * 16, {**digits, "X": 10}]
    return pair_tables(positions, [*(pow(2, 17 - i, 11) for i in range(17)), 1], 11)


@cache
def _province_pairs() -> pl.Series:
    """First byte pairs of numbers with a province-level prefix, or of foreign residents'
    numbers (9 and any digit)."""
    prefixes = province_codes() | _ID_PROVINCES | {f"9{d}" for d in range(10)}
    return pl.Series(sorted(pair_code(p) for p in prefixes), dtype=pl.UInt16)


def _from_legacy(s: pl.Expr) -> pl.Expr:
    """The 18-character form of a 15-digit number (century inserted, check digit added);
    other values unchanged.

    Only the legacy numbers are converted: they are filtered out, converted and gathered
    back onto their rows. Inside a struct stage a ``when`` branch runs on every row as soon
    as one row needs it, and the conversion then cost a quarter of the check for 1% of
    the numbers. (Pass a column or a struct field: a computed input is recomputed for each
    of its three uses.)

    >>> pl.DataFrame({"s": ["110105491231002", "ABC", None]}).select(_from_legacy(pl.col("s")))["s"].to_list()
    ['11010519491231002X', 'ABC', None]
    """
    legacy = s.str.contains(r"^[0-9]{15}$")
    position = pl.when(legacy).then(legacy.cast(pl.Int64).cum_sum() - 1)
    # The conversion reads its input five times: as a struct field, the filter runs once
    # (read directly, each read filtered the whole column again: half of this function's
    # 0.11 CPU-s per million numbers).
    converted = pl.struct(s=s.filter(legacy)).struct.eval(s=_converted(F("s"))).struct.field("s")
    return pl.coalesce(converted.gather(position), s)


def _converted(s: pl.Expr) -> pl.Expr:
    """The 18-character form of 15-digit numbers."""
    address, rest = s.str.head(6), s.str.slice(6)
    # §1.4: sequence 996–999 was reserved for centenarians, so those were born in the 1800s.
    centenarian = s.str.slice(12, 3) >= "996"
    # The check digit without building the 17 digits first. A string of digits read in
    # base 13 is ≡ Σ dᵢ·2^(n-1-i) (mod 11), as 13 ≡ 2; in the 18-digit form the address
    # digits carry 2^12 ≡ 4 times those weights and the other nine 2 times; century 19
    # adds 2·1 + 1·9 ≡ 0, century 18 adds 2·1 + 1·8 = 10.
    total = (
        4 * (address.str.to_integer(base=13, strict=False) % 11)
        + 2 * (rest.str.to_integer(base=13, strict=False) % 11)
        + pl.when(centenarian).then(pl.lit(10)).otherwise(pl.lit(0))
    )
    value = (1 - total) % 11
    check = pl.when(value == 10).then(pl.lit("X")).otherwise(value.cast(pl.String))
    century = pl.when(centenarian).then(pl.lit("18")).otherwise(pl.lit("19"))
    return pl.concat_str([address, century, rest, check])


def check_citizen_id(expr: pl.Expr, *, today: date | None = None, cleaned: bool = False) -> pl.Expr:
    """Check a citizen ID number and derive sex, birth date and address code from it.

    Returns a struct ``{value, reason, sex_code, birth_date, region_code, warning}``:
    ``value`` is the canonical 18-character number (15-digit numbers converted), the
    derived fields are null unless the number is valid. ``sex_code`` is GB/T 2261.1
    (``1`` male, ``2`` female); ``region_code`` is the address code as issued (map it to a
    current code with ``check_region_code(..., current_only=False)``). ``today`` (default:
    the day the expression is built) bounds the birth date. ``cleaned``: the input is
    already :func:`~schemas.codes.text.clean_text`'s output and is not cleaned again.

    Example:
        >>> df = pl.DataFrame({"id": ["11010519491231002x", "110105491231002", "110105194912310020",
        ...                           "110105194902310026", "1.10105E+17", None]})
        >>> for row in df.select(check_citizen_id(pl.col("id"), today=date(2026, 1, 1)))["id"]:
        ...     print(row)
        {'value': '11010519491231002X', 'reason': None, 'sex_code': '2', 'birth_date': datetime.date(1949, 12, 31), 'region_code': '110105', 'warning': None}
        {'value': '11010519491231002X', 'reason': None, 'sex_code': '2', 'birth_date': datetime.date(1949, 12, 31), 'region_code': '110105', 'warning': None}
        {'value': None, 'reason': 'checksum', 'sex_code': None, 'birth_date': None, 'region_code': None, 'warning': None}
        {'value': None, 'reason': 'birth_date', 'sex_code': None, 'birth_date': None, 'region_code': None, 'warning': None}
        {'value': None, 'reason': 'excel_float', 'sex_code': None, 'birth_date': None, 'region_code': None, 'warning': None}
        {'value': None, 'reason': None, 'sex_code': None, 'birth_date': None, 'region_code': None, 'warning': None}
    """
    today = today or date.today()
    oldest = date(today.year - 120, today.month, min(today.day, 28))
    n = F("s")  # the cleaned number, 18 characters if it was a 15-digit legacy number

    # What Excel makes of a long number: an E+ exponent, or a float's .0 tail.
    excel = n.str.contains("E+", literal=True) | n.str.ends_with(".0")
    pairs = byte_pairs(n, 9)
    foreign = n.str.starts_with("9")  # legacy numbers start with a province group, 1-8
    reason = first_reason(
        n,
        (F("excel"), "excel_float"),
        (~F("format_ok"), "format"),
        (~F("check_ok") & n.str.ends_with("000"), "excel_float"),
        (~F("check_ok"), "checksum"),
        (~pairs.arr.get(0).is_in(_province_pairs().implode()), "region"),
        (F("birth").is_null() | (F("birth") < date(1880, 1, 1)), "birth_date"),
        (F("birth") > today, "future_birth_date"),
    )
    warning = (
        pl.when(~foreign & ~in_set(n.str.head(6), known_region_codes()))
        .then(pl.lit("unknown_region"))
        .when(F("birth") < oldest)
        .then(pl.lit("age_over_120"))
    )
    checked = (
        pl.struct(s=clean_code(expr, cleaned=cleaned))
        .struct.with_fields(s=_from_legacy(n))
        .struct.with_fields(total=pair_sum(byte_pairs(n, 9), _id_tables()))
        .struct.with_fields(format_ok=(F("total") < INVALID).fill_null(False))
        .struct.with_fields(
            excel=~F("format_ok") & excel,
            check_ok=pl.when(F("format_ok")).then(F("total") % 11 == 1),
        )
        .struct.with_fields(
            birth=pl.when(F("check_ok")).then(
                n.str.slice(6, 8).str.strptime(pl.Date, "%Y%m%d", strict=False)
            )
        )
        .struct.with_fields(reason=reason)
        .struct.eval(
            value=ok_then(n),
            reason=F("reason"),
            # Character 17 is the low byte of pair 8, and an ASCII digit has the parity of
            # the digit: odd is male.
            sex_code=ok_then(
                pl.when(pairs.arr.get(8) % 2 == 1).then(pl.lit("1")).otherwise(pl.lit("2")),
            ),
            birth_date=ok_then(F("birth")),
            region_code=ok_then(pl.when(~foreign).then(n.str.head(6))),
            warning=ok_then(warning),
        )
    )
    return named_like(checked, expr)
