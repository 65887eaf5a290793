"""Social credit (信用办): penalties, permits and list entries as the cursor API's JSON
records (feeds.md §4), in both generations of field names (standards.md §6.1/§6.2).

Every value is a string, as these APIs send them. Reason code: ``subject_code.checksum``
(the subject's USCC or citizen ID has a wrong check character). ``CF_NR_FK`` in 元 instead
of 万元 is valid: CF_NR states the amount, so the unit can be told. Older-generation
records carry no authority code (only its name) and no 公示截止期: the truth gives the
real authority code, and ``publish_until`` null for them. The credit office also publishes
its directory of authorities (code, name, former names, region) beside the API's data:
that is where a name-only record's code can be looked up.
"""

from __future__ import annotations

import polars as pl

from feeds.demo_city.city import authorities
from feeds.demo_city.context import Context
from feeds.demo_city.dirt import (
    Dice,
    api_line,
    fullwidth,
    labels,
    null_spelled,
    spell_date,
    spell_end_date,
    wrong_check_char,
    wrong_citizen_check,
)
from feeds.demo_city.render import Renderer
from feeds.demo_city.timeline import Delivery
from feeds.demo_city.writers import CsvSink, JsonlSink, Sink
from schemas.codes.credit_code import USCC_ALPHABET
from schemas.codes.text import clean_text

__all__ = ["AUTHORITY_DIRECTORY", "credit_renderers", "write_authority_directory"]

PENALTY_CURRENT = (
    "CF_XDR_MC",
    "CF_XDR_LB",
    "CF_XDR_SHXYM",
    "CF_XDR_GSZC",
    "CF_XDR_ZZJG",
    "CF_XDR_SWDJ",
    "CF_XDR_SYDW",
    "CF_XDR_SHZZ",
    "CF_FRDB",
    "CF_FR_ZJLX",
    "CF_FR_ZJHM",
    "CF_XDR_ZJLX",
    "CF_XDR_ZJHM",
    "CF_WSH",
    "CF_WFXW",
    "CF_SY",
    "CF_YJ",
    "CF_CFLB",
    "CF_NR",
    "CF_NR_FK",
    "CF_NR_WFFF",
    "CF_NR_ZKDX",
    "CF_JDRQ",
    "CF_YXQ",
    "CF_GSJZQ",
    "CF_CFJG",
    "CF_CFJGDM",
    "CF_SJLY",
    "CF_SJLYDM",
    "BZ",
)
PENALTY_LEGACY = (
    "CF_WSH",
    "CF_AJMC",
    "CF_CFLB1",
    "CF_CFLB2",
    "CF_SY",
    "CF_YJ",
    "CF_XDR_MC",
    "CF_XDR_SHXYM",
    "CF_XDR_ZDM",
    "CF_XDR_GSDJ",
    "CF_XDR_SWDJ",
    "CF_XDR_SFZ",
    "CF_FR",
    "CF_JG",
    "CF_JDRQ",
    "CF_XZJG",
    "CF_ZT",
    "DFBM",
    "CF_SJC",
    "BZ",
)
PERMIT_CURRENT = (
    "XK_XDR_MC",
    "XK_XDR_LB",
    "XK_XDR_SHXYM",
    "XK_XDR_GSZC",
    "XK_XDR_ZZJG",
    "XK_XDR_SWDJ",
    "XK_XDR_SYDW",
    "XK_XDR_SHZZ",
    "XK_FRDB",
    "XK_FR_ZJLX",
    "XK_FR_ZJHM",
    "XK_XDR_ZJLX",
    "XK_XDR_ZJHM",
    "XK_XKWS",
    "XK_WSH",
    "XK_XKLB",
    "XK_XKZS",
    "XK_XKBH",
    "XK_NR",
    "XK_JDRQ",
    "XK_YXQZ",
    "XK_YXQZI",
    "XK_XKJG",
    "XK_XKJGDM",
    "XK_ZT",
    "XK_LYDW",
    "XK_LYDWDM",
    "BZ",
)
PERMIT_LEGACY = (
    "XK_WSH",
    "XK_XMMC",
    "XK_SPLB",
    "XK_NR",
    "XK_XDR",
    "XK_XDR_SHXYM",
    "XK_XDR_ZDM",
    "XK_XDR_GSDJ",
    "XK_XDR_SWDJ",
    "XK_XDR_SFZ",
    "XK_FR",
    "XK_JDRQ",
    "XK_JZQ",
    "XK_XZJG",
    "XK_ZT",
    "DFBM",
    "SJC",
    "BZ",
)
LIST_FIELDS = (
    "subject_name",
    "subject_code",
    "list_type",
    "listing_authority",
    "basis_doc",
    "listed_at",
    "expires_at",
    "removed_at",
)


