"""电子证照: electronic licences (政务服务数据管理局, feeds.md §5) normalized to
``core.licence``.

``STEPS`` is the ordered tuple of step builders (context → ``LazyFrame -> LazyFrame``);
:func:`normalize_licences` runs them and ends in ``split``: business key
``certificate_id``, the newest 颁证日期 (the spec's cursor) wins, then the later state of
the certificate's life (注销 after 有效, :func:`lifecycle_order`), then the later row.

Decisions:

- 证照标识 is checked (ISO 7064 MOD 37,36, standards.md §5.2) and split: its type segment
  is ``licence_type_code`` and its version segment ``version``. A 证照类型代码 or 版本号
  column that disagrees with the identifier warns (``licence_type_code.mismatch_id``,
  ``version.mismatch_id``); the identifier, whose check character verified, wins.
  关联证照标识 (``predecessor_id``) is checked the same way.
- 持证主体代码类型 ``001`` → ``uscc``, ``111`` → ``citizen_id`` (GB/T 36903 values; the
  Chinese names are accepted too), and the code is validated by that type's standard
  (GB 32100 / GB 11643). A code that is invalid as the declared type but valid as the
  other is ``holder_code.type_mismatch``. An empty type is taken from the code's shape,
  with warning ``holder_code_type.from_code``; any other type is
  ``holder_code_type.unknown`` (the lake knows only these two).
- 颁证单位代码 is a credit code (``issuer_code.*``).
- Dates in any spelling, Excel serials included (``44260``). 有效期截止 ``长期`` /
  ``9999-12-31`` / empty → ``valid_to`` null and ``is_perpetual`` true (standards.md §5.3;
  an empty one warns ``valid_to.empty_as_perpetual``). ``valid_to`` before ``valid_from``
  is rejected. A VALID licence whose end date is before ``ctx.today`` warns
  ``status.valid_after_end``.
- 证照状态, words or codes (:data:`STATUS`): 01 有效 VALID, 02 暂扣 SUSPENDED, 03 撤销
  REVOKED, 04 注销 CANCELLED, 05 失效/过期 EXPIRED, 06 办理转出 TRANSFERRED, 07 吊销
  REVOKED, 99 其他 OTHER — the national construction-licence code list of standards.md
  §5.3 (⚠️ single source: codes of other licence types may differ; words are safer).
  撤销 (annulled because it should not have been granted) and 吊销 (withdrawn as a
  penalty) both end the licence by the authority's act: REVOKED.
- 所属区划: a current GB/T 2260 code, retired codes mapped to successors.
- Holder and issuer names lose the spaces typed between Chinese characters; brackets
  stay in the NFKC (half-width) form, as in the legal-entity feed, so a holder's name
  equals its name in ``core.legal_entity``.

Reason codes (``<column>.<code>``):

- ``certificate_id.missing``/``.format``/``.checksum``, ``predecessor_id.format``/
  ``.checksum`` (:data:`schemas.codes.licence_id.REASONS`).
- ``holder_code.missing``/``.type_mismatch`` and the checks' codes (``format``,
  ``checksum``, ``birth_date`` ...); ``holder_code_type.unknown``; ``holder_name.missing``.
- ``issuer_code.format``/``.checksum``; ``licence_name.missing``.
- ``issue_date.*``, ``valid_from.*``, ``valid_to.*`` (:data:`schemas.codes.dates.REASONS`;
  ``长期`` in a start date is ``open_ended``), ``valid_to.before_valid_from``.
- ``status.missing``/``.unknown``; ``region_code.*`` (:data:`schemas.codes.region.REASONS`).

Warnings: ``licence_type_code.mismatch_id``, ``version.mismatch_id``,
``holder_code_type.from_code``, ``valid_to.empty_as_perpetual``, ``status.valid_after_end``,
and the checks' own.
"""

from __future__ import annotations

import polars as pl

