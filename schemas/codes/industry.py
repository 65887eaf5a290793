"""国民经济行业分类 GB/T 4754-2017 (standards.md §4.3): section letter and division digits.

Codes are stored as ``I6510``: the section letter (门类) and 2 to 4 digits (大类 / 中类 /
小类; the first two are the division). Feeds send ``6510`` without the letter, or with a
wrong one; the letter is derived from the division and a contradicting letter rejected.
Only the division is checked against the table: the 473 groups and 1380 classes are not
tabulated here, so ``I6599`` passes if division 65 exists.

Reason codes (``REASONS``):

- ``format``: not an optional letter ``A``–``T`` followed by 2, 3 or 4 digits.
- ``unknown_division``: the first two digits are no GB/T 4754-2017 division (00, 98, 99).
- ``section_mismatch``: the letter given is not the section of the division (``C6510``).
- ``unknown_section``: (section check) not a section letter ``A``–``T``.
"""

from __future__ import annotations

import polars as pl

from schemas.codes._core import F, clean_code, first_reason, named_like, ok_then

__all__ = [
    "REASONS",
    "SECTIONS",
    "check_industry_code",
    "check_industry_section",
    "division_section",
]

REASONS: dict[str, str] = {
    "format": "not an optional section letter followed by 2 to 4 digits",
    "unknown_division": "the first two digits are not a GB/T 4754-2017 division",
    "section_mismatch": "the section letter given does not match the division",
    "unknown_section": "not a GB/T 4754-2017 section letter (A to T)",
}

#: Section letter → (name, first division, last division), GB/T 4754-2017.
SECTIONS: dict[str, tuple[str, int, int]] = {
    "A": ("农、林、牧、渔业", 1, 5),
    "B": ("采矿业", 6, 12),
    "C": ("制造业", 13, 43),
    "D": ("电力、热力、燃气及水生产和供应业", 44, 46),
    "E": ("建筑业", 47, 50),
    "F": ("批发和零售业", 51, 52),
    "G": ("交通运输、仓储和邮政业", 53, 60),
    "H": ("住宿和餐饮业", 61, 62),
    "I": ("信息传输、软件和信息技术服务业", 63, 65),
    "J": ("金融业", 66, 69),
    "K": ("房地产业", 70, 70),
    "L": ("租赁和商务服务业", 71, 72),
    "M": ("科学研究和技术服务业", 73, 75),
    "N": ("水利、环境和公共设施管理业", 76, 79),
    "O": ("居民服务、修理和其他服务业", 80, 82),
    "P": ("教育", 83, 83),
    "Q": ("卫生和社会工作", 84, 85),
    "R": ("文化、体育和娱乐业", 86, 90),
    "S": ("公共管理、社会保障和社会组织", 91, 96),
    "T": ("国际组织", 97, 97),
}


def division_section() -> dict[str, str]:
    """Two-digit division → section letter (``"65"`` → ``"I"``), all 97 divisions.

    >>> division_section()["65"], len(division_section())
    ('I', 97)
    """
    return {
        f"{d:02d}": letter
        for letter, (_, first, last) in SECTIONS.items()
        for d in range(first, last + 1)
    }


def check_industry_code(expr: pl.Expr) -> pl.Expr:
    """Check a GB/T 4754-2017 industry code and derive its section letter.

    Returns a struct ``{value, reason, section}``; ``value`` is the letter followed by the
    digits as given (``6510`` → ``I6510``, ``i65`` → ``I65``).

    Example:
        >>> df = pl.DataFrame({"c": ["I6510", "6510", "c6510", "C6510", "9910", "I65A"]})
        >>> for row in df.select(check_industry_code(pl.col("c")))["c"]:
        ...     print(row)
        {'value': 'I6510', 'reason': None, 'section': 'I'}
        {'value': 'I6510', 'reason': None, 'section': 'I'}
        {'value': None, 'reason': 'section_mismatch', 'section': None}
        {'value': None, 'reason': 'section_mismatch', 'section': None}
        {'value': None, 'reason': 'unknown_division', 'section': None}
        {'value': None, 'reason': 'format', 'section': None}
    """
    s = F("s")
    parts = s.str.extract_groups(r"^([A-T])?([0-9]{2,4})$")
    letter = F("parts").struct.field("1")
    digits = F("parts").struct.field("2")
    reason = first_reason(
        s,
        (digits.is_null(), "format"),
        (F("section").is_null(), "unknown_division"),
        (letter.is_not_null() & (letter != F("section")), "section_mismatch"),
    )
    checked = (
        pl.struct(s=clean_code(expr))
        .struct.with_fields(parts=parts)
        .struct.with_fields(
            section=digits.str.head(2).replace_strict(
                division_section(), default=None, return_dtype=pl.String
            )
        )
        .struct.with_fields(reason=reason)
        .struct.eval(
            value=ok_then(F("section") + digits),
            reason=F("reason"),
            section=ok_then(F("section")),
        )
    )
    return named_like(checked, expr)


def check_industry_section(expr: pl.Expr) -> pl.Expr:
    """Check a GB/T 4754-2017 section letter (门类, ``A``–``T``).

    Returns a struct ``{value, reason}``.

    Example:
        >>> df = pl.DataFrame({"s": ["i", "T", "U"]})
        >>> df.select(check_industry_section(pl.col("s")))["s"].to_list()
        [{'value': 'I', 'reason': None}, {'value': 'T', 'reason': None}, {'value': None, 'reason': 'unknown_section'}]
    """
    s = F("s")
    checked = (
        pl.struct(s=clean_code(expr))
        .struct.with_fields(reason=first_reason(s, (~s.is_in(list(SECTIONS)), "unknown_section")))
        .struct.eval(value=ok_then(s), reason=F("reason"))
    )
    return named_like(checked, expr)