def _union(*groups: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f for g in groups for f in g))


PENALTY_CANONICAL: dict[str, pl.DataType] = {
    "decision_no": pl.String(),
    "authority_code": pl.String(),
    "authority_name": pl.String(),
    "subject_name": pl.String(),
    "subject_category": pl.String(),
    "subject_code": pl.String(),
    "legal_rep_name": pl.String(),
    "penalty_types": pl.List(pl.String()),
    "fine_amount": pl.Decimal(18, 2),
    "decision_date": pl.Date(),
    "publish_until": pl.Date(),
    "violation": pl.String(),
    "basis": pl.String(),
    "remark": pl.String(),
    "record_generation": pl.String(),
}
PERMIT_CANONICAL: dict[str, pl.DataType] = {
    "decision_no": pl.String(),
    "authority_code": pl.String(),
    "authority_name": pl.String(),
    "subject_name": pl.String(),
    "subject_category": pl.String(),
    "subject_code": pl.String(),
    "permit_name": pl.String(),
    "licence_number": pl.String(),
    "decision_date": pl.Date(),
    "valid_from": pl.Date(),
    "valid_to": pl.Date(),
    "record_generation": pl.String(),
}
LIST_CANONICAL: dict[str, pl.DataType] = {
    "subject_code": pl.String(),
    "list_type": pl.String(),
    "list_name": pl.String(),
    "listed_at": pl.Date(),
    "subject_name": pl.String(),
    "listing_authority": pl.String(),
    "basis_doc": pl.String(),
    "expires_at": pl.Date(),
    "removed_at": pl.Date(),
}


def _dice(ctx: Context, rows: pl.DataFrame, dice: Dice) -> pl.DataFrame:
    p = ctx.profile
    return rows.with_columns(
        dice.mask(p.subject_code_checksum).alias("_mck"),
        dice.mask(p.uscc_lowercase).alias("_mlow"),
        dice.mask(p.id_fullwidth).alias("_mfw"),
        dice.mask(p.date_spelling).alias("_mdate"),
        dice.mask(p.no_end_spelling).alias("_mnoend"),
        dice.mask(p.null_spelling).alias("_mnull"),
        dice.mask(p.fine_in_yuan).alias("_myuan"),
        dice.pick(1 << 20).alias("_k"),
    )


def _subject(code: str = "subject_code") -> tuple[pl.Expr, pl.Expr, list[tuple[pl.Expr, str]]]:
    """The delivered subject code, its quarantine condition and its dirt labels."""
    k = pl.col("_k")
    c = pl.col(code)
    person = c.str.contains(r"^[0-9]{17}[0-9X]$")
    checksum = pl.col("_mck")
    spelled = (
        pl.when(checksum & person)
        .then(wrong_citizen_check(c, 1 + k % 10))
        .when(checksum)
        .then(wrong_check_char(c, USCC_ALPHABET, 1 + k % 30))
        .otherwise(c)
    )
    lower = pl.col("_mlow") & ~person
    wide = pl.col("_mfw") & person
    spelled = (
        pl.when(lower)
        .then(spelled.str.to_lowercase())
        .when(wide)
        .then(fullwidth(spelled))
        .otherwise(spelled)
    )
    return (
        spelled,
        checksum,
        [(checksum, "subject_code_checksum"), (lower, "uscc_lowercase"), (wide, "id_fullwidth")],
    )


def _date(col: str) -> pl.Expr:
    return null_spelled(
        spell_date(pl.col(col), 1, pl.col("_mdate"), pl.col("_k") % 7),
        pl.col("_mnull"),
        pl.col("_k"),
    )


def _opt(col: str | pl.Expr) -> pl.Expr:
    """An optional text field: empty (or another null spelling) when missing."""
    expr = pl.col(col) if isinstance(col, str) else col
    return null_spelled(expr, pl.col("_mnull"), pl.col("_k"))


def _only(
    legacy: pl.Expr, exprs: dict[str, pl.Expr], current: tuple[str, ...], old: tuple[str, ...]
) -> list[pl.Expr]:
    """Each generation's fields on its own records, null on the other's."""
    out = []
    for name in _union(current, old):
        e = exprs[name]
        if name not in old:
            e = pl.when(~legacy).then(e)
        elif name not in current:
            e = pl.when(legacy).then(e)
        out.append(e.alias(name))
    return out


_ENTITY = pl.col("subject_category") != "自然人"


def _ent(value: pl.Expr) -> pl.Expr:
    """A field only an entity subject has (null for a natural person)."""
    return pl.when(_ENTITY).then(value)