from schemas.codes.citizen_id import check_citizen_id
from schemas.codes.credit_code import check_subject_code, check_uscc
from schemas.codes.licence_id import check_licence_id
from schemas.codes.region import check_region_code
from schemas.codes.text import collapse_spaces
from schemas.records.licence import Licence
from transforms.batch import (
    NormalizedBatch,
    Step,
    begin,  # noqa: F401 (the doctests build their frames with it)
    flag,
    flag_where,
    reason_lists,  # noqa: F401 (the doctests show the reasons with it)
    require,
    warn,
    warn_where,
)
from transforms.common import StepBuilder, check_column, map_fields, normalize_with
from transforms.context import NormalizeContext
from transforms.credit import date_column

__all__ = [
    "HOLDER_CODE_TYPES",
    "LIFECYCLE",
    "REQUIRED",
    "STATUS",
    "STEPS",
    "lifecycle_order",
    "normalize_licences",
]


def _collapse(expr: pl.Expr) -> pl.Expr:
    # Guarded, Polars skips collapse_spaces (its own whitespace scan included) on the
    # chunks where no value has a space at all, most of them.
    return pl.when(expr.str.contains(r"\s")).then(collapse_spaces(expr)).otherwise(expr)


#: 证照状态 words and codes → canonical status (module docstring).
STATUS: dict[str, str] = {
    "有效": "VALID",
    "正常": "VALID",
    "暂扣": "SUSPENDED",
    "撤销": "REVOKED",
    "吊销": "REVOKED",
    "注销": "CANCELLED",
    "废止": "CANCELLED",
    "失效": "EXPIRED",
    "过期": "EXPIRED",
    "已过期": "EXPIRED",
    "办理转出": "TRANSFERRED",
    "转出": "TRANSFERRED",
    "其他": "OTHER",
    "01": "VALID",
    "02": "SUSPENDED",
    "03": "REVOKED",
    "04": "CANCELLED",
    "05": "EXPIRED",
    "06": "TRANSFERRED",
    "07": "REVOKED",
    "99": "OTHER",
}
# The enum itself, so that a replay of already-canonical rows maps onto itself.
STATUS |= {v: v for v in set(STATUS.values())}

#: 持证主体代码类型 → canonical type (GB/T 36903: 001 统一社会信用代码, 111 公民身份号码).
HOLDER_CODE_TYPES: dict[str, str] = {
    "001": "uscc",
    "统一社会信用代码": "uscc",
    "USCC": "uscc",
    "111": "citizen_id",
    "公民身份号码": "citizen_id",
    "居民身份证": "citizen_id",
    "身份证": "citizen_id",
    "CITIZEN_ID": "citizen_id",
}

REQUIRED = ("certificate_id", "licence_name", "holder_name", "holder_code", "status")


def map_source_fields(ctx: NormalizeContext) -> Step:
    """The bureau's Chinese column names to canonical columns, cleaned (NFKC, nulls).

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={"status": ["证照状态"]}, today=date(2026, 1, 1))
    >>> map_source_fields(ctx)(pl.LazyFrame({"证照状态": ["０１"]})).collect()["status"].to_list()
    ['01']
    """
    return map_fields(ctx.fields)


