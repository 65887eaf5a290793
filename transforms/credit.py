"""社会信用: penalties, permits and red/black lists (信用办, feeds.md §4) normalized to
``core.credit_penalty``, ``core.credit_permit`` and ``core.credit_list``.

``PENALTY_STEPS``, ``PERMIT_STEPS`` and ``LIST_STEPS`` are ordered tuples of step builders
(context → ``LazyFrame -> LazyFrame``); ``normalize_*`` run them and end in ``split``.
The API has no update time in its items: it serves them in update order, so within a
delivery the later item of a business key wins (``split`` with ``updated_at=None``).

Decisions:

- Both generations of field names (standards.md §6.1/§6.2) arrive through the spec's
  mapping (``ctx.fields``): the first present, non-null source name wins per row.
- The older sub-system names the authority (处罚机关/许可机关) but sends no code: the code
  is taken from the same name elsewhere in the batch, else from the context's directory
  (``authority_codes``, name or former name → credit code: the configured directory
  ``CITYBRAIN_AUTHORITY_DIRECTORY`` merged with the lake's, joined on the name as
  :func:`normalize_authority_name` spells it; see :func:`resolve_authority_code`), with
  warning ``authority_code.from_name``; a name known nowhere is ``authority_code.missing``
  (the code is part of the business key).
- Subject codes are a credit code or a citizen ID, told apart by the value
  (:func:`schemas.codes.credit_code.check_subject_code`); its type is kept in
  ``subject_code_type``. A 类别 ``自然人`` with a credit code (or an organization with a
  citizen ID) only warns: the code is the authority. A missing 类别 (the older sub-system
  has none) is derived from the code: ``自然人``, ``个体工商户`` (credit code ``92…``),
  else ``法人及非法人组织``.
- ``penalty_types`` (CF_CFLB) is split on ``;、,；，`` (full-width forms arrive as ASCII
  after NFKC) into a list; empty parts are dropped. Every source field the spec maps to it
  contributes: the older sub-system splits the list over CF_CFLB1 and CF_CFLB2.
- ``fine_amount``: CF_NR_FK is in 万元 (a bare number), converted to yuan. Some
  departments send 元: when 处罚内容 (CF_NR) states the fine (``罚款2000元``,
  ``罚款0.2万元``, standards.md §6.1/§9.3), a bare CF_NR_FK that equals the stated amount
  in yuan but not in 万元 is taken as yuan (warning ``fine_amount.unit_yuan``); one that
  matches neither keeps the 万元 reading with ``fine_amount.mismatch_content``. Without a
  stated amount, a value above 10,000 万元 warns ``fine_amount.implausible``. A CF_NR_FK
  that names its unit (``2000元``) is taken as written. Without CF_NR_FK (the older
  sub-system) the stated fine is taken (``fine_amount.from_content``), and a penalty
  whose categories hold no 罚款 has a fine of 0.
- Dates: any spelling of :func:`schemas.codes.dates.parse_date`. End dates (公示截止期,
  a list's 有效期至) may be ``长期``/``9999-12-31``: null. Start dates may not
  (``<column>.open_ended``, as in the legal-entity feed). An end before its start is
  rejected.
- ``publish_until`` is CF_GSJZQ as delivered. When it is missing it stays null: the
  disclosure periods (§6.3) change with rule versions and belong in a versioned table,
  not in code.
- ``list_type``: black for 严重失信主体名单 and every list named 失信/黑名单/严重违法
  (失信被执行人名单, 重大税收违法失信主体名单, ...); red for 守信激励, 红名单, A级纳税人,
  诚信 lists. ``list_name`` keeps the list's own name as delivered.
- Permit 当前状态: the older sub-system's digits (0 正常, 1 撤销, 2 异议, 3 其他) become
  those words; the current generation's words are kept.
- Names (subject, authority, list) lose the spaces typed between Chinese characters; their
  brackets stay in the NFKC (half-width) form every feed's text gets, as in the
  legal-entity feed, so a subject's name equals its name in ``core.legal_entity``.

Reason codes (``<column>.<code>``):

- ``decision_no.missing``, ``authority_code.missing``/``.format``/``.checksum``,
  ``subject_name.missing``, ``decision_date.missing``/``.format``/``.invalid_date``/
  ``.open_ended``.
- ``subject_code.*``: :data:`schemas.codes.credit_code.REASONS` and
  :data:`schemas.codes.citizen_id.REASONS` (format, checksum, birth_date, ...);
  ``subject_code.missing`` for lists (part of the business key).
- ``data_source_code.format``/``.checksum``; ``fine_amount.format``/``.negative``/
  ``.unknown_currency``/``.out_of_range``.
- ``publish_until.format``/``.invalid_date``/``.before_decision_date``;
  ``valid_from.*``, ``valid_to.*``, ``valid_to.before_valid_from``.
- lists: ``list_type.missing``/``.unknown``, ``listed_at.missing``/``.format``/
  ``.invalid_date``/``.open_ended``, ``expires_at.*``/``.before_listed_at``, ``removed_at.*``/
  ``.before_listed_at``.

Warnings: ``authority_code.from_name``, ``fine_amount.unit_yuan``,
``fine_amount.mismatch_content``, ``fine_amount.implausible``, ``fine_amount.from_content``,
``subject_category.mismatch_code``, and the checks' own (``subject_code.org_code_check``
...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from schemas.codes.credit_code import check_subject_code, check_uscc
from schemas.codes.dates import parse_date
from schemas.codes.money import parse_money
from schemas.codes.text import clean_text, collapse_spaces
from schemas.records.credit import CreditListEntry, CreditPenalty, CreditPermit
from transforms.batch import (
    NormalizedBatch,
    Step,
    begin,  # noqa: F401 (the doctests build their frames with it)
    flag_where,
    reason_lists,  # noqa: F401 (the doctests show the reasons with it)
    require,
    warn,
    warn_where,
)
from transforms.common import StepBuilder, check_column, map_fields, normalize_with
from transforms.context import NormalizeContext

__all__ = [
    "BLACK_LIST_WORDS",
    "LIST_STEPS",
    "PENALTY_STEPS",
    "PERMIT_STEPS",
    "RED_LIST_WORDS",
    "authority_directory_frame",
    "date_column",
    "normalize_authority_name",
    "normalize_lists",
    "normalize_penalties",
    "normalize_permits",
]


def _collapse(expr: pl.Expr) -> pl.Expr:
    # Guarded, Polars skips collapse_spaces (its own whitespace scan included) on the
    # chunks where no value has a space at all, most of them.
    return pl.when(expr.str.contains(r"\s")).then(collapse_spaces(expr)).otherwise(expr)


#: A list whose name contains one of these is a red (incentive) list; checked first, so
#: that ``守信`` in a red list's name is not read as ``失信``.
RED_LIST_WORDS: tuple[str, ...] = ("红名单", "守信", "激励", "诚信", "A级纳税人", "AEO")
#: A list whose name contains one of these is a black (serious dishonesty) list.
BLACK_LIST_WORDS: tuple[str, ...] = ("黑名单", "失信", "严重违法")

# CF_CFLB separators after NFKC (；， become ;,).
_TYPE_SEPARATORS = r"[;,、]"
# The fine as 处罚内容 states it: 罚款2000元, 罚款人民币0.2万元, 罚款 1,000 元.
_STATED_FINE = r"罚款\s*(?:人民币)?\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*(万)?元"
_BARE_NUMBER = r"^[+-]?(?:[0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+)$"
# CF_NR_FK above this many 万元 (1亿 yuan) is implausible for a municipal fine (§9.3).
_IMPLAUSIBLE_WAN = 10_000


def _names(*columns: str) -> Step:
    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        present = set(frame.collect_schema().names())
        return frame.with_columns(_collapse(pl.col(c)) for c in columns if c in present)

    return step


def _require(*columns: str) -> StepBuilder:
    def build(ctx: NormalizeContext) -> Step:
        def step(frame: pl.LazyFrame) -> pl.LazyFrame:
            return require(frame, columns)

        return step

    return build


def date_column(column: str, *, open_ended: bool = False) -> Step:
    """Parse a date column in place (reasons ``<column>.format``/``.invalid_date``).

    With ``open_ended`` (end dates) ``长期``/``9999-12-31`` become null and the column
    ``_<column>_open`` says so; without it they are ``<column>.open_ended``.

    >>> lf = begin(pl.LazyFrame({"d": ["2021年3月5日", "44260", "长期", "2021-02-30"]}))
    >>> date_column("d")(lf).pipe(reason_lists).select("d", "_reasons").collect().rows()  # doctest: +NORMALIZE_WHITESPACE
    [(datetime.date(2021, 3, 5), []), (datetime.date(2021, 3, 5), []),
     (None, ['d.open_ended']), (None, ['d.invalid_date'])]
    >>> date_column("d", open_ended=True)(lf).select("d", "_d_open").collect()["_d_open"].to_list()
    [False, False, True, False]
    """
    tmp = f"_{column}_open"

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        frame = check_column(column, parse_date, extras={"open_ended": tmp})(frame)
        is_open = pl.col(tmp).fill_null(False)
        if open_ended:
            return frame.with_columns(is_open)
        frame = flag_where(frame, column, "open_ended", is_open)
        return frame.drop(tmp)

    return step


def _dates(starts: Sequence[str], ends: Sequence[str]) -> Step:
    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        for column in starts:
            frame = date_column(column)(frame)
        for column in ends:
            frame = date_column(column, open_ended=True)(frame).drop(f"_{column}_open")
        return frame

    return step


def _not_before(end: str, start: str) -> Step:
    """Reject ``<end>.before_<start>`` where both dates are known and the end is earlier."""

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        return flag_where(frame, end, f"before_{start}", pl.col(end) < pl.col(start))

    return step


# --- shared steps ------------------------------------------------------------------------


def map_source_fields(ctx: NormalizeContext) -> Step:
    """Both generations' field names to canonical columns, cleaned (NFKC, null spellings).

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={"subject_name": ["CF_XDR_MC", "CF_XDR"]},
    ...                        today=date(2026, 1, 1))
    >>> lf = pl.LazyFrame({"CF_XDR_MC": ["某公司", None], "CF_XDR": [None, "张三"]})
    >>> map_source_fields(ctx)(lf).collect()["subject_name"].to_list()
    ['某公司', '张三']
    """
    return map_fields(ctx.fields)


def normalize_authority_name(expr: pl.Expr) -> pl.Expr:
    """An authority's name as records and directories are compared by: cleaned text (NFKC,
    so ``（）`` and ``()`` agree) without the spaces typed between Chinese characters.

    The same function serves both sides of the directory lookup (the delivered names and
    the directory's), so a name can only miss its code by being a different name.

    >>> names = pl.Series(["广州市 天河区市场监督管理局\u3000", "国家税务总局（广州市）税务局", "无"])
    >>> pl.select(normalize_authority_name(pl.lit(names))).to_series().to_list()
    ['广州市天河区市场监督管理局', '国家税务总局(广州市)税务局', None]
    """
    return _collapse(clean_text(expr))


def authority_directory_frame(codes: Mapping[str, str]) -> pl.LazyFrame:
    """The directory as a join table: normalized ``_directory_name`` → ``_directory_code``.

    A name that normalizes to two codes is left out: a guess would put a decision under
    another authority.

    >>> authority_directory_frame({"某 局": "A", "某局": "A", "两局": "B", "两 局": "C"}).collect().rows()
    [('某局', 'A')]
    """
    table = pl.LazyFrame(
        {"_directory_name": list(codes), "_directory_code": list(codes.values())},
        schema={"_directory_name": pl.String, "_directory_code": pl.String},
    )
    return (
        table.with_columns(normalize_authority_name(pl.col("_directory_name")))
        .drop_nulls()
        .unique(maintain_order=True)
        .filter(pl.len().over("_directory_name") == 1)
    )


def resolve_authority_code(ctx: NormalizeContext) -> Step:
    """An authority delivered by name only (the older sub-system's records carry 处罚机关/
    许可机关 but no code) gets its code from the name, with warning
    ``authority_code.from_name``:

    1. the code the same name has on the batch's other records, when exactly one code goes
       with that name there;
    2. else the context's directory of authorities (``authority_codes``: name or former
       name → credit code; the configured directory merged with the lake's, see
       ``warehouse.directory``), looked up by a join on the normalized name.

    A name found in neither stays without code and is rejected as
    ``authority_code.missing``: a guess would put the decision under another authority.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1),
    ...                        authority_codes={"某局": "11440100MB2C90241A"})
    >>> lf = begin(pl.LazyFrame({
    ...     "authority_code": ["11100000000013338W", None, None, None],
    ...     "authority_name": ["住房和城乡建设部", "住房和城乡建设部", "某局", "另一局"]}))
    >>> resolve_authority_code(ctx)(lf).pipe(reason_lists).select("authority_code", "_warnings").collect().rows()  # doctest: +NORMALIZE_WHITESPACE
    [('11100000000013338W', []), ('11100000000013338W', ['authority_code.from_name']),
     ('11440100MB2C90241A', ['authority_code.from_name']), (None, [])]
    """
    directory = authority_directory_frame(ctx.authority_codes)

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        code, name = pl.col("authority_code"), pl.col("authority_name")
        # The codes as they will be checked (cleaned, upper case); an invalid one that
        # spreads to a name-only record is rejected there too, as it should be.
        known = pl.col("_code").drop_nulls()
        frame = frame.with_columns(
            code.str.replace_all(r"\s", "").str.to_uppercase().alias("_code")
        )
        in_batch = pl.when(known.n_unique().over("authority_name") == 1).then(
            known.first().over("authority_name")
        )
        # The names arrive normalized (the text step runs first: normalize_authority_name's
        # cleaning and collapsing). A left join keeps every row once (the directory's names
        # are unique) and, with maintain_order, in delivery order: the later item of a key
        # still wins in split.
        frame = frame.join(
            directory,
            left_on="authority_name",
            right_on="_directory_name",
            how="left",
            maintain_order="left",
        )
        frame = frame.with_columns(
            pl.when(code.is_null() & name.is_not_null())
            .then(pl.coalesce(in_batch, pl.col("_directory_code")))
            .alias("_by_name")
        )
        by_name = pl.col("_by_name")
        frame = warn_where(frame, "authority_code", "from_name", by_name.is_not_null())
        return frame.with_columns(pl.coalesce(code, by_name).alias("authority_code")).drop(
            "_code", "_directory_code", "_by_name"
        )

    return step


def normalize_authority(ctx: NormalizeContext) -> Step:
    """处罚/许可机关 code and the data source's code: GB 32100 credit codes (upper-cased,
    never corrected).

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"authority_code": ["91110000600037341l", "91110000600037341M"]}))
    >>> normalize_authority(ctx)(lf).pipe(reason_lists).select("authority_code", "_reasons").collect().rows()
    [('91110000600037341L', []), (None, ['authority_code.checksum'])]
    """
    authority = check_column("authority_code", check_uscc)
    source = check_column("data_source_code", check_uscc)

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        frame = authority(frame)
        if "data_source_code" in frame.collect_schema().names():
            frame = source(frame)
        return frame

    return step


def normalize_subject(ctx: NormalizeContext) -> Step:
    """行政相对人: code checked as a credit code or citizen ID (type in
    ``subject_code_type``). A 类别 that contradicts the code warns; a missing one (the older
    sub-system has none) is derived from the code: a citizen ID is ``自然人``, a credit code
    of category ``92`` ``个体工商户`` (standards.md §4.4), another ``法人及非法人组织``.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({
    ...     "subject_code": ["91110000600037341L", "11010519491231002x", "110105194912310020",
    ...                      "924401131119578842", "91110000600037341L"],
    ...     "subject_category": ["自然人", "自然人", "自然人", None, None]}))
    >>> out = normalize_subject(ctx)(lf)
    >>> out.pipe(reason_lists).select("subject_code_type", "subject_category", "_reasons", "_warnings").collect().rows()  # doctest: +NORMALIZE_WHITESPACE
    [('uscc', '自然人', [], ['subject_category.mismatch_code']),
     ('citizen_id', '自然人', [], []),
     (None, '自然人', ['subject_code.checksum'], []),
     ('uscc', '个体工商户', [], []),
     ('uscc', '法人及非法人组织', [], [])]
    """
    code = check_column(
        "subject_code", check_subject_code, extras={"code_type": "subject_code_type"}
    )

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        frame = code(frame)
        value, kind = pl.col("subject_code"), pl.col("subject_code_type")
        frame = frame.with_columns(
            pl.when(value.is_not_null()).then(kind).alias("subject_code_type")
        )
        if "subject_category" not in frame.collect_schema().names():
            return frame
        category = pl.col("subject_category")
        person = category == "自然人"
        frame = warn_where(
            frame,
            "subject_category",
            "mismatch_code",
            (person & (kind == "uscc")) | (~person & (kind == "citizen_id")),
        )
        derived = (
            pl.when(kind == "citizen_id")
            .then(pl.lit("自然人"))
            .when(value.str.starts_with("92"))
            .then(pl.lit("个体工商户"))
            .when(kind == "uscc")
            .then(pl.lit("法人及非法人组织"))
        )
        return frame.with_columns(pl.coalesce(category, derived).alias("subject_category"))

    return step


# --- penalties ---------------------------------------------------------------------------


def split_penalty_types(ctx: NormalizeContext) -> Step:
    """处罚类别 → a list of categories, split on ``;、,；，``.

    Unlike other columns, every source field mapped to ``penalty_types`` contributes (not
    only the first present one): the older sub-system splits the categories over
    ``CF_CFLB1`` (the first) and ``CF_CFLB2`` (the rest).

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={"penalty_types": ["CF_CFLB", "CF_CFLB1", "CF_CFLB2"]},
    ...                        today=date(2026, 1, 1))
    >>> lf = pl.LazyFrame({"CF_CFLB": ["罚款、没收违法所得", "警告;罚款,", None, None],
    ...                    "CF_CFLB1": [None, None, "警告", None], "CF_CFLB2": [None, None, "罚款", "无"]})
    >>> split_penalty_types(ctx)(lf).collect()["penalty_types"].to_list()
    [['罚款', '没收违法所得'], ['警告', '罚款'], ['警告', '罚款'], []]
    """
    sources = tuple(ctx.fields.get("penalty_types", ()))

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        present = [n for n in sources if n in frame.collect_schema().names()]
        joined = (
            pl.concat_str(
                [clean_text(pl.col(n)) for n in present], separator=";", ignore_nulls=True
            )
            if present
            else pl.col("penalty_types")
        )
        parts = (
            joined.str.replace_all(_TYPE_SEPARATORS, ";")
            .str.split(";")
            .list.eval(pl.element().str.strip_chars())
            .list.filter(pl.element() != "")
        )
        empty = pl.lit([], dtype=pl.List(pl.String))
        return frame.with_columns(parts.fill_null(empty).alias("penalty_types"))

    return step


def normalize_fine(ctx: NormalizeContext) -> Step:
    """罚款金额: CF_NR_FK in 万元 → yuan, checked against the fine 处罚内容 states.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({
    ...     "fine_amount": ["0.2", "2000", "3", "2000元", "50000", None, None, None],
    ...     "content": ["罚款2000元", "罚款2000元", "罚款0.2万元", None, None, "给予警告处罚",
    ...                 "罚款人民币1,500元", None],
    ...     "penalty_types": [["罚款"]] * 5 + [["警告"], ["罚款"], ["罚款"]]}))
    >>> normalize_fine(ctx)(lf).pipe(reason_lists).select("fine_amount", "_warnings").collect().rows()  # doctest: +NORMALIZE_WHITESPACE
    [(Decimal('2000.00'), []), (Decimal('2000.00'), ['fine_amount.unit_yuan']),
     (Decimal('30000.00'), ['fine_amount.mismatch_content']), (Decimal('2000.00'), []),
     (Decimal('500000000.00'), ['fine_amount.implausible']), (Decimal('0.00'), []),
     (Decimal('1500.00'), ['fine_amount.from_content']), (None, [])]
    """
    parsed = check_column("fine_amount", lambda e: parse_money(e, default_unit="万元"))

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        raw = pl.col("fine_amount")
        bare = raw.str.contains(_BARE_NUMBER).fill_null(False)
        stated = pl.col("content").str.extract_groups(_STATED_FINE)
        # Decimal, not float: 0.2万 is exactly 2000 yuan.
        stated_yuan = stated.struct.field("1").str.replace_all(",", "").str.to_decimal(
            scale=6
        ) * pl.when(stated.struct.field("2") == "万").then(10_000).otherwise(1)
        frame = frame.with_columns(
            bare.alias("_bare"),
            raw.str.replace_all(",", "").cast(pl.Float64, strict=False).alias("_number"),
            stated_yuan.cast(pl.Decimal(18, 2), strict=False).alias("_stated_yuan"),
            stated_yuan.cast(pl.Float64).alias("_stated"),
        )
        frame = parsed(frame)
        number, stated_, is_bare = pl.col("_number"), pl.col("_stated"), pl.col("_bare")
        as_wan = (number * 10_000 - stated_).abs() < 0.005
        as_yuan = (number - stated_).abs() < 0.005
        valid = pl.col("fine_amount").is_not_null() & is_bare
        delivered = pl.col("_number").is_not_null() | pl.col("fine_amount").is_not_null()
        no_fine = ~pl.col("penalty_types").list.contains("罚款") & (
            pl.col("penalty_types").list.len() > 0
        )
        verdict = (
            pl.when(~delivered & stated_.is_not_null())
            .then(pl.lit("from_content"))
            .when(~valid)
            .then(None)
            .when(stated_.is_null())
            .then(pl.when(number > _IMPLAUSIBLE_WAN).then(pl.lit("implausible")))
            .when(as_wan)
            .then(None)
            .when(as_yuan)
            .then(pl.lit("unit_yuan"))
            .otherwise(pl.lit("mismatch_content"))
        )
        frame = frame.with_columns(verdict.alias("_verdict"))
        frame = warn(frame, "fine_amount", pl.col("_verdict"))
        corrected = (
            pl.when(pl.col("_verdict") == "unit_yuan")
            .then(pl.col("fine_amount") / 10_000)
            .when(pl.col("_verdict") == "from_content")
            .then(pl.col("_stated_yuan"))
            .when(~delivered & stated_.is_null() & no_fine)
            .then(pl.lit(0).cast(pl.Decimal(18, 2)))
            .otherwise(pl.col("fine_amount"))
        )
        return frame.with_columns(corrected.cast(pl.Decimal(18, 2)).alias("fine_amount")).drop(
            "_bare", "_number", "_stated", "_stated_yuan", "_verdict"
        )

    return step


def parse_penalty_dates(ctx: NormalizeContext) -> Step:
    """处罚决定日期 (required) and 公示截止期 (``长期`` → null; not before the decision).

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"decision_date": ["2024-03-05", "20240305"],
    ...                          "publish_until": ["2025/3/5", "2024.03.04"]}))
    >>> parse_penalty_dates(ctx)(lf).pipe(reason_lists).select("publish_until", "_reasons").collect().rows()
    [(datetime.date(2025, 3, 5), []), (datetime.date(2024, 3, 4), ['publish_until.before_decision_date'])]
    """
    dates = _dates(["decision_date"], ["publish_until"])
    order = _not_before("publish_until", "decision_date")

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        return order(dates(frame))

    return step


def normalize_penalty_text(ctx: NormalizeContext) -> Step:
    """Decision number without stray spaces; names and free text without the spaces typed
    between Chinese characters.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = pl.LazyFrame({"decision_no": ["穗市监罚 〔2024〕 12号"], "violation_type": ["虚假 宣传"]})
    >>> normalize_penalty_text(ctx)(lf).collect().rows()
    [('穗市监罚〔2024〕12号', '虚假宣传')]
    """
    return _text(
        "decision_no",
        (
            "subject_name",
            "authority_name",
            "data_source_name",
            "violation_type",
            "facts",
            "basis",
            "content",
            "subject_category",
        ),
    )


def _text(number: str, texts: Sequence[str]) -> Step:
    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        present = set(frame.collect_schema().names())
        return frame.with_columns(
            pl.col(number).str.replace_all(r"\s", ""),
            *[_collapse(pl.col(c)) for c in texts if c in present],
        )

    return step


PENALTY_REQUIRED = ("decision_no", "authority_code", "subject_name", "decision_date")

PENALTY_STEPS: tuple[StepBuilder, ...] = (
    map_source_fields,
    normalize_penalty_text,
    resolve_authority_code,
    _require(*PENALTY_REQUIRED),
    normalize_authority,
    normalize_subject,
    split_penalty_types,
    normalize_fine,
    parse_penalty_dates,
)


def normalize_penalties(frame: pl.LazyFrame, ctx: NormalizeContext) -> NormalizedBatch:
    """Normalize a page run of 行政处罚 items (either generation of field names)."""
    return normalize_with(frame, ctx, CreditPenalty, PENALTY_STEPS, updated_at=None)


# --- permits -----------------------------------------------------------------------------


def normalize_permit_text(ctx: NormalizeContext) -> Step:
    """Decision number without stray spaces; names and free text collapsed.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = pl.LazyFrame({"decision_no": ["穗交许 〔2024〕1号"], "permit_name": ["道路运输 经营许可证"],
    ...                    "permit_number": ["粤交运管许可穗字440106001号"]})
    >>> normalize_permit_text(ctx)(lf).collect().rows()
    [('穗交许〔2024〕1号', '道路运输经营许可证', '粤交运管许可穗字440106001号')]
    """
    return _text(
        "decision_no",
        (
            "permit_name",
            "permit_number",
            "permit_category",
            "content",
            "status",
            "subject_category",
        ),
    )


def parse_permit_dates(ctx: NormalizeContext) -> Step:
    """许可决定日期 (required), 有效期自, 有效期至 (``长期`` → null; not before 有效期自).

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"decision_date": ["2024-03-05"] * 2, "valid_from": ["2024-03-05"] * 2,
    ...                          "valid_to": ["长期", "2023-03-05"]}))
    >>> parse_permit_dates(ctx)(lf).pipe(reason_lists).select("valid_to", "_reasons").collect().rows()
    [(None, []), (datetime.date(2023, 3, 5), ['valid_to.before_valid_from'])]
    """
    dates = _dates(["decision_date", "valid_from"], ["valid_to"])
    order = _not_before("valid_to", "valid_from")

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        return order(dates(frame))

    return step


#: 当前状态 of the older sub-system, a digit (standards.md §6.2 ⚠️), as the words the
#: current generation writes.
LEGACY_PERMIT_STATUS: dict[str, str] = {"0": "正常", "1": "撤销", "2": "异议", "3": "其他"}


def normalize_permit_status(ctx: NormalizeContext) -> Step:
    """当前状态: the older sub-system's digits as words; the current generation's words kept.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> normalize_permit_status(ctx)(pl.LazyFrame({"status": ["0", "有效", None]})).collect()["status"].to_list()
    ['正常', '有效', None]
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.with_columns(pl.col("status").replace(LEGACY_PERMIT_STATUS))

    return step


