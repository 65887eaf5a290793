"""法人: the legal-entity feed (市场监管, feeds.md §2) normalized to ``core.legal_entity``.

``STEPS`` is the ordered tuple of step builders (context → ``LazyFrame -> LazyFrame``);
:func:`normalize_entities` runs them and ends in ``split``: business key ``uscc``, the
newest 核准日期 (``approved_date``) wins, then the later source row.

Decisions:

- Identifiers are never corrected (standards.md §10): ``O`` for ``0`` in a credit code is
  ``uscc.format``. Lower case is only case, so it is upper-cased.
- An entity closed before the 2015 reform has only a 注册号. The lake's business key is
  the USCC (lake.md), so such a row is quarantined as ``uscc.missing``; its 注册号 stays in
  the raw record for a later replay.
- Brackets in names take one width: half width ``()``, the NFKC form. Every feed's text
  is NFKC-cleaned on the way in (feeds.md), so ``（）`` and ``()`` deliveries of one
  entity compare equal, and so do the entity's names in the credit and licence feeds,
  which go through the same cleaning. Re-widening here alone would break those joins.
- Status: standards.md §4.4 table; the bureau's wording stays in ``status_raw``.

Reason codes emitted (``<column>.<code>``):

- ``uscc.format``, ``uscc.checksum`` (:data:`schemas.codes.credit_code.REASONS`),
  ``uscc.missing``; ``registration_number.format``/``.checksum``.
- ``legal_rep_id_number.*``: :data:`schemas.codes.citizen_id.REASONS`.
- ``industry_code.format``/``.unknown_division``/``.section_mismatch``
  (:data:`schemas.codes.industry.REASONS`).
- ``region_code.*``: :data:`schemas.codes.region.REASONS`.
- ``registered_capital.*``: :data:`schemas.codes.money.REASONS`.
- ``<date column>.format``/``.invalid_date`` (:data:`schemas.codes.dates.REASONS`), and
  ``<date column>.open_ended`` for ``长期`` anywhere but 营业期限至.
- ``status.unknown``, ``status.missing``; ``name.missing``.

Warnings (the row loads): the checks' own (``uscc.org_code_check``, ``uscc.legacy_pilot``,
``legal_rep_id_number.unknown_region`` ...), and ``deregistered_date.missing``,
``revoked_date.missing``, ``term_to.expired`` from :func:`check_status_dates`.
"""

from __future__ import annotations

import polars as pl

from schemas.codes.citizen_id import check_citizen_id
from schemas.codes.credit_code import check_registration_number, check_uscc
from schemas.codes.dates import parse_date
from schemas.codes.industry import check_industry_code
from schemas.codes.money import parse_money
from schemas.codes.region import check_region_code
from schemas.codes.text import collapse_spaces
from schemas.records.legal_entity import LegalEntity
from transforms.batch import (
    NormalizedBatch,
    Step,
    begin,  # noqa: F401 (the doctests build their frames with it)
    flag,
    flag_where,
    reason_lists,  # noqa: F401 (the doctests show the reasons with it)
    require,
    warn_where,
)
from transforms.common import StepBuilder, check_column, map_fields, normalize_with, with_check
from transforms.context import NormalizeContext

__all__ = ["REQUIRED", "STATUS", "STEPS", "normalize_entities"]


REQUIRED = ("uscc", "name", "status")
DATE_COLUMNS = (
    "established_date",
    "term_from",
    "term_to",
    "approved_date",
    "deregistered_date",
    "revoked_date",
)
# Only the end of the business term may be 长期 (no end): NULL there, a format error elsewhere.
OPEN_ENDED_COLUMNS = ("term_to",)

#: standards.md §4.4: the bureau's status words (punctuation and spaces removed) → enum.
#: ``存续…`` in any wording is ACTIVE (matched by prefix, see :func:`normalize_status`).
STATUS: dict[str, str] = {
    "存续": "ACTIVE",
    "在业": "ACTIVE",
    "开业": "ACTIVE",
    "在营": "ACTIVE",
    "在册": "ACTIVE",
    "迁入": "ACTIVE",
    "迁出": "MOVED_OUT",
    "停业": "SUSPENDED",
    "清算": "LIQUIDATING",
    "吊销": "REVOKED",
    "吊销未注销": "REVOKED",
    "注销": "DEREGISTERED",
    "吊销已注销": "DEREGISTERED",
    "撤销": "REGISTRATION_CANCELLED",
}
# The enum itself, so that a replay of already-canonical rows maps onto itself.
STATUS |= {v: v for v in set(STATUS.values())}


# Text columns of few values, cleaned once per value, NFKC being the costly part of
# cleaning. 经营范围 (business scope) too: every value has full-width punctuation (the
# closing "（依法须经批准的项目，…）"), so NFKC ran on all of its long text, 0.23 of the
# 0.45 CPU-s this step took on the demo city's 121k entities. Scopes are worded from the
# catalogue of standard wordings (经营范围规范表述目录), so they repeat (1.6k distinct
# there); were every value distinct, cleaning once per value would cost a fifth more.
_FEW_VALUES = (
    "entity_type",
    "registration_authority",
    "status",
    "business_scope",
    "region_code",
    "industry_code",
)