def require_columns(ctx: NormalizeContext) -> Step:
    """Reject rows missing a required value as delivered (``<column>.missing``); a value
    that is present but bad is rejected by its own check instead.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({c: ["x"] for c in REQUIRED} | {"holder_code": [None]}))
    >>> require_columns(ctx)(lf).pipe(reason_lists).collect()["_reasons"].to_list()
    [['holder_code.missing']]
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        return require(frame, REQUIRED)

    return step


def normalize_certificate_id(ctx: NormalizeContext) -> Step:
    """证照标识 checked and split; type code and version taken from it (a disagreeing
    column warns); 关联证照标识 checked too.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> good = "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F"
    >>> lf = begin(pl.LazyFrame({"certificate_id": [good, good[:-1] + "G"],
    ...                          "licence_type_code": ["11100000000013338W032", None],
    ...                          "version": ["2", None], "predecessor_id": [good, None]}))
    >>> out = normalize_certificate_id(ctx)(lf).pipe(reason_lists).select(
    ...     "licence_type_code", "version", "_reasons", "_warnings").collect()
    >>> out.rows()  # doctest: +NORMALIZE_WHITESPACE
    [('11100000000013338W032', '001', [], ['version.mismatch_id']),
     (None, None, ['certificate_id.checksum'], [])]
    """
    identifier = check_column(
        "certificate_id",
        check_licence_id,
        extras={"type_code": "_id_type_code", "version": "_id_version"},
    )
    predecessor = check_column("predecessor_id", check_licence_id)

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        frame = predecessor(identifier(frame))
        declared_type = pl.col("licence_type_code").str.replace_all(r"\s", "").str.to_uppercase()
        declared_version = (
            pl.col("version").str.replace_all(r"\s", "").str.replace(r"^[Vv]", "").str.zfill(3)
        )
        id_type, id_version = pl.col("_id_type_code"), pl.col("_id_version")
        frame = warn_where(
            frame,
            "licence_type_code",
            "mismatch_id",
            id_type.is_not_null() & (declared_type != id_type),
        )
        frame = warn_where(
            frame,
            "version",
            "mismatch_id",
            id_version.is_not_null() & (declared_version != id_version),
        )
        return frame.with_columns(
            id_type.alias("licence_type_code"), id_version.alias("version")
        ).drop("_id_type_code", "_id_version")

    return step


def normalize_holder(ctx: NormalizeContext) -> Step:
    """持证主体代码类型 → ``uscc``/``citizen_id``; the code validated by that type.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({
    ...     "holder_code": ["91110000600037341l", "11010519491231002X", "91110000600037341L",
    ...                     "110105194912310020", "11010519491231002X", "91110000600037341L"],
    ...     "holder_code_type": ["001", "111", "111", "111", None, "002"]}))
    >>> out = normalize_holder(ctx)(lf).pipe(reason_lists).select("holder_code", "holder_code_type", "_reasons", "_warnings")
    >>> out.collect().rows()  # doctest: +NORMALIZE_WHITESPACE
    [('91110000600037341L', 'uscc', [], []),
     ('11010519491231002X', 'citizen_id', [], []),
     (None, 'citizen_id', ['holder_code.type_mismatch'], []),
     (None, 'citizen_id', ['holder_code.checksum'], []),
     ('11010519491231002X', 'citizen_id', [], ['holder_code_type.from_code']),
     (None, None, ['holder_code_type.unknown'], [])]
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        raw_type, code = pl.col("holder_code_type"), pl.col("holder_code")
        declared = raw_type.str.replace_all(r"\s", "").str.to_uppercase()
        kind = pl.col("_type")
        frame = frame.with_columns(
            declared.replace_strict(HOLDER_CODE_TYPES, default=None, return_dtype=pl.String).alias(
                "_type"
            )
        )
        # Each check runs where it is needed: Polars skips a guarded branch on chunks where
        # no row needs it (the other type's check only for codes invalid as declared, the
        # shape-based check only where no type was declared).
        uscc = check_uscc(code)
        person = check_citizen_id(code, today=ctx.today)
        frame = frame.with_columns(
            pl.when(kind == "uscc")
            .then(uscc)
            .when(kind == "citizen_id")
            .then(person)
            .alias("_chosen"),
            pl.when(raw_type.is_null()).then(check_subject_code(code)).alias("_any"),
        )
        chosen, any_ = pl.col("_chosen"), pl.col("_any")
        invalid = kind.is_not_null() & code.is_not_null() & chosen.struct.field("value").is_null()
        frame = frame.with_columns(
            pl.when(invalid & (kind == "uscc"))
            .then(person.struct.field("value"))
            .when(invalid & (kind == "citizen_id"))
            .then(uscc.struct.field("value"))
            .alias("_other")
        )
        frame = flag_where(
            frame, "holder_code_type", "unknown", raw_type.is_not_null() & kind.is_null()
        )
        reason = (
            pl.when(raw_type.is_null())
            .then(any_.struct.field("reason"))
            .when(pl.col("_other").is_not_null())
            .then(pl.lit("type_mismatch"))
            .otherwise(chosen.struct.field("reason"))
        )
        frame = flag(frame, "holder_code", reason)
        from_code = raw_type.is_null() & any_.struct.field("value").is_not_null()
        frame = warn_where(frame, "holder_code_type", "from_code", from_code)
        frame = warn(
            frame,
            "holder_code",
            pl.when(raw_type.is_null()).then(any_).otherwise(chosen).struct.field("warning"),
        )
        return frame.with_columns(
            pl.when(from_code)
            .then(any_.struct.field("value"))
            .otherwise(chosen.struct.field("value"))
            .alias("holder_code"),
            pl.when(from_code)
            .then(any_.struct.field("code_type"))
            .otherwise(kind)
            .alias("holder_code_type"),
        ).drop("_type", "_chosen", "_any", "_other")

    return step


