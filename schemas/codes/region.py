"""Administrative-division codes: GB/T 2260 (6 digits) and the NBS statistical codes
(统计用区划代码, 9 or 12 digits), standards.md §3.

Codes are retired when divisions merge or are renamed, and old records keep them (the
demo city's ``440102`` 东山区 went into ``440104`` 越秀区 in 2005). The checks therefore
know every code that was ever in force (``data/gbt2260.csv``, see ``data/README.md``) and
map a retired code to its current successor, keeping the code as received in ``original``.

Reason codes (``REASONS``):

- ``format``: not 6 digits (region) / not 9 or 12 digits (statistical code).
- ``unknown``: not a GB/T 2260 code of any period (or a code newer than the table).
- ``retired_no_successor``: a retired code with no known successor, where a current code
  is required.

Warnings (valid, but worth a look): ``development_zone`` — a statistical code whose
county part is an NBS development-zone number (71–80) under a known prefecture; such
zones have no GB/T 2260 code, so ``region_code`` is null.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import polars as pl

from schemas.codes._core import F, clean_code, first_reason, in_set, named_like, ok_then

__all__ = [
    "REASONS",
    "WARNINGS",
    "check_region_code",
    "check_statistical_code",
    "check_street_code",
    "current_region_codes",
    "known_region_codes",
    "province_codes",
    "region_table",
]

REASONS: dict[str, str] = {
    "format": "not a 6-digit code (statistical codes: not 9 or 12 digits)",
    "unknown": "not a GB/T 2260 code of any period",
    "retired_no_successor": "a retired code with no known successor; a current code is required",
}

WARNINGS: dict[str, str] = {
    "development_zone": "an NBS development-zone code; it has no GB/T 2260 county code",
}


@cache
def region_table() -> pl.DataFrame:
    """Every GB/T 2260 code that was ever in force (``data/gbt2260.csv``), read once.

    Example:
        >>> t = region_table()
        >>> t.filter(pl.col("code") == "440102").select("name", "valid_to_year", "successor_code").to_dicts()
        [{'name': '东山区', 'valid_to_year': 2005, 'successor_code': '440104'}]
    """
    path = resources.files("schemas.codes") / "data" / "gbt2260.csv"
    with resources.as_file(path) as csv:
        return pl.read_csv(
            csv,
            schema={
                "code": pl.String,
                "name": pl.String,
                "level": pl.String,
                "parent_code": pl.String,
                "valid_from_year": pl.Int32,
                "valid_to_year": pl.Int32,
                "successor_code": pl.String,
            },
        )


@cache
def known_region_codes() -> frozenset[str]:
    """Every code of any period: the set a citizen ID's address code is checked against.

    >>> {"440102", "440104"} <= known_region_codes()
    True
    """
    return frozenset(region_table()["code"])


@cache
def current_region_codes() -> frozenset[str]:
    """The codes in force now (no ``valid_to_year``).

    >>> "440104" in current_region_codes(), "440102" in current_region_codes()
    (True, False)
    """
    return frozenset(region_table().filter(pl.col("valid_to_year").is_null())["code"])


@cache
def province_codes() -> frozenset[str]:
    """The 2-digit province-level prefixes (11 北京 … 65 新疆, 71, 81, 82).

    >>> len(province_codes()), "44" in province_codes()
    (34, True)
    """
    return frozenset(region_table().filter(pl.col("level") == "province")["code"].str.head(2))


@cache
def _retired_to_current() -> dict[str, str | None]:
    """Retired code -> current code at the end of its successor chain (None: no successor)."""
    successor = dict(
        region_table()
        .filter(pl.col("successor_code").is_not_null())
        .select("code", "successor_code")
        .iter_rows()
    )
    current = current_region_codes()
    mapping: dict[str, str | None] = {}
    for code in known_region_codes() - current:
        seen = {code}
        target: str | None = successor.get(code)
        while target is not None and target not in current:
            if target in seen:  # a cycle in hand-curated data: treat as no successor
                target = None
                break
            seen.add(target)
            target = successor.get(target)
        mapping[code] = target
    return mapping


def _region_fields(code: pl.Expr, *, current_only: bool) -> dict[str, pl.Expr]:
    """Fields ``known``, ``mapped`` (current code) and ``no_successor`` of a 6-digit code."""
    retired = _retired_to_current()
    with_successor = {k: v for k, v in retired.items() if v is not None}
    without = [k for k, v in retired.items() if v is None]
    return {
        "known": in_set(code, known_region_codes()),
        # `replace` leaves codes that are not keys (current ones, retired ones without a
        # successor) as they are.
        "mapped": code.replace(list(with_successor), list(with_successor.values())),
        "no_successor": in_set(code, without) if current_only else pl.lit(False),
    }


def check_region_code(expr: pl.Expr, *, current_only: bool = True) -> pl.Expr:
    """Check a 6-digit GB/T 2260 code and map a retired code to its current successor.

    Returns a struct ``{value, reason, original}``: ``value`` is the current code,
    ``original`` the code as received when it was mapped (else null). With
    ``current_only=False`` a retired code without successor is valid as itself (for fields
    that record a historical fact, such as a citizen ID's address code).

    Example:
        >>> df = pl.DataFrame({"c": ["440106", "440102", "４４０１８３", "110105X", "999999"]})
        >>> for row in df.select(check_region_code(pl.col("c")))["c"].to_list():
        ...     print(row)
        {'value': '440106', 'reason': None, 'original': None}
        {'value': '440104', 'reason': None, 'original': '440102'}
        {'value': '440118', 'reason': None, 'original': '440183'}
        {'value': None, 'reason': 'format', 'original': None}
        {'value': None, 'reason': 'unknown', 'original': None}
    """
    code = F("s")
    reason = first_reason(
        F("s"),
        (~code.str.contains(r"^[0-9]{6}$"), "format"),
        (~F("known"), "unknown"),
        (F("no_successor"), "retired_no_successor"),
    )
    checked = (
        pl.struct(s=clean_code(expr))
        .struct.with_fields(**_region_fields(code, current_only=current_only))
        .struct.with_fields(reason=reason)
        .struct.eval(
            value=ok_then(F("mapped")),
            reason=F("reason"),
            original=ok_then(pl.when(F("mapped") != code).then(code)),
        )
    )
    return named_like(checked, expr)


def _check_statistical(expr: pl.Expr, pattern: str) -> pl.Expr:
    prefix = F("s").str.head(6)
    dev_zone = (
        prefix.str.slice(4, 2).is_in([str(n) for n in range(71, 81)])
        & in_set(prefix.str.head(4) + "00", known_region_codes())
        & ~F("known")
    )
    reason = first_reason(
        F("s"),
        (~F("s").str.contains(pattern), "format"),
        (~F("known") & ~F("dev_zone"), "unknown"),
        (F("no_successor"), "retired_no_successor"),
    )
    checked = (
        pl.struct(s=clean_code(expr))
        .struct.with_fields(**_region_fields(prefix, current_only=True))
        .struct.with_fields(dev_zone=dev_zone)
        .struct.with_fields(reason=reason)
        .struct.eval(
            value=ok_then(F("s")),
            reason=F("reason"),
            region_code=ok_then(pl.when(~F("dev_zone")).then(F("mapped"))),
            street_code=ok_then(F("s").str.head(9)),
            community_code=ok_then(pl.when(F("s").str.len_bytes() == 12).then(F("s"))),
            warning=ok_then(pl.when(F("dev_zone")).then(pl.lit("development_zone"))),
        )
    )
    return named_like(checked, expr)


def check_statistical_code(expr: pl.Expr) -> pl.Expr:
    """Check a 9-digit (street) or 12-digit (community/village) statistical code.

    Returns a struct ``{value, reason, region_code, street_code, community_code, warning}``.
    ``value`` is the code as received (cleaned); ``region_code`` is its 6-digit county
    part mapped to the current GB/T 2260 code. The street and community codes are *not*
    rewritten when the county was retired: NBS renumbers streets under the new county, so a
    rewritten code could name another street. The township/village range conventions of
    standards.md §3.2 are unverified and not checked.

    Example:
        >>> df = pl.DataFrame({"c": ["440106001001", "440102005", "44010600100", "441171001001"]})
        >>> for row in df.select(check_statistical_code(pl.col("c")))["c"].to_list():
        ...     print(row)
        {'value': '440106001001', 'reason': None, 'region_code': '440106', 'street_code': '440106001', 'community_code': '440106001001', 'warning': None}
        {'value': '440102005', 'reason': None, 'region_code': '440104', 'street_code': '440102005', 'community_code': None, 'warning': None}
        {'value': None, 'reason': 'format', 'region_code': None, 'street_code': None, 'community_code': None, 'warning': None}
        {'value': '441171001001', 'reason': None, 'region_code': None, 'street_code': '441171001', 'community_code': '441171001001', 'warning': 'development_zone'}
    """
    return _check_statistical(expr, r"^[0-9]{9}(?:[0-9]{3})?$")


def check_street_code(expr: pl.Expr) -> pl.Expr:
    """Check a 9-digit street (township) statistical code: as :func:`check_statistical_code`
    but a 12-digit community code is a ``format`` error here.

    Example:
        >>> df = pl.DataFrame({"c": ["440106001", "440106001001"]})
        >>> df.select(check_street_code(pl.col("c")).struct.field("reason"))["reason"].to_list()
        [None, 'format']
    """
    return _check_statistical(expr, r"^[0-9]{9}$")
