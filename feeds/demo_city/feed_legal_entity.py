"""Legal entities (市市场监督管理局): daily and monthly full CSVs from the exchange folder,
GBK with CRLF (some months GB18030 or UTF-8 with BOM), spelled as registry exports spell
them (feeds.md §2).

Reason codes: ``uscc.format`` (``O`` typed for ``0``), ``uscc.checksum`` (wrong check
character), ``uscc.missing`` (an entity closed before the 2015 reform: 注册号 only),
``industry_code.section_mismatch`` (the section letter contradicts the division). A
missing section letter is valid: the division implies it.
"""

from __future__ import annotations

import polars as pl

from feeds.demo_city.context import Context
from feeds.demo_city.dirt import (
    Dice,
    fullwidth,
    labels,
    null_spelled,
    spell_date,
    spell_end_date,
    wrong_check_char,
)
from feeds.demo_city.render import Renderer
from feeds.demo_city.streams import stream
from feeds.demo_city.timeline import Delivery
from feeds.demo_city.writers import CsvSink, Sink
from schemas.codes.credit_code import USCC_ALPHABET
from schemas.codes.text import clean_text

__all__ = ["FIELDS", "legal_entity_renderer"]

FIELDS = (
    "统一社会信用代码",
    "注册号",
    "企业名称",
    "企业类型",
    "法定代表人",
    "法定代表人证件号码",
    "注册资本",
    "成立日期",
    "营业期限自",
    "营业期限至",
    "核准日期",
    "注销日期",
    "吊销日期",
    "登记机关",
    "登记状态",
    "住所",
    "住所所在行政区划",
    "行业代码",
    "经营范围",
)
CANONICAL: dict[str, pl.DataType] = {
    "uscc": pl.String(),
    "registration_number": pl.String(),
    "name": pl.String(),
    "entity_type": pl.String(),
    "legal_rep_name": pl.String(),
    "legal_rep_id_number": pl.String(),
    "industry_code": pl.String(),
    "industry_section": pl.String(),
    "registered_capital": pl.Decimal(18, 2),
    "capital_currency": pl.String(),
    "established_date": pl.Date(),
    "business_term_from": pl.Date(),
    "business_term_to": pl.Date(),
    "approved_date": pl.Date(),
    "deregistered_date": pl.Date(),
    "revoked_date": pl.Date(),
    "registration_authority": pl.String(),
    "status": pl.String(),
    "region_code": pl.String(),
    "address": pl.String(),
    "business_scope": pl.String(),
}
# The registry's own wording first; the others are what other exports write.
STATUS_SPELLINGS = {
    "ACTIVE": ("存续（在营、开业、在册）", "在业", "存续", "开业", "在营"),
    "MOVED_OUT": ("迁出",),
    "SUSPENDED": ("停业",),
    "LIQUIDATING": ("清算",),
    "REVOKED": ("吊销，未注销", "吊销"),
    "DEREGISTERED": ("注销",),
}
_CURRENCY_WORD = {"CNY": "万元人民币", "USD": "万美元", "HKD": "万港元"}
_YUAN_WORD = {"CNY": "元", "USD": "美元", "HKD": "港元"}
# GBK has no NBSP or zero-width space: only the blanks a GBK export can carry.
_GBK_NOISE = ("\u3000", " ")


def _wan(amount: pl.Expr) -> pl.Expr:
    """Amount in 万, without trailing zeros: 5000000 -> "500", 125000 -> "12.5"."""
    whole = amount // 10_000
    rest = amount % 10_000
    return (
        pl.when(rest == 0)
        .then(whole.cast(pl.String))
        .otherwise(
            (amount / 10_000)
            .round(4)
            .cast(pl.String)
            .str.strip_chars_end("0")
            .str.strip_chars_end(".")
        )
    )


def _capital(amount: pl.Expr, currency: pl.Expr, on: pl.Expr, k: pl.Expr) -> pl.Expr:
    wan = _wan(amount)
    canonical = pl.concat_str(wan, currency.replace_strict(_CURRENCY_WORD))
    cny = currency == "CNY"
    spelled = (
        pl.when(cny & (k % 4 == 0))
        .then(pl.concat_str(wan, pl.lit("万人民币")))
        .when(cny & (k % 4 == 1))
        .then(pl.concat_str(wan, pl.lit("万元")))
        .when(cny & (k % 4 == 2))
        .then(wan)  # bare: 万元 by the column's convention
        .otherwise(pl.concat_str(amount.cast(pl.String), currency.replace_strict(_YUAN_WORD)))
    )
    return pl.when(amount.is_null()).then(pl.lit("")).when(on).then(spelled).otherwise(canonical)


