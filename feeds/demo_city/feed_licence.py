"""Electronic licences (政务服务数据管理局): the monthly XLSX export, sheet ``证照信息``
(feeds.md §5); some months carry a title row above the header.

Dates are text, Excel serial numbers, or real Excel date cells. Reason codes:
``certificate_id.checksum`` (the 证照标识's MOD 37,36 check character is wrong),
``holder_code.checksum`` (the holder's USCC or citizen ID has a wrong check character).
"""

from __future__ import annotations

import polars as pl

from feeds.demo_city.context import Context
from feeds.demo_city.dirt import (
    EXCEL_SERIAL,
    Dice,
    fullwidth,
    labels,
    null_spelled,
    spell_date,
    spell_end_date,
    text_noise,
    wrong_check_char,
    wrong_citizen_check,
)
from feeds.demo_city.render import Renderer
from feeds.demo_city.streams import stream
from feeds.demo_city.timeline import Delivery
from feeds.demo_city.writers import DATE_CELL, NUMBER, Sink, XlsxSink
from schemas.codes.credit_code import USCC_ALPHABET
from schemas.codes.text import clean_text

__all__ = ["FIELDS", "SHEET", "licence_renderer"]

SHEET = "证照信息"
FIELDS = (
    "证照标识",
    "证照类型代码",
    "证照名称",
    "证照编号",
    "持证主体",
    "持证主体代码",
    "持证主体代码类型",
    "颁证单位",
    "颁证单位代码",
    "颁证日期",
    "有效期起始",
    "有效期截止",
    "证照状态",
    "所属区划",
    "版本号",
    "关联证照标识",
)
CANONICAL: dict[str, pl.DataType] = {
    "certificate_id": pl.String(),
    "licence_type_code": pl.String(),
    "licence_name": pl.String(),
    "licence_number": pl.String(),
    "holder_name": pl.String(),
    "holder_code": pl.String(),
    "holder_code_type": pl.String(),
    "issuer_name": pl.String(),
    "issuer_code": pl.String(),
    "issue_date": pl.Date(),
    "valid_from": pl.Date(),
    "valid_to": pl.Date(),
    "is_perpetual": pl.Boolean(),
    "status": pl.String(),
    "region_code": pl.String(),
    "version": pl.String(),
    "predecessor_id": pl.String(),
}
# One national construction-licence code list (standards.md §5.3); only the codes whose
# meaning is unambiguous are written.
STATUS_NAMES = {
    "VALID": "有效",
    "SUSPENDED": "暂扣",
    "REVOKED": "吊销",
    "CANCELLED": "注销",
    "EXPIRED": "过期",
}
STATUS_CODES = {
    "VALID": "01",
    "SUSPENDED": "02",
    "CANCELLED": "04",
    "EXPIRED": "05",
    "REVOKED": "07",
}
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _excel_date(date: pl.Expr, text: pl.Expr, on: pl.Expr, k: pl.Expr) -> pl.Expr:
    """A date cell: the text spelling, or an Excel serial as a number / date cell."""
    serial = (date - pl.date(1899, 12, 30)).dt.total_days().cast(pl.String)
    prefix = pl.when(k % 2 == 0).then(pl.lit(NUMBER)).otherwise(pl.lit(DATE_CELL))
    return pl.when(on & date.is_not_null()).then(pl.concat_str(prefix, serial)).otherwise(text)