def _per(value: pl.Expr) -> pl.Expr:
    """A field only a natural-person subject has."""
    return pl.when(~_ENTITY).then(value)


def _wan(amount: pl.Expr) -> pl.Expr:
    return (amount / 10_000).round(4).cast(pl.String).str.replace(r"\.?0+$", "")


def spell_penalty(ctx: Context, rows: pl.DataFrame, dice: Dice) -> pl.DataFrame:
    d = _dice(ctx, rows, dice)
    code, checksum, code_dirt = _subject()
    legacy = pl.col("legacy")
    types = pl.col("penalty_types").list.join("、")
    fined = pl.col("fine_amount") > 0
    content = pl.concat_str(
        pl.col("violation"),
        pl.lit("，依据"),
        pl.col("basis"),
        pl.lit("，给予"),
        types,
        pl.lit("处罚"),
        pl.when(fined)
        .then(
            pl.concat_str(
                pl.lit("，罚款人民币"), pl.col("fine_amount").cast(pl.String), pl.lit("元")
            )
        )
        .otherwise(pl.lit("")),
    )
    yuan = pl.col("_myuan") & fined & ~legacy
    fk = (
        pl.when(~fined)
        .then(pl.lit("0"))
        .when(yuan)
        .then(pl.col("fine_amount").cast(pl.String))
        .otherwise(_wan(pl.col("fine_amount")))
    )
    e = {
        "CF_XDR_MC": pl.col("subject_name"),
        "CF_XDR_LB": pl.col("subject_category"),
        "CF_XDR_SHXYM": _opt(_ent(code)),
        "CF_XDR_GSZC": _opt("registration_number"),
        "CF_XDR_ZZJG": _opt(_ent(pl.col("subject_code").str.slice(8, 9))),
        "CF_XDR_SWDJ": _opt(pl.lit(None, pl.String)),
        "CF_XDR_SYDW": _opt(pl.lit(None, pl.String)),
        "CF_XDR_SHZZ": _opt(pl.lit(None, pl.String)),
        "CF_FRDB": _opt("legal_rep_name"),
        "CF_FR_ZJLX": _opt(_ent(pl.lit("身份证"))),
        "CF_FR_ZJHM": _opt("legal_rep_id_number"),
        "CF_XDR_ZJLX": _opt(_per(pl.lit("身份证"))),
        "CF_XDR_ZJHM": _opt(_per(code)),
        "CF_WSH": pl.col("decision_no"),
        "CF_WFXW": pl.col("violation"),
        "CF_SY": pl.concat_str(pl.col("subject_name"), pl.col("violation")),
        "CF_YJ": pl.col("basis"),
        "CF_CFLB": types,
        "CF_NR": content,
        "CF_NR_FK": fk,
        "CF_NR_WFFF": _opt(pl.lit(None, pl.String)),
        "CF_NR_ZKDX": _opt(pl.lit(None, pl.String)),
        "CF_JDRQ": _date("decision_date"),
        "CF_YXQ": _date("publish_until"),
        "CF_GSJZQ": _date("publish_until"),
        "CF_CFJG": pl.col("authority_name"),
        "CF_CFJGDM": pl.col("authority_code"),
        "CF_SJLY": pl.col("authority_name"),
        "CF_SJLYDM": pl.col("authority_code"),
        "BZ": _opt("remark"),
        "CF_AJMC": pl.concat_str(pl.col("subject_name"), pl.col("violation"), pl.lit("案")),
        "CF_CFLB1": pl.col("penalty_types").list.first(),
        "CF_CFLB2": _opt(pl.col("penalty_types").list.slice(1).list.join("、").replace("", None)),
        "CF_XDR_ZDM": _opt(_ent(pl.col("subject_code").str.slice(8, 9))),
        "CF_XDR_GSDJ": _opt("registration_number"),
        "CF_XDR_SFZ": _opt(_per(code)),
        "CF_FR": _opt("legal_rep_name"),
        "CF_JG": content,
        "CF_XZJG": pl.col("authority_name"),
        "CF_ZT": pl.lit("0"),
        "DFBM": pl.col("region_code"),
        "CF_SJC": pl.col("_cursor").dt.strftime("%Y-%m-%d %H:%M:%S"),
    }
    return d.select(
        *_only(legacy, e, PENALTY_CURRENT, PENALTY_LEGACY),
        labels((checksum, "subject_code.checksum")).alias("reasons"),
        labels(
            *code_dirt,
            (legacy, "legacy_fields"),
            (yuan, "fine_in_yuan"),
            (pl.col("_mdate"), "date_spelling"),
            (pl.col("_mnull"), "null_spelling"),
        ).alias("dirt"),
    )


