"""Money amounts as departments write them (注册资本, 罚款金额): ``500万元人民币``,
``500万人民币``, ``5000000元``, ``100万美元``, ``50万港元``, ``1,000.5万元``, ``¥500``, or a
bare ``500`` in the column's conventional unit (``default_unit``, 万元 for 注册资本).

Amounts become ``Decimal(18, 2)`` in units of the currency (yuan, dollars), never floats.
Chinese numerals (``壹佰万元``) are not parsed: they are rare in registry exports and a
wrong reading would be silent, so they are a ``format`` error to be fixed at the source.
A currency named both before and after the number must agree (``$500美元`` is fine,
``$500元`` is not).

Reason codes (``REASONS``):

- ``format``: not a number with optional sign, thousands separators, scale (千/万/百万/
  千万/亿) and currency.
- ``negative``: the amount is below zero.
- ``unknown_currency``: the currency is not one of :data:`CURRENCY_SPELLINGS`, or the two
  currencies given disagree.
- ``out_of_range``: the amount does not fit Decimal(18, 2) (above 10^16 units).
"""

from __future__ import annotations

import polars as pl

from schemas.codes._core import F, first_reason, named_like, ok_then
from schemas.codes.text import clean_text

__all__ = ["CURRENCY_SPELLINGS", "REASONS", "check_currency", "parse_money"]

REASONS: dict[str, str] = {
    "format": "not an amount: number, optional scale (万, 亿 ...) and currency",
    "negative": "the amount is negative",
    "unknown_currency": "the currency is unknown, or two different currencies are given",
    "out_of_range": "the amount does not fit Decimal(18, 2)",
}

#: Spelling (upper-cased, after NFKC) → ISO 4217 code. ``元`` alone is the yuan.
CURRENCY_SPELLINGS: dict[str, str] = {
    **dict.fromkeys(
        ["元", "圆", "人民币", "元人民币", "人民币元", "RMB", "CNY", "¥", "RMB¥"], "CNY"
    ),
    **dict.fromkeys(["美元", "美金", "USD", "US$", "$"], "USD"),
    **dict.fromkeys(["港元", "港币", "HKD", "HK$"], "HKD"),
    **dict.fromkeys(["欧元", "EUR", "€"], "EUR"),
    **dict.fromkeys(["日元", "日圆", "JPY", "円"], "JPY"),
    **dict.fromkeys(["英镑", "GBP", "£"], "GBP"),
    **dict.fromkeys(["澳门元", "澳门币", "MOP"], "MOP"),
    **dict.fromkeys(["新台币", "台币", "TWD"], "TWD"),
    **dict.fromkeys(["澳元", "澳大利亚元", "AUD"], "AUD"),
    **dict.fromkeys(["加元", "加拿大元", "CAD"], "CAD"),
    **dict.fromkeys(["新加坡元", "SGD"], "SGD"),
    **dict.fromkeys(["瑞士法郎", "CHF"], "CHF"),
    **dict.fromkeys(["韩元", "KRW"], "KRW"),
    **dict.fromkeys(["卢布", "俄罗斯卢布", "RUB"], "RUB"),
}

_SCALES = {"": 1, "千": 1_000, "万": 10_000, "百万": 1_000_000, "千万": 10_000_000, "亿": 10**8}
_UNITS = {"元": 1, "万元": 10_000, "亿元": 10**8}
_NUMBER = r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?|\.[0-9]+"
# prefix currency, sign, number, scale, suffix currency (then an optional 整, "exactly").
_PATTERN = rf"^([^0-9+\-.,]*?)([+-]?)({_NUMBER})(千万|百万|千|万|亿)?([^0-9,.]*?)整?$"


def _currency(spelling: pl.Expr) -> pl.Expr:
    return spelling.replace_strict(CURRENCY_SPELLINGS, default=None, return_dtype=pl.String)


