"""人口: the population feed (市公安局, feeds.md §1) normalized to ``core.person``.

``STEPS`` is the ordered tuple of step builders: each takes the
:class:`~transforms.context.NormalizeContext` and returns a pure ``LazyFrame -> LazyFrame``
step. :func:`normalize_persons` runs them and ends in ``split`` (business key
``id_number``, newest ``source_updated_at`` wins, then the later source row), which
computes the :data:`DERIVED` columns (``person_key``) on the valid rows.

The citizen ID is the authority for sex and birth date (GB 11643, standards.md §1.3 step
6): a declared value that contradicts it rejects the row (``sex_code.mismatch_id``,
``birth_date.mismatch_id``), since the bureau must say which one is wrong; a declared sex
that says nothing (``0`` 未知, ``9`` 未说明, or empty) and an empty birth date are filled
from the ID with a warning (``sex_code.from_id``, ``birth_date.from_id``).

Reason codes emitted (``<column>.<code>``; the code tables are the checks' ``REASONS``):

- ``id_number.*``: :data:`schemas.codes.citizen_id.REASONS` (format, checksum, ...).
- ``sex_code.unknown``, ``sex_code.mismatch_id``.
- ``birth_date.*`` from the date parser, ``birth_date.mismatch_id``.
- ``ethnicity_code.unknown``.
- ``hukou_region_code.*`` / ``residence_street_code.*``: :data:`schemas.codes.region.REASONS`.
- ``population_type.unknown``, ``is_deceased.unknown``.
- ``phone.*`` from the phone check; ``source_updated_at.*`` from the datetime parser.
- ``<required column>.missing`` for id_number, name, population_type, birth_date,
  sex_code, is_deceased, source_updated_at.
"""

from __future__ import annotations

from functools import partial

import polars as pl

from schemas.codes.citizen_id import check_citizen_id
from schemas.codes.dates import parse_date, parse_datetime
from schemas.codes.person_codes import check_ethnicity_code, check_sex_code
from schemas.codes.phone import check_phone, fast_mobile
from schemas.codes.region import check_region_code, check_statistical_code
from schemas.codes.text import collapse_spaces
from schemas.records.population import Person
from transforms.batch import (
    NormalizedBatch,
    Step,
    begin,  # noqa: F401 (the doctests build their frames with it)
    flag_where,
    has_reasons,
    reason_lists,  # noqa: F401 (the doctests show the reasons with it)
    require,
    warn_where,
)
from transforms.common import (
    StepBuilder,
    check_column,
    cleaned_later,
    fast_date,
    fast_datetime,
    map_fields,
    normalize_with,
)
from transforms.context import NormalizeContext
from transforms.person_key import hmac_sha256_hex

__all__ = ["DERIVED", "REQUIRED", "STEPS", "normalize_persons"]


REQUIRED = (
    "id_number",
    "name",
    "population_type",
    "birth_date",
    "sex_code",
    "is_deceased",
    "source_updated_at",
)
# Sex codes that say nothing about the person (GB/T 2261.1 0 未知, 9 未说明): the ID knows.
_SEX_UNSTATED = ("0", "9")
_POPULATION_TYPES = {
    "1": "registered",
    "2": "floating",
    "户籍人口": "registered",
    "流动人口": "floating",
}
_DECEASED = {"0": False, "1": True, "否": False, "是": True}
# Derived from the ID by the first step, compared by the cross-field steps, then dropped.
_ID_SEX, _ID_BIRTH = "_id_sex_code", "_id_birth_date"
_FROM_ID = ("sex_code", "birth_date")
# Free text no step looks at: cleaned after the split, for the valid rows alone (0.2 CPU-s
# per 631k rows off the steps, each chunk's longest stretch).
_FREE_TEXT = ("hukou_address", "residence_address")


def map_source_fields(ctx: NormalizeContext) -> Step:
    """The bureau's field names (GMSFHM, XM ...) to canonical columns, text cleaned (the
    addresses after the split: :data:`DERIVED`).

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={"name": ["XM"]}, today=date(2026, 1, 1))
    >>> map_source_fields(ctx)(pl.LazyFrame({"XM": ["\\u3000张三 "]})).collect()["name"].to_list()
    ['张三']
    """
    return map_fields(ctx.fields, clean_later=_FREE_TEXT)