def spell(ctx: Context, rows: pl.DataFrame, dice: Dice) -> pl.DataFrame:
    p = ctx.profile
    d = rows.with_columns(
        dice.one_of({"id": p.licence_id_checksum, "holder": p.holder_code_checksum}).alias("_bad"),
        dice.mask(p.excel_dates).alias("_mxl"),
        dice.mask(p.date_spelling).alias("_mdate"),
        dice.mask(p.no_end_spelling).alias("_mnoend"),
        dice.mask(p.status_as_code).alias("_mcode"),
        dice.mask(p.uscc_lowercase).alias("_mlow"),
        dice.mask(p.id_fullwidth).alias("_mfw"),
        dice.mask(p.text_noise).alias("_mnoise"),
        dice.mask(p.null_spelling).alias("_mnull"),
        dice.pick(1 << 20).alias("_k"),
    )
    k = pl.col("_k")
    bad_id = pl.col("_bad") == "id"
    bad_holder = pl.col("_bad") == "holder"
    person = pl.col("holder_code_type") == "citizen_id"
    holder = pl.col("holder_code")
    holder = (
        pl.when(bad_holder & person)
        .then(wrong_citizen_check(holder, 1 + k % 10))
        .when(bad_holder)
        .then(wrong_check_char(holder, USCC_ALPHABET, 1 + k % 30))
        .otherwise(holder)
    )
    lower = pl.col("_mlow") & ~person
    wide = pl.col("_mfw") & person
    holder = (
        pl.when(lower)
        .then(holder.str.to_lowercase())
        .when(wide)
        .then(fullwidth(holder))
        .otherwise(holder)
    )
    # Excel serials stand in for the text; text spellings vary only where they do not.
    text_on = pl.col("_mdate") & ~pl.col("_mxl")
    text_k = pl.when(k % 7 == EXCEL_SERIAL).then(pl.lit(0)).otherwise(k % 7)

    def date(col: str) -> pl.Expr:
        return _excel_date(
            pl.col(col), spell_date(pl.col(col), 1, text_on, text_k), pl.col("_mxl"), k
        )

    end_text = spell_end_date(pl.col("valid_to"), 1, text_on, text_k, pl.col("_mnoend"))
    status = (
        pl.when(pl.col("_mcode"))
        .then(pl.col("status").replace_strict(STATUS_CODES))
        .otherwise(pl.col("status").replace_strict(STATUS_NAMES))
    )
    return d.select(
        pl.when(bad_id)
        .then(wrong_check_char(pl.col("certificate_id"), _BASE36, 1 + k % 35))
        .otherwise("certificate_id")
        .alias("证照标识"),
        pl.col("licence_type_code").alias("证照类型代码"),
        pl.col("licence_name").alias("证照名称"),
        pl.col("licence_number").alias("证照编号"),
        text_noise(pl.col("holder_name"), pl.col("_mnoise"), k).alias("持证主体"),
        holder.alias("持证主体代码"),
        pl.when(person).then(pl.lit("111")).otherwise(pl.lit("001")).alias("持证主体代码类型"),
        pl.col("issuer_name").alias("颁证单位"),
        pl.col("issuer_code").alias("颁证单位代码"),
        date("issue_date").alias("颁证日期"),
        date("valid_from").alias("有效期起始"),
        _excel_date(pl.col("valid_to"), end_text, pl.col("_mxl"), k).alias("有效期截止"),
        status.alias("证照状态"),
        pl.col("region_code").alias("所属区划"),
        pl.col("version").alias("版本号"),
        null_spelled(pl.col("predecessor_id"), pl.col("_mnull"), k).alias("关联证照标识"),
        labels((bad_id, "certificate_id.checksum"), (bad_holder, "holder_code.checksum")).alias(
            "reasons"
        ),
        labels(
            (bad_id, "licence_id_checksum"),
            (bad_holder, "holder_code_checksum"),
            (lower, "uscc_lowercase"),
            (wide, "id_fullwidth"),
            (pl.col("_mxl"), "excel_dates"),
            (text_on, "date_spelling"),
            (pl.col("_mcode"), "status_as_code"),
            (pl.col("_mnoise"), "text_noise"),
            (pl.col("_mnull") & pl.col("predecessor_id").is_null(), "null_spelling"),
            (pl.col("_mnoend") & pl.col("valid_to").is_null() & ~pl.col("_mxl"), "no_end_spelling"),
        ).alias("dirt"),
    )


def canonical(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.with_columns(
        clean_text(pl.col(c)).alias(c) for c in ("licence_number", "holder_name")
    ).select(*CANONICAL)


def licence_renderer(ctx: Context) -> Renderer:
    def sink(d: Delivery) -> Sink:
        titled = stream(ctx.seed, "licence-title", d.name).random() < ctx.profile.title_row
        month = d.name.removeprefix("dzzz_").removesuffix(".xlsx")
        return XlsxSink(
            ctx.params.out / "deliveries",
            d.path,
            d.kind,
            "xlsx",
            d.at,
            staging=ctx.params.out / ".staging",
            sheet=SHEET,
            header=FIELDS,
            title=f"{ctx.city.name}电子证照信息导出（{month[:4]}年{month[4:]}月）"
            if titled
            else None,
        )

    return Renderer(
        table="licence",
        deliveries=tuple(ctx.timeline.licence()),
        fields=FIELDS,
        canonical_schema=CANONICAL,
        spell=spell,
        canonical=canonical,
        sink=sink,
        stale=False,
    )
