"""Legal-entity identifiers (standards.md §2): 统一社会信用代码 (GB 32100-2015), the legacy
工商注册号 (GS 15-2006) and 组织机构代码 (GB 11714-1997), and subject codes that may be a
credit code or a citizen ID.

Identifiers are never auto-corrected (§10): a code with ``O`` for ``0`` is a ``format``
error, not a silent fix. Only case and spacing are normalized.

Reason codes (``REASONS``):

- ``format``: wrong length or a character outside the code's alphabet (for credit codes the
  31 characters ``0-9A-HJ-NPQRTUWXY``, a registration authority ``1-9``/``A``/``N``/``Y``, a
  category digit ``1-9`` and a 6-digit region part).
- ``checksum``: the check character does not match (GB 32100 MOD 31; GS 15 ISO 7064
  MOD 11,10; GB 11714 MOD 11).

Warnings on valid credit codes: ``org_code_check`` — the embedded organization code
(characters 9–17) fails its own GB 11714 check, a secondary signal only (§2.3);
``legacy_pilot`` — a known real pilot-era code whose check character is wrong (§2.4),
accepted from :data:`PILOT_ERA_CODES`.

The ``*_check_char`` / ``*_check_digit`` functions are plain Python for data generators
(the demo-city simulator); bulk data goes through the expression checks.
"""

from __future__ import annotations

from functools import cache

import polars as pl

from schemas.codes._core import (
    INVALID,
    F,
    byte_pairs,
    clean_code,
    first_reason,
    named_like,
    ok_then,
    pair_sum,
    pair_tables,
)
from schemas.codes.citizen_id import check_citizen_id

__all__ = [
    "PILOT_ERA_CODES",
    "REASONS",
    "WARNINGS",
    "check_org_code",
    "check_registration_number",
    "check_subject_code",
    "check_uscc",
    "org_code_check_char",
    "registration_number_check_digit",
    "uscc_check_char",
]

REASONS: dict[str, str] = {
    "format": "wrong length, or a character the code does not allow",
    "checksum": "the check character does not match",
}

WARNINGS: dict[str, str] = {
    "org_code_check": "the embedded organization code fails its GB 11714 check",
    "legacy_pilot": "a known pilot-era code whose check character is wrong; accepted",
}

#: Real codes from the Fujian/Xiamen pilot that fail the GB 32100 check (standards.md
#: §2.4). Their embedded organization code verifies. Accepted with warning ``legacy_pilot``.
PILOT_ERA_CODES: frozenset[str] = frozenset(
    {"91350100M0001TGQXM", "91350211M0000XUF46", "91350203M0001FUE2P"}
)

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
_USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_DIGITS = {str(d): d for d in range(10)}
_USCC_VALUES = {c: v for v, c in enumerate(USCC_ALPHABET)}
_BASE36_VALUES = {c: v for v, c in enumerate(_BASE36)}
# Flags added to a pair's table entry: an organization check character that is not 0-9/X,
# and a character the credit code does not allow at that position.
_ORG_BAD, _BAD = 1 << 12, 1 << 16


@cache
def _uscc_tables() -> list[pl.Series]:
    """Byte-pair tables for the GB 32100 check, the format and the embedded GB 11714 check
    in one lookup per pair (see :func:`_decode`).

    GB 32100: registration authority 1-9/A/N/Y, category 1-9, 6 region digits, 10 characters
    of the alphabet; weights 3^i mod 31 and 1 for the check character, so a valid code sums
    to 0 mod 31. GB 11714 over characters 9-17: weights 3 7 9 10 5 8 4 2 on base-36 values
    and 1 on its check character (0-9 or X = 10), so a valid organization code sums to 0
    mod 11. The two residues are stored as one number mod 341 = 31·11 (Chinese remainder
    theorem: 187 ≡ 1 mod 31 and ≡ 0 mod 11, 155 the other way round), so a code costs 9
    lookups instead of 14.
    """
    authority = {c: _USCC_VALUES[c] for c in "123456789ANY"}
    category = {c: _USCC_VALUES[c] for c in "123456789"}
    uscc = pair_tables(
        [authority, category, *[_DIGITS] * 6, *[_USCC_VALUES] * 10], [*_USCC_WEIGHTS, 1], 31
    )
    org = pair_tables(
        [None] * 8 + [_BASE36_VALUES] * 8 + [{**_DIGITS, "X": 10}, None],
        [0] * 8 + [*_ORG_WEIGHTS, 1, 0],
        11,
    )
    u_bad, o_bad = pl.col("u") == INVALID, pl.col("o") == INVALID
    residue = (
        187 * pl.when(u_bad).then(0).otherwise(pl.col("u"))
        + 155 * pl.when(o_bad).then(0).otherwise(pl.col("o"))
    ) % 341
    entry = residue + _ORG_BAD * o_bad.cast(pl.Int32) + _BAD * u_bad.cast(pl.Int32)
    return [
        pl.DataFrame({"u": u, "o": o}).select(entry).to_series()
        for u, o in zip(uscc, org, strict=True)
    ]