def _noise(expr: pl.Expr, on: pl.Expr, k: pl.Expr) -> pl.Expr:
    pad = pl.lit(pl.Series(_GBK_NOISE)).gather(k % 2)
    return pl.when(on).then(pl.concat_str(pad, expr, pad)).otherwise(expr)


def spell(ctx: Context, rows: pl.DataFrame, dice: Dice) -> pl.DataFrame:
    p = ctx.profile
    predecessor = {r.successor: r.code for r in ctx.city.retired}
    status_map = {k: v[0] for k, v in STATUS_SPELLINGS.items()}
    status_alt = {k: v[-1] for k, v in STATUS_SPELLINGS.items()}
    status_alt["ACTIVE"] = None
    active_alt = pl.lit(pl.Series(STATUS_SPELLINGS["ACTIVE"][1:]))
    d = rows.with_columns(
        dice.one_of(
            {
                "o_for_0": p.uscc_o_for_0,
                "checksum": p.uscc_checksum,
                "industry_wrong": p.industry_letter_wrong,
            }
        ).alias("_bad"),
        dice.mask(p.uscc_lowercase).alias("_mlow"),
        dice.mask(p.bracket_width).alias("_mbr"),
        dice.mask(p.capital_spelling).alias("_mcap"),
        dice.mask(p.industry_letter_missing).alias("_mind"),
        dice.mask(p.status_spelling).alias("_mstat"),
        dice.mask(p.date_spelling).alias("_mdate"),
        dice.mask(p.no_end_spelling).alias("_mnoend"),
        dice.mask(p.null_spelling).alias("_mnull"),
        dice.mask(p.text_noise).alias("_mnoise"),
        dice.mask(p.retired_region).alias("_mret"),
        dice.mask(p.id_fullwidth).alias("_mfw"),
        dice.pick(1 << 20).alias("_k"),
    )
    k = pl.col("_k")
    uscc = pl.col("uscc")
    reg_only = pl.col("registration_only")
    o_for_0 = (pl.col("_bad") == "o_for_0") & ~reg_only
    checksum = (pl.col("_bad") == "checksum") & ~reg_only
    wrong_letter = pl.col("_bad") == "industry_wrong"
    code = (
        pl.when(reg_only)
        .then(pl.lit(""))
        .when(o_for_0)
        .then(uscc.str.replace("0", "O", literal=True))
        .when(checksum)
        .then(wrong_check_char(uscc, USCC_ALPHABET, 1 + k % 30))
        .otherwise(uscc)
    )
    lowercase = pl.col("_mlow") & ~reg_only
    code = pl.when(lowercase).then(code.str.to_lowercase()).otherwise(code)
    brackets = pl.col("_mbr") & pl.col("name").str.contains("（", literal=True)
    name = (
        pl.when(brackets)
        .then(pl.col("name").str.replace_many(["（", "）"], ["(", ")"]))
        .otherwise("name")
    )
    section = pl.col("industry_code").str.head(1)
    wrong = pl.when(section == "C").then(pl.lit("F")).otherwise(pl.lit("C"))
    letter_missing = pl.col("_mind") & ~wrong_letter
    industry = (
        pl.when(wrong_letter)
        .then(pl.concat_str(wrong, pl.col("industry_code").str.slice(1)))
        .when(letter_missing)
        .then(pl.col("industry_code").str.slice(1))
        .otherwise("industry_code")
    )
    status = (
        pl.when(pl.col("_mstat") & (pl.col("status") == "ACTIVE"))
        .then(active_alt.gather(k % 4))
        .when(pl.col("_mstat"))
        .then(pl.col("status").replace_strict(status_alt, default=None))
        .otherwise(None)
    )
    status = pl.coalesce(status, pl.col("status").replace_strict(status_map))
    retired = pl.col("_mret") & pl.col("region_code").is_in(list(predecessor))
    date_on, date_k = pl.col("_mdate"), k % 7

    def date(col: str) -> pl.Expr:
        return null_spelled(spell_date(pl.col(col), 1, date_on, date_k), pl.col("_mnull"), k)

    noise = pl.col("_mnoise")
    return d.select(
        code.alias("统一社会信用代码"),
        pl.col("registration_number").fill_null("").alias("注册号"),
        _noise(name, noise & (k % 3 == 0), k).alias("企业名称"),
        pl.col("entity_type").alias("企业类型"),
        _noise(pl.col("legal_rep_name"), noise & (k % 3 == 1), k).alias("法定代表人"),
        pl.when(pl.col("_mfw"))
        .then(fullwidth(pl.col("legal_rep_id_number")))
        .otherwise("legal_rep_id_number")
        .alias("法定代表人证件号码"),
        _capital(
            pl.col("registered_capital"), pl.col("capital_currency"), pl.col("_mcap"), k
        ).alias("注册资本"),
        date("established_date").alias("成立日期"),
        date("business_term_from").alias("营业期限自"),
        spell_end_date(pl.col("business_term_to"), 1, date_on, date_k, pl.col("_mnoend")).alias(
            "营业期限至"
        ),
        date("approved_date").alias("核准日期"),
        date("deregistered_date").alias("注销日期"),
        date("revoked_date").alias("吊销日期"),
        pl.col("registration_authority").alias("登记机关"),
        status.alias("登记状态"),
        _noise(pl.col("address"), noise & (k % 3 == 2), k).alias("住所"),
        pl.when(retired)
        .then(pl.col("region_code").replace(predecessor))
        .otherwise("region_code")
        .alias("住所所在行政区划"),
        industry.alias("行业代码"),
        pl.col("business_scope").alias("经营范围"),
        labels(
            (reg_only, "uscc.missing"),
            (o_for_0, "uscc.format"),
            (checksum, "uscc.checksum"),
            (wrong_letter, "industry_code.section_mismatch"),
        ).alias("reasons"),
        labels(
            (reg_only, "registration_only"),
            (o_for_0, "uscc_o_for_0"),
            (checksum, "uscc_checksum"),
            (lowercase, "uscc_lowercase"),
            (brackets, "bracket_width"),
            (pl.col("_mcap"), "capital_spelling"),
            (letter_missing, "industry_letter_missing"),
            (wrong_letter, "industry_letter_wrong"),
            (pl.col("_mstat"), "status_spelling"),
            (date_on, "date_spelling"),
            (pl.col("_mnoend") & pl.col("business_term_to").is_null(), "no_end_spelling"),
            (pl.col("_mnull"), "null_spelling"),
            (noise, "text_noise"),
            (retired, "retired_region"),
            (pl.col("_mfw"), "id_fullwidth"),
        ).alias("dirt"),
    )


