"""Chinese phone numbers (联系电话): mobile and landline, with the spellings of feeds.md
(``+86 138-0013-8000``, ``0086...``, spaces, dashes, ``(020)12345678``, extensions).

Canonical forms: a mobile is its 11 digits (``13800138000``); a landline is
``<area code>-<number>`` (``020-12345678``), with ``-<extension>`` when one is given. The
area code is 3 digits for ``010`` and ``02x``, 4 digits for every other (``0755``); that
rule makes digit strings without separators unambiguous. The local number has 7 or 8
digits and does not start with 0.

Reason codes (``REASONS``):

- ``format``: neither a mobile nor a landline number in those forms (service numbers such
  as ``400-...`` and ``95xxx`` are not handled).
- ``no_area_code``: a 7- or 8-digit local number without its area code: it cannot be
  made canonical without knowing the city.
"""

from __future__ import annotations

import polars as pl

from schemas.codes._core import F, first_reason, named_like, ok_then
from schemas.codes.text import clean_text

__all__ = ["REASONS", "check_phone", "fast_mobile"]

REASONS: dict[str, str] = {
    "format": "not a mobile or landline number",
    "no_area_code": "a local landline number without its area code",
}

_COUNTRY = r"(?:\+?86|0086)"
_MOBILE = rf"^{_COUNTRY}?(1[3-9][0-9]{{9}})$"
# With the country code, the area code loses its trunk 0 (+86 20 ...); it is put back.
_AREA = r"(?:0?(10|2[0-9])|0?([3-9][0-9]{2}))"
_LANDLINE = (
    rf"^(?:{_COUNTRY}-?(?:{_AREA})|\(?0(10|2[0-9]|[3-9][0-9]{{2}})\)?)"
    r"-?([1-9][0-9]{6,7})(?:(?:-|转|EXT\.?|#|X)([0-9]{1,6}))?$"
)


def _compact(text: pl.Expr) -> pl.Expr:
    # Spaces and dots inside a number are layout. Dashes and brackets are layout in a
    # mobile number, but in a landline they tell the area code and extension apart.
    return text.str.replace_all(r"[\s.]", "").str.to_uppercase()


def _mobile(compact: pl.Expr) -> pl.Expr:
    return compact.str.replace_all(r"[-()]", "").str.extract(_MOBILE, 1)


def check_phone(expr: pl.Expr, *, cleaned: bool = False) -> pl.Expr:
    """Check a phone number and write it in canonical form.

    Returns a struct ``{value, reason, kind}``; ``kind`` is ``mobile`` or ``landline``.
    ``cleaned``: the input is already :func:`~schemas.codes.text.clean_text`'s output and
    is not cleaned again.

    Example:
        >>> df = pl.DataFrame({"p": ["+86 138-0013-8000", "0086 13800138000", "(020)12345678",
        ...                          "020-12345678-801", "+86 755 1234 5678", "87654321", "12345"]})
        >>> for row in df.select(check_phone(pl.col("p")))["p"]:
        ...     print(row)
        {'value': '13800138000', 'reason': None, 'kind': 'mobile'}
        {'value': '13800138000', 'reason': None, 'kind': 'mobile'}
        {'value': '020-12345678', 'reason': None, 'kind': 'landline'}
        {'value': '020-12345678-801', 'reason': None, 'kind': 'landline'}
        {'value': '0755-12345678', 'reason': None, 'kind': 'landline'}
        {'value': None, 'reason': 'no_area_code', 'kind': None}
        {'value': None, 'reason': 'format', 'kind': None}
    """
    s = F("s")
    land = F("land")
    area = "0" + pl.coalesce([land.struct.field(g) for g in ("1", "2", "3")])
    number = area + "-" + land.struct.field("4")
    extension = land.struct.field("5")
    landline = pl.when(extension.is_not_null()).then(number + "-" + extension).otherwise(number)
    reason = first_reason(
        s,
        (F("mobile").is_not_null() | F("landline").is_not_null(), None),
        (s.str.contains(r"^[1-9][0-9]{6,7}$"), "no_area_code"),
        (pl.lit(True), "format"),
    )
    checked = (
        pl.struct(s=_compact(expr if cleaned else clean_text(expr)))
        .struct.with_fields(
            mobile=_mobile(s),
            land=s.str.extract_groups(_LANDLINE),
        )
        .struct.with_fields(landline=landline)
        .struct.with_fields(reason=reason)
        .struct.eval(
            value=ok_then(pl.coalesce(F("mobile"), F("landline"))),
            reason=F("reason"),
            kind=ok_then(
                pl.when(F("mobile").is_not_null())
                .then(pl.lit("mobile"))
                .otherwise(pl.lit("landline"))
            ),
        )
    )
    return named_like(checked, expr)


def fast_mobile(expr: pl.Expr) -> pl.Expr:
    """:func:`check_phone`'s struct for a mobile number, null for any other value: the
    check's answer for most people's numbers at a fraction of its cost (no landline
    pattern, no struct stages).

    It reads the value with its spaces and dashes taken out (literal replaces, no regex
    pass): a value it accepts holds only digits, ``+``, spaces and dashes, which the check
    and cleaning take out too, so it is exact on raw text as well as on cleaned. Dots,
    brackets and other whitespace are left to the check.

    Example:
        >>> df = pl.DataFrame({"p": ["+86 138-0013-8000", "138.0013.8000", "020-12345678", None]})
        >>> df.select(fast_mobile(pl.col("p")))["p"].to_list()
        [{'value': '13800138000', 'reason': None, 'kind': 'mobile'}, None, None, None]
    """
    digits = expr.str.replace_all(" ", "", literal=True).str.replace_all("-", "", literal=True)
    mobile = digits.str.extract(_MOBILE, 1)
    found = pl.struct(value=mobile, reason=pl.lit(None, dtype=pl.String), kind=pl.lit("mobile"))
    return named_like(pl.when(mobile.is_not_null()).then(found), expr)