def map_source_fields(ctx: NormalizeContext) -> Step:
    """The bureau's Chinese column names to canonical columns, text cleaned (NFKC, nulls).

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={"uscc": ["统一社会信用代码"]}, today=date(2026, 1, 1))
    >>> lf = pl.LazyFrame({"统一社会信用代码": [" 91110000600037341l", "无"]})
    >>> map_source_fields(ctx)(lf).collect()["uscc"].to_list()
    ['91110000600037341l', None]
    """
    return map_fields(ctx.fields, distinct=_FEW_VALUES)


def normalize_uscc(ctx: NormalizeContext) -> Step:
    """GB 32100 credit code, upper-cased, never corrected; then the legacy 注册号.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"uscc": ["91110000600037341l", "9111OOOO600037341L"],
    ...                          "registration_number": [None, "440301108548379"]}))
    >>> normalize_uscc(ctx)(lf).pipe(reason_lists).select("uscc", "registration_number", "_reasons").collect().rows()
    [('91110000600037341L', None, []), (None, '440301108548379', ['uscc.format'])]
    """
    uscc = check_column("uscc", check_uscc)
    registration = check_column("registration_number", check_registration_number)

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        return registration(uscc(frame))

    return step


def normalize_legal_rep_name(ctx: NormalizeContext) -> Step:
    """The legal representative is a person: spaces between Chinese characters go, as in
    the population feed (``张 三`` → ``张三``).

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = pl.LazyFrame({"legal_rep_name": ["张 三", "John  Smith"]})
    >>> normalize_legal_rep_name(ctx)(lf).collect()["legal_rep_name"].to_list()
    ['张三', 'John Smith']
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.with_columns(collapse_spaces(pl.col("legal_rep_name")))

    return step


def normalize_legal_rep_id(ctx: NormalizeContext) -> Step:
    """The legal representative's citizen ID, as for persons (GB 11643).

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"legal_rep_id_number": ["11010519491231002x", "110105194912310020"]}))
    >>> normalize_legal_rep_id(ctx)(lf).pipe(reason_lists).select("legal_rep_id_number", "_reasons").collect().rows()
    [('11010519491231002X', []), (None, ['legal_rep_id_number.checksum'])]
    """
    return check_column("legal_rep_id_number", lambda e: check_citizen_id(e, today=ctx.today))


def normalize_industry(ctx: NormalizeContext) -> Step:
    """GB/T 4754 ``I6510`` or ``6510`` → ``industry_code`` + ``industry_section``; a letter
    that contradicts the division is rejected (``industry_code.section_mismatch``).

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"industry_code": ["I6510", "6510", "C6510"]}))
    >>> out = normalize_industry(ctx)(lf)
    >>> out.pipe(reason_lists).select("industry_code", "industry_section", "_reasons").collect().rows()
    [('I6510', 'I', []), ('I6510', 'I', []), (None, None, ['industry_code.section_mismatch'])]
    """
    return check_column(
        "industry_code",
        check_industry_code,
        extras={"section": "industry_section"},
        distinct=True,
    )


def normalize_capital(ctx: NormalizeContext) -> Step:
    """注册资本 → ``registered_capital`` (Decimal, units of the currency) + ``capital_currency``.
    A bare number is in 万元 (the register's unit).

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"registered_capital": ["500万人民币", "100万美元", "500", "很多"]}))
    >>> for row in normalize_capital(ctx)(lf).pipe(reason_lists).select(
    ...         "registered_capital", "capital_currency", "_reasons").collect().rows():
    ...     print(row)
    (Decimal('5000000.00'), 'CNY', [])
    (Decimal('1000000.00'), 'USD', [])
    (Decimal('5000000.00'), 'CNY', [])
    (None, None, ['registered_capital.format'])
    """
    return check_column(
        "registered_capital",
        lambda e: parse_money(e, default_unit="万元"),
        extras={"currency": "capital_currency"},
        distinct=True,
    )


def normalize_dates(ctx: NormalizeContext) -> Step:
    """Every date column from any spelling; 营业期限至 ``长期`` / ``9999-12-31`` → NULL.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> cols = {c: [None, None] for c in DATE_COLUMNS}
    >>> lf = begin(pl.LazyFrame(cols | {"established_date": ["2021年3月5日", "44260"],
    ...                                 "term_to": ["长期", "99991231"],
    ...                                 "approved_date": ["2021.03.05", "长期"]},
    ...                         schema_overrides={c: pl.String for c in DATE_COLUMNS}))
    >>> for row in normalize_dates(ctx)(lf).pipe(reason_lists).select(
    ...         "established_date", "term_to", "approved_date", "_reasons").collect().rows():
    ...     print(row)
    (datetime.date(2021, 3, 5), None, datetime.date(2021, 3, 5), [])
    (datetime.date(2021, 3, 5), None, None, ['approved_date.open_ended'])
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        for col in DATE_COLUMNS:
            # Each value once: dates repeat (the demo city's 121k entities have 29k distinct
            # 成立日期, 6k 营业期限至), and the parser on the distinct values costs less
            # than the fast twin on every row (0.17 against 0.22 CPU-s for the six columns).
            frame = with_check(frame, col, parse_date, "_date", distinct=True)
            reason = pl.col("_date").struct.field("reason")
            if col not in OPEN_ENDED_COLUMNS:
                open_ended = pl.col("_date").struct.field("open_ended").fill_null(False)
                reason = pl.when(open_ended).then(pl.lit("open_ended")).otherwise(reason)
            frame = flag(frame, col, reason)
            frame = frame.with_columns(pl.col("_date").struct.field("value").alias(col))
        return frame.drop("_date")

    return step