PERMIT_REQUIRED = ("decision_no", "authority_code", "subject_name", "decision_date")

PERMIT_STEPS: tuple[StepBuilder, ...] = (
    map_source_fields,
    normalize_permit_text,
    resolve_authority_code,
    _require(*PERMIT_REQUIRED),
    normalize_authority,
    normalize_subject,
    normalize_permit_status,
    parse_permit_dates,
)


def normalize_permits(frame: pl.LazyFrame, ctx: NormalizeContext) -> NormalizedBatch:
    """Normalize a page run of 行政许可 items (either generation of field names)."""
    return normalize_with(frame, ctx, CreditPermit, PERMIT_STEPS, updated_at=None)


# --- lists -------------------------------------------------------------------------------


def _contains_any(expr: pl.Expr, words: Sequence[str]) -> pl.Expr:
    return expr.str.contains_any(list(words), ascii_case_insensitive=True)


def normalize_list_type(ctx: NormalizeContext) -> Step:
    """名单类型 → ``black``/``red``; the list's own name is kept in ``list_name``.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"list_type": ["严重失信主体名单", "失信被执行人名单",
    ...     "守信激励对象名单", "A级纳税人名单", "经营异常名录", "Black"]}))
    >>> normalize_list_type(ctx)(lf).pipe(reason_lists).select("list_type", "list_name", "_reasons").collect().rows()  # doctest: +NORMALIZE_WHITESPACE
    [('black', '严重失信主体名单', []), ('black', '失信被执行人名单', []),
     ('red', '守信激励对象名单', []), ('red', 'A级纳税人名单', []),
     (None, '经营异常名录', ['list_type.unknown']), ('black', 'Black', [])]
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        name = _collapse(pl.col("list_type"))
        # The canonical words themselves (a replay of loaded rows) map onto themselves.
        canonical = name.str.to_lowercase()
        kind = (
            pl.when(canonical.is_in(["black", "red"]))
            .then(canonical)
            .when(_contains_any(name, RED_LIST_WORDS))
            .then(pl.lit("red"))
            .when(_contains_any(name, BLACK_LIST_WORDS))
            .then(pl.lit("black"))
        )
        frame = frame.with_columns(name.alias("list_name"), kind.alias("_kind"))
        frame = flag_where(
            frame, "list_type", "unknown", name.is_not_null() & pl.col("_kind").is_null()
        )
        return frame.with_columns(pl.col("_kind").alias("list_type")).drop("_kind")

    return step


def normalize_list_text(ctx: NormalizeContext) -> Step:
    """Subject and listing authority without the spaces typed between Chinese characters;
    the basis document like a decision number (no spaces; its brackets stay as written).

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = pl.LazyFrame({"listing_authority": ["广州市 中级人民法院"], "basis_doc": ["(2024)粤01执 1号"]})
    >>> normalize_list_text(ctx)(lf).collect().rows()
    [('广州市中级人民法院', '(2024)粤01执1号')]
    """
    names = _names("subject_name", "listing_authority")
    number = _text("basis_doc", ())

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        return number(names(frame))

    return step


def parse_list_dates(ctx: NormalizeContext) -> Step:
    """列入日期 (required), 有效期至 (``长期`` → null), 移出日期; neither end before listing.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"listed_at": ["2024-03-05"] * 2, "expires_at": ["2027-03-05", "长期"],
    ...                          "removed_at": [None, "2024-01-01"]}))
    >>> parse_list_dates(ctx)(lf).pipe(reason_lists).select("expires_at", "_reasons").collect().rows()
    [(datetime.date(2027, 3, 5), []), (None, ['removed_at.before_listed_at'])]
    """
    dates = _dates(["listed_at", "removed_at"], ["expires_at"])
    expires = _not_before("expires_at", "listed_at")
    removed = _not_before("removed_at", "listed_at")

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        return removed(expires(dates(frame)))

    return step


LIST_REQUIRED = ("subject_code", "list_type", "listed_at", "subject_name")

LIST_STEPS: tuple[StepBuilder, ...] = (
    map_source_fields,
    _require(*LIST_REQUIRED),
    normalize_list_text,
    normalize_list_type,
    normalize_subject,
    parse_list_dates,
)


def normalize_lists(frame: pl.LazyFrame, ctx: NormalizeContext) -> NormalizedBatch:
    """Normalize a page run of red/black list entries."""
    return normalize_with(frame, ctx, CreditListEntry, LIST_STEPS, updated_at=None)