def _decode(total: pl.Expr) -> dict[str, pl.Expr]:
    """Format, GB 32100 and GB 11714 verdicts from the sum of the pairs' table entries.

    A residue entry is below 341, so nine sum to at most 3060 < _ORG_BAD; only the last pair
    holds the organization check character, so _ORG_BAD is added at most once; any
    character the credit code does not allow adds _BAD.
    """
    residue = total % _ORG_BAD
    return {
        "format_ok": (total < _BAD).fill_null(False),
        "check_ok": residue % 31 == 0,
        "org_ok": (total % _BAD < _ORG_BAD) & (residue % 11 == 0),
    }


def uscc_check_char(body17: str) -> str:
    """The GB 32100 check character of the first 17 characters (plain Python, generators).

    >>> uscc_check_char("91110000600037341")
    'L'
    """
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(body17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def org_code_check_char(body8: str) -> str:
    """The GB 11714 check character of an 8-character organization code body.

    >>> org_code_check_char("71526726")
    'X'
    """
    total = sum(_BASE36.index(c) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    return "0123456789X0"[11 - total % 11]


def registration_number_check_digit(body14: str) -> str:
    """The ISO 7064 MOD 11,10 check digit of a 14-digit registration number body.

    >>> registration_number_check_digit("44030110854837")
    '9'
    """
    p = 10
    for ch in body14:
        p = 2 * ((p + int(ch)) % 10 or 10) % 11
    return str((11 - p) % 10)


def _org_code_value(body8: pl.Expr) -> pl.Expr:
    """Weighted GB 11714 sum mod 11 of 8 characters, one slice per character."""
    total = pl.sum_horizontal(
        body8.str.slice(i, 1).str.to_integer(base=36, strict=False) * w
        for i, w in enumerate(_ORG_WEIGHTS)
    )
    return (11 - total % 11) % 11


def _org_check_value(char: pl.Expr) -> pl.Expr:
    return pl.when(char == "X").then(pl.lit(10)).otherwise(char.str.to_integer(strict=False))


def check_uscc(expr: pl.Expr) -> pl.Expr:
    """Check a unified social credit code (统一社会信用代码).

    Returns a struct ``{value, reason, warning}``; ``value`` is the upper-case code.

    Example:
        >>> df = pl.DataFrame({"c": ["91110000600037341l", "N23301001234567880", "91110000600037341M",
        ...                          "9111000060003734IL", "91350100M0001TGQXM", "91110000600037342P"]})
        >>> for row in df.select(check_uscc(pl.col("c")))["c"]:
        ...     print(row)
        {'value': '91110000600037341L', 'reason': None, 'warning': None}
        {'value': 'N23301001234567880', 'reason': None, 'warning': None}
        {'value': None, 'reason': 'checksum', 'warning': None}
        {'value': None, 'reason': 'format', 'warning': None}
        {'value': '91350100M0001TGQXM', 'reason': None, 'warning': 'legacy_pilot'}
        {'value': '91110000600037342P', 'reason': None, 'warning': 'org_code_check'}
    """
    s = F("s")
    pilot = s.is_in(sorted(PILOT_ERA_CODES))
    reason = first_reason(
        s,
        (~F("format_ok"), "format"),
        (~F("check_ok") & ~pilot, "checksum"),
    )
    checked = (
        pl.struct(s=clean_code(expr))
        .struct.with_fields(total=pair_sum(byte_pairs(s, 9), _uscc_tables()))
        .struct.with_fields(**_decode(F("total")))
        .struct.with_fields(reason=reason)
        .struct.eval(
            value=ok_then(s),
            reason=F("reason"),
            warning=ok_then(
                pl.when(~F("check_ok"))
                .then(pl.lit("legacy_pilot"))
                .when(~F("org_ok"))
                .then(pl.lit("org_code_check"))
            ),
        )
    )
    return named_like(checked, expr)


def check_registration_number(expr: pl.Expr) -> pl.Expr:
    """Check a legacy 15-digit 工商注册号 (GS 15-2006, ISO 7064 MOD 11,10).

    Returns a struct ``{value, reason}``.

    Example:
        >>> df = pl.DataFrame({"r": ["440301108548379", "440301108548378", "44030110854837"]})
        >>> df.select(check_registration_number(pl.col("r")))["r"].to_list()
        [{'value': '440301108548379', 'reason': None}, {'value': None, 'reason': 'checksum'}, {'value': None, 'reason': 'format'}]
    """
    s = F("s")
    number = s.str.to_integer(strict=False)
    digits = [number // 10 ** (14 - i) % 10 for i in range(15)]
    # The ISO 7064 recurrence, unrolled: p = 2·((p + d) mod 10, or 10 for 0) mod 11.
    p: pl.Expr = pl.lit(10, dtype=pl.Int64)
    for d in digits[:14]:
        p = 2 * ((p + d - 1) % 10 + 1) % 11
    reason = first_reason(
        s,
        (~s.str.contains(r"^[0-9]{15}$"), "format"),
        (~F("check_ok"), "checksum"),
    )
    checked = (
        pl.struct(s=clean_code(expr))
        .struct.with_fields(check_ok=(11 - p) % 10 == digits[14])
        .struct.with_fields(reason=reason)
        .struct.eval(value=ok_then(s), reason=F("reason"))
    )
    return named_like(checked, expr)


def check_org_code(expr: pl.Expr) -> pl.Expr:
    """Check a 9-character organization code (组织机构代码), written with or without the
    dash before the check character (``60003734-1``).

    Returns a struct ``{value, reason}``; ``value`` has no dash, the form embedded in
    credit codes (characters 9–17), so the two can be joined.

    Example:
        >>> df = pl.DataFrame({"o": ["60003734-1", "71526726X", "600037342", "6000373"]})
        >>> df.select(check_org_code(pl.col("o")))["o"].to_list()
        [{'value': '600037341', 'reason': None}, {'value': '71526726X', 'reason': None}, {'value': None, 'reason': 'checksum'}, {'value': None, 'reason': 'format'}]
    """
    s = F("s")
    reason = first_reason(
        s,
        (~s.str.contains(r"^[0-9A-Z]{8}[0-9X]$"), "format"),
        (_org_code_value(s.str.head(8)) != _org_check_value(s.str.slice(8, 1)), "checksum"),
    )
    checked = (
        pl.struct(s=clean_code(expr).str.replace("-", "", literal=True))
        .struct.with_fields(reason=reason)
        .struct.eval(value=ok_then(s), reason=F("reason"))
    )
    return named_like(checked, expr)


def check_subject_code(expr: pl.Expr) -> pl.Expr:
    """Check the code of a credit or licence subject: a credit code or a citizen ID.

    The type is decided by the value: a valid citizen ID (18 characters, or a 15-digit
    legacy number) is ``citizen_id``; anything else is checked as a credit code, except
    that an invalid value shaped like a citizen ID (17 digits + digit or ``X``, or 15
    digits) is reported with the citizen-ID reason. An 18-digit value valid as both is
    taken as a citizen ID; for that, a credit code's characters 7–14 would have to form a
    birth date from 1880 on and both check characters match, which is negligible.

    Returns a struct ``{value, reason, code_type, warning}``.

    Example:
        >>> df = pl.DataFrame({"c": ["91110000600037341L", "11010519491231002X", "110105194912310020", "X"]})
        >>> for row in df.select(check_subject_code(pl.col("c")))["c"]:
        ...     print(row)
        {'value': '91110000600037341L', 'reason': None, 'code_type': 'uscc', 'warning': None}
        {'value': '11010519491231002X', 'reason': None, 'code_type': 'citizen_id', 'warning': None}
        {'value': None, 'reason': 'checksum', 'code_type': 'citizen_id', 'warning': None}
        {'value': None, 'reason': 'format', 'code_type': 'uscc', 'warning': None}
    """
    person = F("person")
    entity = F("entity")
    is_person = person.struct.field("value").is_not_null() | (
        entity.struct.field("value").is_null()
        & F("s").str.contains(r"^(?:[0-9]{17}[0-9X]|[0-9]{15})$")
    )
    chosen = pl.when(F("is_person")).then(person).otherwise(entity)
    checked = (
        pl.struct(s=clean_code(expr))
        .struct.with_fields(
            person=check_citizen_id(F("s")),
            entity=check_uscc(F("s")),
        )
        .struct.with_fields(is_person=is_person)
        .struct.eval(
            value=chosen.struct.field("value"),
            reason=chosen.struct.field("reason"),
            code_type=pl.when(F("s").is_not_null()).then(
                pl.when(F("is_person")).then(pl.lit("citizen_id")).otherwise(pl.lit("uscc"))
            ),
            warning=chosen.struct.field("warning"),
        )
    )
    return named_like(checked, expr)