def normalize_id_number(ctx: NormalizeContext) -> Step:
    """The canonical 18-character ID (``x`` → ``X``, 15 → 18 digits; NFKC by the mapping), keeping the
    sex and birth date it encodes for the cross-field steps.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"id_number": ["110105491231002", "110105194912310020"]}))
    >>> normalize_id_number(ctx)(lf).pipe(reason_lists).select("id_number", _ID_SEX, "_reasons").collect().rows()
    [('11010519491231002X', '2', []), (None, None, ['id_number.checksum'])]
    """
    return check_column(
        "id_number",
        # map_source_fields cleaned the column already.
        partial(check_citizen_id, today=ctx.today, cleaned=True),
        extras={"sex_code": _ID_SEX, "birth_date": _ID_BIRTH},
    )


def normalize_name(ctx: NormalizeContext) -> Step:
    """Names lose the spaces typed between Chinese characters (``张 三`` → ``张三``).

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = pl.LazyFrame({"name": ["张 三", "欧阳 娜娜"]})
    >>> normalize_name(ctx)(lf).collect()["name"].to_list()
    ['张三', '欧阳娜娜']
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.with_columns(collapse_spaces(pl.col("name")))

    return step


def normalize_sex_code(ctx: NormalizeContext) -> Step:
    """GB/T 2261.1 code from ``1``/``2``/``0``/``9`` or ``男``/``女``, checked against the ID.

    A declared ``1``/``2`` that contradicts the ID is rejected (``mismatch_id``); an
    unstated sex (``0``, ``9``, empty) takes the ID's, with a ``from_id`` warning. ``5``/``6``
    (sex changed) are kept as declared: the ID's digit says the sex at issue.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"sex_code": ["女", "9", None, "1", "3"], _ID_SEX: ["2", "1", "1", "2", "1"]}))
    >>> for row in normalize_sex_code(ctx)(lf).pipe(reason_lists).select("sex_code", "_reasons", "_warnings").collect().rows():
    ...     print(row)
    ('2', [], [])
    ('1', [], ['sex_code.from_id'])
    ('1', [], ['sex_code.from_id'])
    (None, ['sex_code.mismatch_id'], [])
    (None, ['sex_code.unknown'], [])
    """
    declared, derived = pl.col("sex_code"), pl.col(_ID_SEX)
    check = check_column("sex_code", check_sex_code, distinct=True)
    mismatch = declared.is_in(["1", "2"]) & derived.is_not_null() & (declared != derived)
    # Empty as delivered, or a code that states nothing; an unknown code (``3``) is neither:
    # the check rejected it, and it is not filled.
    unstated = (pl.col("_sex_empty") | declared.is_in(_SEX_UNSTATED)) & derived.is_not_null()

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        frame = check(frame.with_columns(declared.is_null().alias("_sex_empty")))
        frame = flag_where(frame, "sex_code", "mismatch_id", mismatch)
        frame = warn_where(frame, "sex_code", "from_id", unstated)
        return frame.with_columns(
            pl.when(mismatch)
            .then(None)
            .when(unstated)
            .then(derived)
            .otherwise(declared)
            .alias("sex_code")
        ).drop("_sex_empty")

    return step


def normalize_birth_date(ctx: NormalizeContext) -> Step:
    """出生日期 from any spelling, checked against the ID's birth date.

    A declared date that contradicts the ID is rejected (``mismatch_id``); an empty one is
    taken from the ID, with a ``from_id`` warning.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"birth_date": ["1949年12月31日", None, "19491230", "1949-02-30", "19491231"],
    ...                          "id_number": ["11010519491231002X"] * 5,
    ...                          _ID_BIRTH: [date(1949, 12, 31)] * 5}))
    >>> for row in normalize_birth_date(ctx)(lf).pipe(reason_lists).select("birth_date", "_reasons", "_warnings").collect().rows():
    ...     print(row)
    (datetime.date(1949, 12, 31), [], [])
    (datetime.date(1949, 12, 31), [], ['birth_date.from_id'])
    (None, ['birth_date.mismatch_id'], [])
    (None, ['birth_date.invalid_date'], [])
    (datetime.date(1949, 12, 31), [], [])
    """
    declared, derived = pl.col("birth_date"), pl.col(_ID_BIRTH)
    parse = check_column("birth_date", parse_date, fast=fast_date)
    # Most rows spell the date as the valid ID's digits 7-14 (``yyyyMMdd``), which the
    # parser reads as exactly the ID's birth date (valid, not open-ended): those rows are
    # hidden from it as null and given the ID's date back (0.03 CPU-s of the step's 0.25 per
    # million rows; a third twin answering them inside with_check cost more than it saved).
    as_id = (declared == pl.col("id_number").str.slice(6, 8)) & derived.is_not_null()
    mismatch = declared.is_not_null() & derived.is_not_null() & (declared != derived)
    # Only a date delivered empty is filled: an unreadable one keeps the parser's reason.
    fill = pl.col("_birth_empty") & derived.is_not_null()

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        frame = frame.with_columns(
            declared.is_null().alias("_birth_empty"),
            as_id.alias("_birth_as_id"),
            pl.when(~as_id).then(declared).alias("birth_date"),
        )
        frame = parse(frame).with_columns(
            pl.when(pl.col("_birth_as_id")).then(derived).otherwise(declared).alias("birth_date")
        )
        frame = flag_where(frame, "birth_date", "mismatch_id", mismatch)
        frame = warn_where(frame, "birth_date", "from_id", fill)
        return frame.with_columns(
            pl.when(mismatch)
            .then(None)
            .when(fill)
            .then(derived)
            .otherwise(declared)
            .alias("birth_date")
        ).drop("_birth_empty", "_birth_as_id")

    return step


def normalize_ethnicity_code(ctx: NormalizeContext) -> Step:
    """2-digit GB/T 3304 code from ``01``, ``1`` or ``汉族``.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"ethnicity_code": ["1", "汉族", "壮族", "57"]}))
    >>> normalize_ethnicity_code(ctx)(lf).pipe(reason_lists).select("ethnicity_code", "_reasons").collect().rows()
    [('01', []), ('01', []), ('08', []), (None, ['ethnicity_code.unknown'])]
    """
    return check_column("ethnicity_code", check_ethnicity_code, distinct=True)


def normalize_hukou_region_code(ctx: NormalizeContext) -> Step:
    """The registered residence's county code, a retired code mapped to its successor.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"hukou_region_code": ["440106", "440102", "999999"]}))
    >>> normalize_hukou_region_code(ctx)(lf).pipe(reason_lists).select("hukou_region_code", "_reasons").collect().rows()
    [('440106', []), ('440104', []), (None, ['hukou_region_code.unknown'])]
    """
    return check_column("hukou_region_code", check_region_code, distinct=True)


def normalize_residence_codes(ctx: NormalizeContext) -> Step:
    """JZDZ_XZQHDM (12-digit community or 9-digit street code) → the 9-digit street code
    and the current 6-digit county code of the residence.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"residence_street_code": ["440106001002", "440102005", "4401"]}))
    >>> out = normalize_residence_codes(ctx)(lf)
    >>> out.pipe(reason_lists).select("residence_street_code", "residence_region_code", "_reasons").collect().rows()
    [('440106001', '440106', []), ('440102005', '440104', []), (None, None, ['residence_street_code.format'])]
    """
    check = check_column(
        "residence_street_code",
        check_statistical_code,
        extras={"street_code": "_street", "region_code": "_county"},
        distinct=True,
    )

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        return (
            check(frame)
            .with_columns(
                pl.col("_street").alias("residence_street_code"),
                pl.col("_county").alias("residence_region_code"),
            )
            .drop("_street", "_county")
        )

    return step


def _lookup(column: str, table: dict[str, object], dtype: pl.DataType) -> Step:
    """Map a code column through a fixed table; a value not in it is ``<column>.unknown``."""

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        raw = pl.col(column)
        mapped = raw.replace_strict(table, default=None, return_dtype=dtype)
        frame = frame.with_columns(mapped.alias("_mapped"))
        frame = flag_where(
            frame, column, "unknown", raw.is_not_null() & pl.col("_mapped").is_null()
        )
        return frame.with_columns(pl.col("_mapped").alias(column)).drop("_mapped")

    return step


def normalize_population_type(ctx: NormalizeContext) -> Step:
    """RKLX ``1`` 户籍人口 → ``registered``, ``2`` 流动人口 → ``floating``.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"population_type": ["1", "2", "流动人口", "3"]}))
    >>> normalize_population_type(ctx)(lf).pipe(reason_lists).select("population_type", "_reasons").collect().rows()
    [('registered', []), ('floating', []), ('floating', []), (None, ['population_type.unknown'])]
    """
    return _lookup("population_type", _POPULATION_TYPES, pl.String())


def normalize_is_deceased(ctx: NormalizeContext) -> Step:
    """SWBS ``0``/``1`` → boolean.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"is_deceased": ["0", "1", "2"]}))
    >>> normalize_is_deceased(ctx)(lf).pipe(reason_lists).select("is_deceased", "_reasons").collect().rows()
    [(False, []), (True, []), (None, ['is_deceased.unknown'])]
    """
    return _lookup("is_deceased", _DECEASED, pl.Boolean())


def normalize_phone(ctx: NormalizeContext) -> Step:
    """联系电话: a mobile as 11 digits, a landline as ``<area>-<number>``.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"phone": ["+86 138-0013-8000", "(020)12345678", "12345"]}))
    >>> normalize_phone(ctx)(lf).pipe(reason_lists).select("phone", "_reasons").collect().rows()
    [('13800138000', []), ('020-12345678', []), (None, ['phone.format'])]
    """
    # Cleaned by map_source_fields already; most numbers are mobiles, which the fast twin
    # answers without the landline pattern.
    return check_column("phone", partial(check_phone, cleaned=True), fast=fast_mobile)


def normalize_updated_at(ctx: NormalizeContext) -> Step:
    """GXSJ ``yyyy-MM-dd HH:mm:ss`` (or any datetime spelling) → ``source_updated_at``.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"source_updated_at": ["2026-10-01 08:30:00", "2026-13-01"]}))
    >>> normalize_updated_at(ctx)(lf).pipe(reason_lists).select("source_updated_at", "_reasons").collect().rows()
    [(datetime.datetime(2026, 10, 1, 8, 30), []), (None, ['source_updated_at.invalid_date'])]
    """
    return check_column("source_updated_at", parse_datetime, fast=fast_datetime)


def person_key(ctx: NormalizeContext) -> pl.Expr:
    """``person_key``: keyed HMAC-SHA256 of the normalized ID (DESIGN.md decision 7).

    Derived after the split, for the valid rows alone (:data:`DERIVED`): it never rejects
    a row, and the rejected and superseded ones do not need it.

    >>> import hmac
    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1), person_key=b"k")
    >>> lf = pl.LazyFrame({"id_number": ["11010519491231002X"]})
    >>> lf.select(person_key(ctx)).collect().item() == hmac.new(
    ...     b"k", b"11010519491231002X", "sha256").hexdigest()
    True
    """
    return hmac_sha256_hex(pl.col("id_number"), ctx.person_key)


def require_columns(ctx: NormalizeContext) -> Step:
    """Reject rows where a required field was not delivered (``<column>.missing``).

    Runs before the checks, so a null here means "not delivered" (or a null spelling),
    not "delivered but invalid" — that one gets the check's own reason, not a second one.
    Sex and birth date are exempt: an empty one is taken from the ID.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({c: ["x"] for c in REQUIRED} | {"name": [None]}))
    >>> require_columns(ctx)(lf).pipe(reason_lists).collect()["_reasons"].to_list()
    [['name.missing']]
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        return require(frame, [c for c in REQUIRED if c not in _FROM_ID])

    return step


