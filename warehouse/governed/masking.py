"""Display masks as DuckDB expressions, built with sqlglot (standards.md §8.3).

Each masking kind of :data:`schemas.standard.Masking` becomes one SQL expression over the
raw column, evaluated by DuckDB inside the lake-reading subquery that replaces the table
in a governed query (see :mod:`warehouse.governed`). Nothing is masked row by row in
Python: the masked value is all the rest of the query ever sees.

>>> import duckdb
>>> def show(masking, value):
...     masked = mask_expression(masking, exp.Literal.string(value), "VARCHAR")
...     return duckdb.sql(exp.select(masked).sql("duckdb")).fetchone()[0]
>>> show("id_number", "11010519491231002X"), show("name", "张三"), show("phone", "13812341234")
('110105********002X', '张*', '138****1234')
>>> show("name", "欧阳娜娜"), show("phone", "020-87654321")
('欧阳**', '020-******21')
>>> show("address", "广州市天河区石牌街道天河路1号2栋301房")
'广州市天河区石牌街道****'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from schemas.errors import SpecError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from schemas.standard import Masking

# Surnames of two characters (复姓): the mask keeps both, as 欧阳** (standards.md §8.3).
COMPOUND_SURNAMES = (
    "欧阳",
    "司马",
    "诸葛",
    "上官",
    "东方",
    "皇甫",
    "尉迟",
    "公孙",
    "慕容",
    "长孙",
    "宇文",
    "司徒",
    "令狐",
    "夏侯",
    "轩辕",
    "端木",
    "独孤",
    "南宫",
    "西门",
    "澹台",
    "申屠",
    "太史",
    "呼延",
    "钟离",
)

# A subject column (credit, licence, alerts) may name an organization or a natural person.
# Organizations' names and USCCs are public registration data and stay readable; a row is
# an organization only when its sibling column says so. Anything else, NULL included, is
# masked: the safe side.
ORGANIZATION_MARKERS: tuple[tuple[str, str], ...] = (
    ("_code_type", "uscc"),  # credit_*.subject_code_type, licence.holder_code_type
    ("_kind", "entity"),  # mart.alerts.subject_kind
)


def _s(value: str) -> exp.Literal:
    return exp.Literal.string(value)


def _n(value: int) -> exp.Literal:
    return exp.Literal.number(value)


def _fn(name: str, *args: exp.Expression) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _concat(*parts: exp.Expression) -> exp.Expression:
    out = parts[0]
    for part in parts[1:]:
        out = exp.DPipe(this=out, expression=part, safe=True)
    return out


def _stars(count: exp.Expression) -> exp.Expression:
    # GREATEST by name: sqlglot's Greatest adds NULL guards DuckDB does not need.
    return exp.Repeat(this=_s("*"), times=_fn("GREATEST", count, _n(0)))


def _length(col: exp.Expression) -> exp.Expression:
    return exp.Length(this=col.copy())


def _left(col: exp.Expression, n: int) -> exp.Expression:
    return exp.Left(this=col.copy(), expression=_n(n))


def _right(col: exp.Expression, n: int) -> exp.Expression:
    return exp.Right(this=col.copy(), expression=_n(n))


def _case(*whens: tuple[exp.Expression, exp.Expression], default: exp.Expression) -> exp.Case:
    case = exp.Case()
    for condition, value in whens:
        case = case.when(condition, value)
    return case.else_(default)


def mask_id_number(col: exp.Expression) -> exp.Expression:
    """First 6 and last 4 of an 18-character ID (the birth date hidden); other lengths
    keep their first and last character.

    >>> mask_id_number(exp.column("id_number")).sql("duckdb")[:70]
    "CASE WHEN LENGTH(id_number) = 18 THEN LEFT(id_number, 6) || '********'"
    """
    return _case(
        (
            exp.EQ(this=_length(col), expression=_n(18)),
            _concat(_left(col, 6), _s("*" * 8), _right(col, 4)),
        ),
        (
            exp.GT(this=_length(col), expression=_n(2)),
            _concat(
                _left(col, 1), _stars(exp.Sub(this=_length(col), expression=_n(2))), _right(col, 1)
            ),
        ),
        default=_stars(_length(col)),
    )


def mask_name(col: exp.Expression) -> exp.Expression:
    """Keep the surname (both characters of a compound one), star the rest: 张*, 欧阳**."""
    compound = exp.And(
        this=exp.GT(this=_length(col), expression=_n(2)),
        expression=exp.In(this=_left(col, 2), expressions=[_s(s) for s in COMPOUND_SURNAMES]),
    )
    return _case(
        (compound, _concat(_left(col, 2), _stars(exp.Sub(this=_length(col), expression=_n(2))))),
        (
            exp.GT(this=_length(col), expression=_n(1)),
            _concat(_left(col, 1), _stars(exp.Sub(this=_length(col), expression=_n(1)))),
        ),
        default=_stars(_length(col)),
    )


def mask_phone(col: exp.Expression) -> exp.Expression:
    """Mobile: 3 + last 4 (``138****1234``); landline: area code + last 2
    (``020-******78``); anything else: last 2."""
    area = exp.SplitPart(this=col.copy(), delimiter=_s("-"), part_index=_n(1))
    rest = exp.Sub(
        this=exp.Sub(this=_length(col), expression=exp.Length(this=area.copy())),
        expression=_n(3),
    )
    return _case(
        (
            exp.RegexpFullMatch(this=col.copy(), expression=_s("1[0-9]{10}")),
            _concat(_left(col, 3), _s("****"), _right(col, 4)),
        ),
        (
            exp.RegexpFullMatch(this=col.copy(), expression=_s("0[0-9]{2,3}-[0-9]{5,8}")),
            _concat(area, _s("-"), _stars(rest), _right(col, 2)),
        ),
        default=_concat(_stars(exp.Sub(this=_length(col), expression=_n(2))), _right(col, 2)),
    )


def mask_address(col: exp.Expression) -> exp.Expression:
    """Keep the address down to the street (街道/镇/乡), else the district (区/县), else the
    city, then ``****``."""

    def upto(pattern: str) -> exp.Expression:
        return exp.Nullif(
            this=exp.RegexpExtract(this=col.copy(), expression=_s(pattern), group=_n(0)),
            expression=_s(""),
        )

    kept = exp.Coalesce(
        this=upto("^.*?(?:街道|镇|乡)"),
        expressions=[upto("^.*?(?:区|县)"), upto("^.*?市"), _s("")],
    )
    return _concat(kept, _s("****"))


def mask_date_to_year(col: exp.Expression) -> exp.Expression:
    """1 January of the year: still a DATE, so ``year()`` and age bands keep working."""
    return exp.cast(
        exp.TimestampTrunc(this=col.copy(), unit=exp.var("YEAR")), exp.DataType.Type.DATE
    )


def redact(sql_type: str) -> exp.Expression:
    """A typed NULL: the column stays in ``SELECT *`` with its type, and holds nothing."""
    return exp.cast(exp.null(), exp.DataType.build(sql_type, dialect="duckdb"))


_MASKS: Mapping[str, Callable[[exp.Expression], exp.Expression]] = {
    "id_number": mask_id_number,
    "name": mask_name,
    "phone": mask_phone,
    "address": mask_address,
    "date_to_year": mask_date_to_year,
}


def mask_expression(masking: Masking, col: exp.Expression, sql_type: str) -> exp.Expression:
    """The masked form of ``col`` for a masking kind of the data standard.

    NULL stays NULL (every mask is NULL-in, NULL-out, or a typed NULL for ``redact``).

    >>> mask_expression("date_to_year", exp.column("birth_date"), "DATE").sql("duckdb")
    "CAST(DATE_TRUNC('YEAR', birth_date) AS DATE)"
    >>> mask_expression("redact", exp.column("ethnicity_code"), "VARCHAR").sql("duckdb")
    'CAST(NULL AS TEXT)'
    """
    if masking == "none":
        return col
    if masking == "redact":
        return redact(sql_type)
    try:
        mask = _MASKS[masking]
    except KeyError:
        known = ", ".join(["none", "redact", *_MASKS])
        msg = (
            f"masking {masking!r} has no SQL mask in warehouse/governed/masking.py; known: {known}"
        )
        raise SpecError(msg) from None
    if sql_type.upper() not in {"VARCHAR", "TEXT", "DATE"}:
        msg = f"masking {masking!r} applies to text and dates; the column is {sql_type}"
        raise SpecError(msg)
    if masking == "date_to_year":
        return mask(col)
    # NULL in, NULL out: a missing phone must not come back as a row of stars.
    return _case((exp.Is(this=col.copy(), expression=exp.null()), exp.null()), default=mask(col))


def organization_marker(column: str, columns: Mapping[str, str]) -> tuple[str, str] | None:
    """The sibling column (and its value) that marks a row as an organization, if any.

    >>> organization_marker("holder_name", {"holder_code_type": "VARCHAR"})
    ('holder_code_type', 'uscc')
    >>> organization_marker("subject_code", {"subject_kind": "VARCHAR"})
    ('subject_kind', 'entity')
    >>> organization_marker("name", {"name": "VARCHAR"}) is None
    True
    """
    prefix, sep, _ = column.rpartition("_")
    if not sep:
        return None
    for suffix, value in ORGANIZATION_MARKERS:
        if prefix + suffix in columns:
            return prefix + suffix, value
    return None