def normalize_issuer(ctx: NormalizeContext) -> Step:
    """颁证单位代码: a GB 32100 credit code.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"issuer_code": ["11100000000013338W", "11100000000013338X"]}))
    >>> normalize_issuer(ctx)(lf).pipe(reason_lists).select("issuer_code", "_reasons").collect().rows()
    [('11100000000013338W', []), (None, ['issuer_code.checksum'])]
    """
    return check_column("issuer_code", check_uscc)


def normalize_text(ctx: NormalizeContext) -> Step:
    """Holder, issuer and licence names without the spaces typed between Chinese
    characters; the printed number without spaces.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = pl.LazyFrame({"holder_name": ["某(广州)有限 公司"], "issuer_name": ["广州市 交通运输局"],
    ...                    "licence_name": ["食品经营 许可证"], "licence_number": ["JY1 4401060000001"]})
    >>> normalize_text(ctx)(lf).collect().rows()
    [('某(广州)有限公司', '广州市交通运输局', '食品经营许可证', 'JY14401060000001')]
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.with_columns(
            _collapse(pl.col("holder_name")),
            _collapse(pl.col("issuer_name")),
            _collapse(pl.col("licence_name")),
            pl.col("licence_number").str.replace_all(r"\s", ""),
        )

    return step


def parse_dates(ctx: NormalizeContext) -> Step:
    """颁证日期, 有效期起始, 有效期截止 (Excel serials, ``长期``) → dates, ``is_perpetual``.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"issue_date": ["44260"] * 4, "valid_from": ["2021-03-05"] * 4,
    ...                          "valid_to": ["长期", "46086", None, "2020-01-01"]}))
    >>> out = parse_dates(ctx)(lf).pipe(reason_lists).select("issue_date", "valid_to", "is_perpetual", "_reasons").collect()
    >>> out.rows()  # doctest: +NORMALIZE_WHITESPACE
    [(datetime.date(2021, 3, 5), None, True, []),
     (datetime.date(2021, 3, 5), datetime.date(2026, 3, 5), False, []),
     (datetime.date(2021, 3, 5), None, True, []),
     (datetime.date(2021, 3, 5), datetime.date(2020, 1, 1), False, ['valid_to.before_valid_from'])]
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        empty = pl.col("valid_to").is_null()
        frame = frame.with_columns(empty.alias("_valid_to_empty"))
        for column in ("issue_date", "valid_from"):
            frame = date_column(column)(frame)
        frame = date_column("valid_to", open_ended=True)(frame)
        frame = warn_where(frame, "valid_to", "empty_as_perpetual", pl.col("_valid_to_empty"))
        frame = flag_where(
            frame, "valid_to", "before_valid_from", pl.col("valid_to") < pl.col("valid_from")
        )
        return frame.with_columns(
            (pl.col("_valid_to_open") | pl.col("_valid_to_empty")).alias("is_perpetual")
        ).drop("_valid_to_open", "_valid_to_empty")

    return step