def spell_permit(ctx: Context, rows: pl.DataFrame, dice: Dice) -> pl.DataFrame:
    d = _dice(ctx, rows, dice)
    code, checksum, code_dirt = _subject()
    legacy = pl.col("legacy")
    valid_to = spell_end_date(
        pl.col("valid_to"), 1, pl.col("_mdate"), pl.col("_k") % 7, pl.col("_mnoend")
    )
    e = {
        "XK_XDR_MC": pl.col("subject_name"),
        "XK_XDR_LB": pl.col("subject_category"),
        "XK_XDR_SHXYM": _opt(_ent(code)),
        "XK_XDR_GSZC": _opt("registration_number"),
        "XK_XDR_ZZJG": _opt(_ent(pl.col("subject_code").str.slice(8, 9))),
        "XK_XDR_SWDJ": _opt(pl.lit(None, pl.String)),
        "XK_XDR_SYDW": _opt(pl.lit(None, pl.String)),
        "XK_XDR_SHZZ": _opt(pl.lit(None, pl.String)),
        "XK_FRDB": _opt("legal_rep_name"),
        "XK_FR_ZJLX": _opt(_ent(pl.lit("身份证"))),
        "XK_FR_ZJHM": _opt("legal_rep_id_number"),
        "XK_XDR_ZJLX": _opt(_per(pl.lit("身份证"))),
        "XK_XDR_ZJHM": _opt(_per(code)),
        "XK_XKWS": pl.concat_str(pl.col("permit_name"), pl.lit("决定书")),
        "XK_WSH": pl.col("decision_no"),
        "XK_XKLB": pl.lit("普通"),
        "XK_XKZS": pl.col("permit_name"),
        "XK_XKBH": pl.col("licence_number"),
        "XK_NR": pl.concat_str(pl.lit("准予"), pl.col("permit_name")),
        "XK_JDRQ": _date("decision_date"),
        "XK_YXQZ": _date("valid_from"),
        "XK_YXQZI": valid_to,
        "XK_XKJG": pl.col("authority_name"),
        "XK_XKJGDM": pl.col("authority_code"),
        # Both generations have 当前状态; the older one codes it (0 正常).
        "XK_ZT": pl.when(legacy).then(pl.lit("0")).otherwise(pl.lit("有效")),
        "XK_LYDW": pl.col("authority_name"),
        "XK_LYDWDM": pl.col("authority_code"),
        "BZ": _opt(pl.lit(None, pl.String)),
        "XK_XMMC": pl.col("permit_name"),
        "XK_SPLB": pl.lit("普通"),
        "XK_XDR": pl.col("subject_name"),
        "XK_XDR_ZDM": _opt(_ent(pl.col("subject_code").str.slice(8, 9))),
        "XK_XDR_GSDJ": _opt("registration_number"),
        "XK_XDR_SFZ": _opt(_per(code)),
        "XK_FR": _opt("legal_rep_name"),
        "XK_JZQ": valid_to,
        "XK_XZJG": pl.col("authority_name"),
        "DFBM": pl.col("region_code"),
        "SJC": pl.col("_cursor").dt.strftime("%Y-%m-%d %H:%M:%S"),
    }
    return d.select(
        *_only(legacy, e, PERMIT_CURRENT, PERMIT_LEGACY),
        labels((checksum, "subject_code.checksum")).alias("reasons"),
        labels(
            *code_dirt,
            (legacy, "legacy_fields"),
            (pl.col("_mdate"), "date_spelling"),
            (pl.col("_mnull"), "null_spelling"),
        ).alias("dirt"),
    )


def spell_list(ctx: Context, rows: pl.DataFrame, dice: Dice) -> pl.DataFrame:
    d = _dice(ctx, rows, dice)
    code, checksum, code_dirt = _subject()
    return d.select(
        pl.col("subject_name"),
        code.alias("subject_code"),
        pl.col("list_name").alias("list_type"),
        pl.col("listing_authority"),
        pl.col("basis_doc"),
        _date("listed_at").alias("listed_at"),
        _date("expires_at").alias("expires_at"),
        _date("removed_at").alias("removed_at"),
        labels((checksum, "subject_code.checksum")).alias("reasons"),
        labels(
            *code_dirt, (pl.col("_mdate"), "date_spelling"), (pl.col("_mnull"), "null_spelling")
        ).alias("dirt"),
    )


def _generation(rows: pl.DataFrame) -> pl.Expr:
    return pl.when(pl.col("legacy")).then(pl.lit("legacy")).otherwise(pl.lit("current"))