def normalize_region(ctx: NormalizeContext) -> Step:
    """住所所在行政区划: a current GB/T 2260 code, retired codes mapped to successors.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"region_code": ["440116", "440106"]}))
    >>> normalize_region(ctx)(lf).pipe(reason_lists).select("region_code", "_reasons").collect().rows()
    [('440112', []), ('440106', [])]
    """
    return check_column("region_code", check_region_code, distinct=True)


def normalize_status(ctx: NormalizeContext) -> Step:
    """登记状态 → the canonical enum (standards.md §4.4), the wording kept in ``status_raw``.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"status": ["存续(在营、开业、在册)", "吊销,未注销", "迁出", "倒闭"]}))
    >>> normalize_status(ctx)(lf).pipe(reason_lists).select("status", "status_raw", "_reasons").collect().rows()
    [('ACTIVE', '存续(在营、开业、在册)', []), ('REVOKED', '吊销,未注销', []), ('MOVED_OUT', '迁出', []), (None, '倒闭', ['status.unknown'])]
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        raw = pl.col("status")
        key = raw.str.replace_all(r"[\p{P}\s]", "")
        canonical = (
            pl.when(key.str.starts_with("存续"))
            .then(pl.lit("ACTIVE"))
            .otherwise(key.replace_strict(STATUS, default=None, return_dtype=pl.String))
        )
        frame = frame.with_columns(canonical.alias("_status"), raw.alias("status_raw"))
        frame = flag_where(
            frame, "status", "unknown", raw.is_not_null() & pl.col("_status").is_null()
        )
        return frame.with_columns(pl.col("_status").alias("status")).drop("_status")

    return step


def check_status_dates(ctx: NormalizeContext) -> Step:
    """Consistency of status and dates (standards.md §4.4), as warnings: the register is
    the authority on both, so a gap is reported, not repaired or rejected.

    - ``deregistered_date.missing``: DEREGISTERED without a 注销日期;
    - ``revoked_date.missing``: REVOKED without a 吊销日期;
    - ``term_to.expired``: ACTIVE although the business term ended before ``today``.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"status": ["DEREGISTERED", "ACTIVE", "ACTIVE"],
    ...     "deregistered_date": [None, None, None], "revoked_date": [None, None, None],
    ...     "term_to": [None, date(2025, 1, 1), None]},
    ...     schema_overrides={"deregistered_date": pl.Date, "revoked_date": pl.Date}))
    >>> check_status_dates(ctx)(lf).pipe(reason_lists).collect()["_warnings"].to_list()
    [['deregistered_date.missing'], ['term_to.expired'], []]
    """
    status = pl.col("status")
    rules = (
        (
            "deregistered_date",
            "missing",
            (status == "DEREGISTERED") & pl.col("deregistered_date").is_null(),
        ),
        ("revoked_date", "missing", (status == "REVOKED") & pl.col("revoked_date").is_null()),
        ("term_to", "expired", (status == "ACTIVE") & (pl.col("term_to") < ctx.today)),
    )

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        for column, code, broken in rules:
            frame = warn_where(frame, column, code, broken)
        return frame

    return step


def require_columns(ctx: NormalizeContext) -> Step:
    """Reject rows where a required field was not delivered: ``uscc.missing`` (e.g. 注册号
    only), ``name.missing``, ``status.missing``.

    Runs before the checks, so that a value delivered but invalid gets only the check's
    reason (``uscc.format``), not a second ``missing``.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"uscc": [None], "name": ["某公司"], "status": ["ACTIVE"]}))
    >>> require_columns(ctx)(lf).pipe(reason_lists).collect()["_reasons"].to_list()
    [['uscc.missing']]
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        return require(frame, REQUIRED)

    return step


STEPS: tuple[StepBuilder, ...] = (
    map_source_fields,
    require_columns,
    normalize_uscc,
    normalize_legal_rep_name,
    normalize_legal_rep_id,
    normalize_industry,
    normalize_capital,
    normalize_dates,
    normalize_region,
    normalize_status,
    check_status_dates,
)


def normalize_entities(frame: pl.LazyFrame, ctx: NormalizeContext) -> NormalizedBatch:
    """Normalize a legal-entity delivery: valid entities, rejected rows, duplicates."""
    return normalize_with(frame, ctx, LegalEntity, STEPS, updated_at="approved_date")