def normalize_status(ctx: NormalizeContext) -> Step:
    """证照状态 word or code → the canonical status (:data:`STATUS`); a VALID licence past
    its end date warns.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"status": ["有效", "04", "7", "作废"],
    ...                          "valid_to": [date(2025, 1, 1), None, None, None]}))
    >>> normalize_status(ctx)(lf).pipe(reason_lists).select("status", "_reasons", "_warnings").collect().rows()  # doctest: +NORMALIZE_WHITESPACE
    [('VALID', [], ['status.valid_after_end']), ('CANCELLED', [], []), ('REVOKED', [], []),
     (None, ['status.unknown'], [])]
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        raw = pl.col("status").str.replace_all(r"\s", "")
        key = pl.when(raw.str.contains(r"^[0-9]$")).then(raw.str.zfill(2)).otherwise(raw)
        canonical = key.str.to_uppercase().replace_strict(
            STATUS, default=None, return_dtype=pl.String
        )
        frame = frame.with_columns(canonical.alias("_status"))
        frame = flag_where(
            frame, "status", "unknown", raw.is_not_null() & pl.col("_status").is_null()
        )
        frame = warn_where(
            frame,
            "status",
            "valid_after_end",
            (pl.col("_status") == "VALID") & (pl.col("valid_to") < pl.lit(ctx.today)),
        )
        return frame.with_columns(pl.col("_status").alias("status")).drop("_status")

    return step


def normalize_region(ctx: NormalizeContext) -> Step:
    """所属区划: a current GB/T 2260 code, retired codes mapped to their successors.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"region_code": ["440184", "440106", "4401"]}))
    >>> normalize_region(ctx)(lf).pipe(reason_lists).select("region_code", "_reasons").collect().rows()
    [('440117', []), ('440106', []), (None, ['region_code.format'])]
    """
    return check_column("region_code", check_region_code)


#: Order of a certificate's states in its life: a later state is the newer record.
LIFECYCLE: dict[str, int] = {"VALID": 0, "SUSPENDED": 1}
_ENDED = 2  # REVOKED, CANCELLED, EXPIRED, TRANSFERRED, OTHER


def lifecycle_order(ctx: NormalizeContext) -> Step:
    """``_updated``: what "newest" means for a licence row — 颁证日期 (the spec's cursor),
    then the state's place in the certificate's life. Every state of one certificate has
    the same 颁证日期 and the export carries no update time, so when an export holds a
    certificate twice (issued, then 注销 in the same month) the ended state is the newer
    one, in whatever order the rows come. (A suspension lifted back to 有效 within one
    export would be misread; the bureau's exports give no way to tell.)

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = pl.LazyFrame({"issue_date": [date(2024, 1, 1)] * 3, "status": ["CANCELLED", "VALID", None]})
    >>> lifecycle_order(ctx)(lf).collect()["_updated"].to_list()  # doctest: +NORMALIZE_WHITESPACE
    [{'issue_date': datetime.date(2024, 1, 1), 'state': 2},
     {'issue_date': datetime.date(2024, 1, 1), 'state': 0}, {'issue_date': datetime.date(2024, 1, 1), 'state': None}]
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        state = (
            pl.when(pl.col("status").is_not_null())
            .then(pl.col("status").replace_strict(LIFECYCLE, default=_ENDED, return_dtype=pl.Int8))
            .alias("state")
        )
        return frame.with_columns(pl.struct(pl.col("issue_date"), state).alias("_updated"))

    return step


STEPS: tuple[StepBuilder, ...] = (
    map_source_fields,
    require_columns,
    normalize_certificate_id,
    normalize_holder,
    normalize_issuer,
    normalize_text,
    parse_dates,
    normalize_status,
    normalize_region,
    lifecycle_order,
)


def normalize_licences(frame: pl.LazyFrame, ctx: NormalizeContext) -> NormalizedBatch:
    """Normalize a licence export: valid licence versions, rejected rows, duplicates."""
    return normalize_with(frame, ctx, Licence, STEPS, updated_at="_updated")