def canonical(rows: pl.DataFrame) -> pl.DataFrame:
    text = ("name", "entity_type", "legal_rep_name", "registration_authority", "address",
            "business_scope")  # fmt: skip
    return rows.with_columns(
        *(clean_text(pl.col(c)).alias(c) for c in text),
        pl.when(~pl.col("registration_only")).then("uscc").alias("uscc"),
        pl.col("registered_capital").cast(pl.Decimal(18, 2)),
    ).select(*CANONICAL)


def _encoding(ctx: Context, d: Delivery) -> str:
    """One encoding per month of exports, as the exchange system was set that month."""
    month = (d.since if d.kind != "full" else d.until).strftime("%Y%m")
    u = stream(ctx.seed, "entity-encoding", month).random()
    p = ctx.profile
    if u < p.encoding_gb18030:
        return "gb18030"
    if u < p.encoding_gb18030 + p.encoding_utf8_bom:
        return "utf-8-sig"
    return "gbk"


def legal_entity_renderer(ctx: Context) -> Renderer:
    deliveries = tuple(ctx.timeline.legal_entity())
    increments = [d for d in deliveries if d.kind == "increment"]
    unfinished = increments[-1].path if increments and ctx.profile.unmarked_last_file else None

    def sink(d: Delivery) -> Sink:
        return CsvSink(
            ctx.params.out / "deliveries",
            d.path,
            d.kind,
            _encoding(ctx, d),
            d.at,
            still_writing=d.path == unfinished,
            header=FIELDS,
            newline="\r\n",  # the 前置机 exports from Windows
        )

    return Renderer(
        table="legal_entity",
        deliveries=deliveries,
        fields=FIELDS,
        canonical_schema=CANONICAL,
        spell=spell,
        canonical=canonical,
        sink=sink,
    )