def require_from_id(ctx: NormalizeContext) -> Step:
    """Sex and birth date are required too; a row still without them (no declared value
    and no valid ID) is ``missing`` — unless it already has a reason, which says why.
    Then drop the ID-derived helper columns.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"sex_code": [None, "1"], "birth_date": [None, None],
    ...                          _ID_SEX: [None] * 2, _ID_BIRTH: [None] * 2}))
    >>> require_from_id(ctx)(lf).pipe(reason_lists).collect()["_reasons"].to_list()
    [['sex_code.missing', 'birth_date.missing'], ['birth_date.missing']]
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        frame = frame.with_columns((~has_reasons(frame)).alias("_clean"))
        for col in _FROM_ID:
            missing = pl.col("_clean") & pl.col(col).is_null()
            frame = flag_where(frame, col, "missing", missing)
        return frame.drop("_clean", _ID_SEX, _ID_BIRTH)

    return step


STEPS: tuple[StepBuilder, ...] = (
    map_source_fields,
    require_columns,
    normalize_id_number,
    normalize_name,
    normalize_sex_code,
    normalize_birth_date,
    normalize_ethnicity_code,
    normalize_hukou_region_code,
    normalize_residence_codes,
    normalize_population_type,
    normalize_is_deceased,
    normalize_phone,
    normalize_updated_at,
    require_from_id,
)
#: Columns computed on the valid rows, after the split.
DERIVED = {"person_key": person_key} | {column: cleaned_later(column) for column in _FREE_TEXT}


def normalize_persons(frame: pl.LazyFrame, ctx: NormalizeContext) -> NormalizedBatch:
    """Normalize a population delivery: valid persons, rejected rows, duplicates."""
    return normalize_with(
        frame, ctx, Person, STEPS, updated_at="source_updated_at", derived=DERIVED
    )