def canonical_penalty(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.select(
        "decision_no",
        "authority_code",
        clean_text(pl.col("authority_name")).alias("authority_name"),
        clean_text(pl.col("subject_name")).alias("subject_name"),
        "subject_category",
        "subject_code",
        "legal_rep_name",
        "penalty_types",
        pl.col("fine_amount").cast(pl.Decimal(18, 2)),
        "decision_date",
        pl.when(~pl.col("legacy")).then("publish_until").alias("publish_until"),
        "violation",
        "basis",
        "remark",
        _generation(rows).alias("record_generation"),
    )


def canonical_permit(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.select(
        "decision_no",
        "authority_code",
        clean_text(pl.col("authority_name")).alias("authority_name"),
        clean_text(pl.col("subject_name")).alias("subject_name"),
        "subject_category",
        "subject_code",
        "permit_name",
        clean_text(pl.col("licence_number")).alias("licence_number"),
        "decision_date",
        pl.when(~pl.col("legacy")).then("valid_from").alias("valid_from"),
        "valid_to",
        _generation(rows).alias("record_generation"),
    )


def canonical_list(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.select(
        "subject_code",
        "list_type",
        "list_name",
        "listed_at",
        clean_text(pl.col("subject_name")).alias("subject_name"),
        "listing_authority",
        "basis_doc",
        "expires_at",
        "removed_at",
    )


def _legacy_line(marker: str, current: tuple[str, ...], old: tuple[str, ...]) -> pl.Expr:
    """A record's line in its own generation's field names."""
    return (
        pl.when(pl.col(marker).is_not_null())
        .then(api_line(pl.col("served_at"), list(old)))
        .otherwise(api_line(pl.col("served_at"), list(current)))
    )


def credit_renderers(ctx: Context) -> dict[str, Renderer]:
    def sink(d: Delivery) -> Sink:
        return JsonlSink(
            ctx.params.out / "deliveries",
            d.path,
            "api",
            "utf-8",
            d.at,
            staging=ctx.params.out / ".staging",
        )

    endpoints = {"credit_penalty": "penalties", "credit_permit": "permits", "credit_list": "lists"}
    specs = {
        "credit_penalty": (
            _union(PENALTY_CURRENT, PENALTY_LEGACY), PENALTY_CANONICAL, spell_penalty,
            canonical_penalty, _legacy_line("CF_AJMC", PENALTY_CURRENT, PENALTY_LEGACY),
        ),
        "credit_permit": (
            _union(PERMIT_CURRENT, PERMIT_LEGACY), PERMIT_CANONICAL, spell_permit,
            canonical_permit, _legacy_line("XK_XMMC", PERMIT_CURRENT, PERMIT_LEGACY),
        ),
        "credit_list": (
            LIST_FIELDS, LIST_CANONICAL, spell_list, canonical_list,
            api_line(pl.col("served_at"), list(LIST_FIELDS)),
        ),
    }  # fmt: skip
    return {
        table: Renderer(
            table=table,
            deliveries=tuple(ctx.timeline.credit(endpoints[table], table)),
            fields=fields,
            canonical_schema=canon,
            spell=spell,
            canonical=canonical,
            sink=sink,
            line=line,
        )
        for table, (fields, canon, spell, canonical, line) in specs.items()
    }


#: Where the credit office publishes its directory of authorities, under ``deliveries/``
#: (the credit folder of the exchange; ``CITYBRAIN_AUTHORITY_DIRECTORY`` defaults to it).
AUTHORITY_DIRECTORY = "credit/authorities.csv"
_DIRECTORY_HEADER = ("统一社会信用代码", "机关名称", "曾用名", "行政区划代码")


def write_authority_directory(ctx: Context) -> Sink:
    """The credit office's directory of the city's authorities, as an office exports it
    from a spreadsheet: UTF-8 with BOM, CRLF, former names in one cell separated by ``；``.

    It depends on the city file only (like the map), not on the seed.
    """
    rows = authorities(ctx.city, ctx.vocabulary)
    sink = CsvSink(
        ctx.params.out / "deliveries",
        AUTHORITY_DIRECTORY,
        "directory",
        "utf-8-sig",
        ctx.timeline.t0,
        header=_DIRECTORY_HEADER,
        newline="\r\n",
    )
    frame = pl.DataFrame(
        {
            "统一社会信用代码": [a.uscc for a in rows],
            "机关名称": [a.name for a in rows],
            "曾用名": ["；".join(a.former_names) or None for a in rows],
            "行政区划代码": [a.region_code for a in rows],
        }
    )
    sink.append(frame)
    sink.finish()
    return sink