def parse_money(expr: pl.Expr, *, default_unit: str = "万元") -> pl.Expr:
    """Parse an amount of money into ``Decimal(18, 2)`` units of its currency.

    Returns a struct ``{value, reason, currency}``. A bare number (no scale, no currency)
    is in ``default_unit`` (``元``, ``万元`` or ``亿元``) of CNY.

    Example:
        >>> df = pl.DataFrame({"m": ["500万元人民币", "5000000元", "100万美元", "1,000.5万元",
        ...                          "500", "-3万元", "500万卢比", "壹佰万元"]})
        >>> for row in df.select(parse_money(pl.col("m")))["m"]:
        ...     print(row)
        {'value': Decimal('5000000.00'), 'reason': None, 'currency': 'CNY'}
        {'value': Decimal('5000000.00'), 'reason': None, 'currency': 'CNY'}
        {'value': Decimal('1000000.00'), 'reason': None, 'currency': 'USD'}
        {'value': Decimal('10005000.00'), 'reason': None, 'currency': 'CNY'}
        {'value': Decimal('5000000.00'), 'reason': None, 'currency': 'CNY'}
        {'value': None, 'reason': 'negative', 'currency': None}
        {'value': None, 'reason': 'unknown_currency', 'currency': None}
        {'value': None, 'reason': 'format', 'currency': None}
    """
    if default_unit not in _UNITS:
        msg = f"parse_money: default_unit {default_unit!r}; expected one of {sorted(_UNITS)}"
        raise ValueError(msg)
    s, parts = F("s"), F("parts")
    prefix, sign, number = (parts.struct.field(g) for g in "123")
    scale, suffix = parts.struct.field("4").fill_null(""), parts.struct.field("5")
    bare = (prefix == "") & (scale == "") & (suffix == "")
    multiplier = (
        pl.when(bare)
        .then(pl.lit(_UNITS[default_unit]))
        .otherwise(scale.replace_strict(_SCALES, return_dtype=pl.Int64, default=None))
    )
    amount = number.str.replace_all(",", "", literal=True).str.to_decimal(scale=6) * multiplier
    currency = pl.coalesce(F("prefix_currency"), F("suffix_currency"), pl.lit("CNY"))
    reason = first_reason(
        s,
        (parts.struct.field("3").is_null(), "format"),
        # Text around the number that names no currency: a typo, a word, a numeral.
        ((prefix != "") & F("prefix_currency").is_null(), "unknown_currency"),
        ((suffix != "") & F("suffix_currency").is_null(), "unknown_currency"),
        (F("prefix_currency") != F("suffix_currency"), "unknown_currency"),
        ((sign == "-") & (F("amount") != 0), "negative"),
        (F("amount").cast(pl.Decimal(18, 2), strict=False).is_null(), "out_of_range"),
    )
    checked = (
        pl.struct(s=clean_text(expr).str.replace_all(r"\s", "").str.to_uppercase())
        .struct.with_fields(parts=s.str.extract_groups(_PATTERN))
        .struct.with_fields(
            prefix_currency=pl.when(prefix != "").then(_currency(prefix)),
            suffix_currency=pl.when(suffix != "").then(_currency(suffix)),
            amount=pl.when(parts.struct.field("3").is_not_null()).then(amount),
        )
        .struct.with_fields(reason=reason)
        .struct.eval(
            value=ok_then(F("amount").cast(pl.Decimal(18, 2), strict=False)),
            reason=F("reason"),
            currency=ok_then(currency),
        )
    )
    return named_like(checked, expr)


def check_currency(expr: pl.Expr) -> pl.Expr:
    """Check a currency given as an ISO 4217 code or a Chinese name (``美元`` → ``USD``).

    Returns a struct ``{value, reason}``; the reason is ``unknown_currency``.

    Example:
        >>> df = pl.DataFrame({"c": ["cny", "人民币", "港币", "XYZ"]})
        >>> df.select(check_currency(pl.col("c")))["c"].to_list()
        [{'value': 'CNY', 'reason': None}, {'value': 'CNY', 'reason': None}, {'value': 'HKD', 'reason': None}, {'value': None, 'reason': 'unknown_currency'}]
    """
    s = F("s")
    checked = (
        pl.struct(s=clean_text(expr).str.replace_all(r"\s", "").str.to_uppercase())
        .struct.with_fields(code=_currency(s))
        .struct.with_fields(reason=first_reason(s, (F("code").is_null(), "unknown_currency")))
        .struct.eval(value=ok_then(F("code")), reason=F("reason"))
    )
    return named_like(checked, expr)
