"""电子证照标识, the electronic-licence identifier (standards.md §5.2)::

    1.2.156.3005.2.<类型代码>.<颁证机构代码>.<流水号>.<版本号>.<校验位>

The check character is ISO 7064 MOD 37,36 (hybrid, alphabet ``0-9A-Z``) over the four
middle segments concatenated without dots; verified on six real identifiers. Segment
lengths vary in practice (an issuer may be an 18-character credit code or a 6-digit region
code), so only their alphabet is checked; the version is 3 digits.

Reason codes (``REASONS``):

- ``format``: not the root ``1.2.156.3005.2.`` and five dot-separated segments of
  ``0-9A-Z`` with a 3-digit version and a 1-character check, or a payload (the four middle
  segments) longer than 80 characters.
- ``checksum``: the check character does not match (ISO 7064 MOD 37,36).
"""

from __future__ import annotations

import polars as pl

from schemas.codes._core import F, clean_code, first_reason, named_like, ok_then

__all__ = ["MAX_PAYLOAD", "REASONS", "check_licence_id", "licence_id_check_char"]

REASONS: dict[str, str] = {
    "format": "not 1.2.156.3005.2. followed by type, issuer, serial, 3-digit version and check",
    "checksum": "the check character does not match (ISO 7064 MOD 37,36)",
}

ROOT = "1.2.156.3005.2."
#: Longest payload (type + issuer + serial + version) checked: 21 + 18 + a 38-character
#: serial + 3. The real identifiers seen have at most 62.
MAX_PAYLOAD = 80
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_PATTERN = r"^1\.2\.156\.3005\.2\.([0-9A-Z]+)\.([0-9A-Z]+)\.([0-9A-Z]+)\.([0-9]{3})\.([0-9A-Z])$"
# From the start state p = 36, the character I (value 18) leads back to p = 36:
# (36 + 18) mod 36 = 18 and 2·18 mod 37 = 36. Left-padding every payload with I to the same
# length therefore leaves its check unchanged, and the unrolled recurrence needs no guard
# for positions past the end of shorter payloads.
_NEUTRAL_PAD = "I"


def licence_id_check_char(payload: str) -> str:
    """The MOD 37,36 check character of a payload (type + issuer + serial + version,
    without dots). Plain Python, for data generators.

    >>> licence_id_check_char("11100000000013338W03211220000013544541J2430599001")
    'F'
    """
    p = 36
    for ch in payload.upper():
        p = 2 * ((p + _ALPHABET.index(ch)) % 36 or 36) % 37
    return _ALPHABET[(37 - p) % 36]


def _mod_37_36_steps() -> list[dict[str, pl.Expr]]:
    """Struct stages computing field ``p`` over field ``padded`` (Binary, MAX_PAYLOAD long).

    The recurrence is unrolled, 8 positions per stage: one stage per position would be 80
    struct copies, and one expression for all 80 a tree deep enough to slow the planner.
    """
    stages = [{"p": pl.lit(36, dtype=pl.Int32)}]
    for start in range(0, MAX_PAYLOAD, 8):
        p = F("p")
        for i in range(start, min(start + 8, MAX_PAYLOAD)):
            byte = F("padded").bin.get(i, null_on_oob=True).cast(pl.Int32)
            value = byte - 48 - 7 * (byte >= 65).cast(pl.Int32)  # 0-9 → 0-9, A-Z → 10-35
            # (p + v) mod 36, with 0 read as 36, is (p + v - 1) mod 36 + 1.
            p = 2 * ((p + value - 1) % 36 + 1) % 37
        stages.append({"p": p})
    return stages


def check_licence_id(expr: pl.Expr) -> pl.Expr:
    """Check an electronic-licence identifier and split it into its segments.

    Returns a struct ``{value, reason, type_code, issuer_code, serial, version}``; all
    but ``reason`` are null unless the identifier is valid.

    Example:
        >>> df = pl.DataFrame({"i": [
        ...     "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F",
        ...     "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.G",
        ...     "1.2.156.3005.2.11100000000013338W032.2430599.001.F"]})
        >>> for row in df.select(check_licence_id(pl.col("i")))["i"]:
        ...     print(row)
        {'value': '1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F', 'reason': None, 'type_code': '11100000000013338W032', 'issuer_code': '11220000013544541J', 'serial': '2430599', 'version': '001'}
        {'value': None, 'reason': 'checksum', 'type_code': None, 'issuer_code': None, 'serial': None, 'version': None}
        {'value': None, 'reason': 'format', 'type_code': None, 'issuer_code': None, 'serial': None, 'version': None}
    """
    s = F("s")
    parts = F("parts")
    payload = pl.concat_str([parts.struct.field(g) for g in "1234"])
    check = parts.struct.field("5").str.to_integer(base=36, strict=False)
    reason = first_reason(
        s,
        (parts.struct.field("1").is_null(), "format"),
        (payload.str.len_bytes() > MAX_PAYLOAD, "format"),
        (F("check") != check, "checksum"),
    )
    checked = pl.struct(s=clean_code(expr)).struct.with_fields(parts=s.str.extract_groups(_PATTERN))
    checked = checked.struct.with_fields(
        padded=pl.when(payload.str.len_bytes() <= MAX_PAYLOAD).then(
            payload.str.pad_start(MAX_PAYLOAD, _NEUTRAL_PAD).cast(pl.Binary)
        )
    )
    for stage in _mod_37_36_steps():
        checked = checked.struct.with_fields(**stage)
    checked = (
        checked.struct.with_fields(check=(37 - F("p")) % 36)
        .struct.with_fields(reason=reason)
        .struct.eval(
            value=ok_then(s),
            reason=F("reason"),
            type_code=ok_then(parts.struct.field("1")),
            issuer_code=ok_then(parts.struct.field("2")),
            serial=ok_then(parts.struct.field("3")),
            version=ok_then(parts.struct.field("4")),
        )
    )
    return named_like(checked, expr)
