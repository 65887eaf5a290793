"""Population (市公安局): the full-export CSV and the API's JSON records, spelled the way
the bureau's exports spell them (feeds.md §1), with their dirt and reason codes.

Reason codes: ``id_number.checksum`` (a wrong check digit), ``sex_code.mismatch_id``
(XBDM contradicts the ID's sex digit), ``birth_date.mismatch_id`` (CSRQ contradicts the
ID's birth date). ``0``/``9`` in XBDM is "not stated", no contradiction: the ID's sex
holds. A 15-digit number is valid: it converts to the 18-digit one (standards.md §1.4).
"""

from __future__ import annotations

import polars as pl

from feeds.demo_city.context import Context
from feeds.demo_city.dirt import (
    Dice,
    api_line,
    fullwidth,
    labels,
    null_spelled,
    spell_date,
    text_noise,
    wrong_citizen_check,
)
from feeds.demo_city.render import Renderer
from feeds.demo_city.timeline import Delivery
from feeds.demo_city.writers import CsvSink, JsonlSink, Sink
from schemas.codes.person_codes import ETHNIC_GROUPS

__all__ = ["FIELDS", "population_renderer"]

FIELDS = (
    "GMSFHM",
    "XM",
    "XBDM",
    "CSRQ",
    "MZDM",
    "HJDZ_XZQHDM",
    "HJDZ",
    "JZDZ_XZQHDM",
    "JZDZ",
    "RKLX",
    "LXDH",
    "SWBS",
    "GXSJ",
)
CANONICAL: dict[str, pl.DataType] = {
    "id_number": pl.String(),
    "name": pl.String(),
    "sex_code": pl.String(),
    "birth_date": pl.Date(),
    "ethnicity_code": pl.String(),
    "hukou_region_code": pl.String(),
    "hukou_address": pl.String(),
    "residence_region_code": pl.String(),
    "residence_street_code": pl.String(),
    "residence_address": pl.String(),
    "population_type": pl.String(),
    "phone": pl.String(),
    "is_deceased": pl.Boolean(),
    "source_updated_at": pl.Datetime("us"),
}
GXSJ_FORMAT = "%Y-%m-%d %H:%M:%S"


def _phone(phone: pl.Expr, choice: pl.Expr) -> pl.Expr:
    """Mobile ``13800138000`` / landline ``020-83456789`` in one of the usual spellings."""
    mobile = phone.str.len_chars() == 11
    a, b, c = phone.str.slice(0, 3), phone.str.slice(3, 4), phone.str.slice(7, 4)
    area, local = (
        phone.str.split_exact("-", 1).struct.field("field_0"),
        phone.str.split_exact("-", 1).struct.field("field_1"),
    )
    k = choice % 4
    return (
        pl.when(mobile & (k == 0))
        .then(pl.concat_str(pl.lit("+86 "), a, pl.lit("-"), b, pl.lit("-"), c))
        .when(mobile & (k == 1))
        .then(pl.concat_str(a, pl.lit(" "), b, pl.lit(" "), c))
        .when(mobile & (k == 2))
        .then(pl.concat_str(a, pl.lit("-"), b, pl.lit("-"), c))
        .when(mobile)
        .then(pl.concat_str(pl.lit("+86"), phone))
        .when(k == 0)
        .then(pl.concat_str(pl.lit("("), area, pl.lit(")"), local))
        .when(k == 1)
        .then(pl.concat_str(area, pl.lit(" "), local))
        .otherwise(pl.concat_str(area, local))
    )


def spell(ctx: Context, rows: pl.DataFrame, dice: Dice) -> pl.DataFrame:
    p = ctx.profile
    predecessor = {r.successor: r.code for r in ctx.city.retired}
    d = rows.with_columns(
        dice.one_of(
            {
                "id_checksum": p.id_checksum,
                "sex_mismatch": p.sex_mismatch,
                "birth_mismatch": p.birth_mismatch,
            }
        ).alias("_bad"),
        dice.mask(p.id_legacy_15).alias("_m15"),
        dice.mask(p.id_lowercase_x).alias("_mlx"),
        dice.mask(p.id_fullwidth).alias("_mfw"),
        dice.mask(p.name_spaces).alias("_msp"),
        dice.mask(p.text_noise).alias("_mnoise"),
        dice.mask(p.sex_as_text).alias("_msext"),
        dice.mask(p.sex_unknown).alias("_msexu"),
        dice.mask(p.date_spelling).alias("_mdate"),
        dice.mask(p.ethnicity_spelling).alias("_meth"),
        dice.mask(p.retired_region).alias("_mret"),
        dice.mask(p.residence_9_digits).alias("_m9"),
        dice.mask(p.phone_spelling).alias("_mphone"),
        dice.mask(p.null_spelling).alias("_mnull"),
        dice.pick(1 << 20).alias("_k"),
    )
    k = pl.col("_k")
    id_number = pl.col("id_number")
    checksum = pl.col("_bad") == "id_checksum"
    legacy = (
        pl.col("_m15")
        & ~checksum
        & (id_number.str.slice(6, 2) == "19")
        & (id_number.str.slice(14, 3).cast(pl.Int64) < 996)
    )
    lower_x = pl.col("_mlx") & id_number.str.ends_with("X") & ~legacy
    gm = pl.when(checksum).then(wrong_citizen_check(id_number, 1 + k % 10)).otherwise(id_number)
    gm = (
        pl.when(legacy)
        .then(pl.concat_str(id_number.str.head(6), id_number.str.slice(8, 9)))
        .otherwise(gm)
    )
    gm = pl.when(lower_x).then(gm.str.replace("X", "x", literal=True)).otherwise(gm)
    gm = pl.when(pl.col("_mfw")).then(fullwidth(gm)).otherwise(gm)
    name = (
        pl.when(pl.col("_msp"))
        .then(pl.concat_str(pl.col("name").str.head(1), pl.lit(" "), pl.col("name").str.slice(1)))
        .otherwise("name")
    )
    sex_mismatch = pl.col("_bad") == "sex_mismatch"
    sex = (
        pl.when(sex_mismatch)
        .then(pl.when(pl.col("sex_code") == "1").then(pl.lit("2")).otherwise(pl.lit("1")))
        .otherwise("sex_code")
    )
    unknown = pl.col("_msexu") & ~sex_mismatch
    sex_text = pl.col("_msext") & ~unknown
    xbdm = (
        pl.when(unknown)
        .then(pl.when(k % 2 == 0).then(pl.lit("0")).otherwise(pl.lit("9")))
        .when(sex_text)
        .then(pl.when(sex == "1").then(pl.lit("男")).otherwise(pl.lit("女")))
        .otherwise(sex)
    )
    birth_mismatch = pl.col("_bad") == "birth_mismatch"
    birth = (
        pl.when(birth_mismatch)
        .then(pl.col("birth_date") + pl.duration(days=1 + k % 400))
        .otherwise("birth_date")
    )
    eth_name = pl.col("ethnicity_code").replace_strict(ETHNIC_GROUPS, default=None)
    mzdm = (
        pl.when(pl.col("_meth") & (k % 2 == 0))
        .then(pl.col("ethnicity_code").cast(pl.Int64).cast(pl.String))
        .when(pl.col("_meth"))
        .then(eth_name)
        .otherwise("ethnicity_code")
    )
    retired = (
        pl.col("_mret")
        & (pl.col("population_type") == "registered")
        & pl.col("hukou_region_code").is_in(list(predecessor))
    )
    hjdm = (
        pl.when(retired)
        .then(pl.col("hukou_region_code").replace(predecessor))
        .otherwise("hukou_region_code")
    )
    jzdm = (
        pl.when(pl.col("_m9")).then("residence_street_code").otherwise("residence_community_code")
    )
    phone_spelled = pl.col("_mphone") & pl.col("phone").is_not_null()
    phone = pl.when(phone_spelled).then(_phone(pl.col("phone"), k)).otherwise("phone")
    noise = pl.col("_mnoise")
    out = d.select(
        gm.alias("GMSFHM"),
        text_noise(name, noise & (k % 3 == 0), k).alias("XM"),
        xbdm.alias("XBDM"),
        spell_date(birth, 0, pl.col("_mdate"), k % 7).alias("CSRQ"),
        mzdm.alias("MZDM"),
        hjdm.alias("HJDZ_XZQHDM"),
        text_noise(pl.col("hukou_address"), noise & (k % 3 == 1), k).alias("HJDZ"),
        jzdm.alias("JZDZ_XZQHDM"),
        text_noise(pl.col("residence_address"), noise & (k % 3 == 2), k).alias("JZDZ"),
        pl.when(pl.col("population_type") == "registered")
        .then(pl.lit("1"))
        .otherwise(pl.lit("2"))
        .alias("RKLX"),
        null_spelled(phone, pl.col("_mnull"), k).alias("LXDH"),
        pl.when(pl.col("is_deceased")).then(pl.lit("1")).otherwise(pl.lit("0")).alias("SWBS"),
        pl.col("source_updated_at").dt.strftime(GXSJ_FORMAT).alias("GXSJ"),
        labels(
            (checksum, "id_number.checksum"),
            (sex_mismatch, "sex_code.mismatch_id"),
            (birth_mismatch, "birth_date.mismatch_id"),
        ).alias("reasons"),
        labels(
            (checksum, "id_checksum"),
            (legacy, "id_legacy_15"),
            (lower_x, "id_lowercase_x"),
            (pl.col("_mfw"), "id_fullwidth"),
            (pl.col("_msp"), "name_spaces"),
            (noise, "text_noise"),
            (sex_mismatch, "sex_mismatch"),
            (unknown, "sex_unknown"),
            (sex_text, "sex_as_text"),
            (birth_mismatch, "birth_mismatch"),
            (pl.col("_mdate"), "date_spelling"),
            (pl.col("_meth"), "ethnicity_spelling"),
            (retired, "retired_region"),
            (pl.col("_m9"), "residence_9_digits"),
            (phone_spelled, "phone_spelling"),
            (pl.col("_mnull") & pl.col("phone").is_null(), "null_spelling"),
        ).alias("dirt"),
    )
    return out


def canonical(rows: pl.DataFrame) -> pl.DataFrame:
    # Names and addresses are generated from CJK characters and ASCII digits, already in
    # the form clean_text gives (a test holds this), so the truth skips NFKC here: it is
    # the most expensive step of the largest table.
    return rows.select(*CANONICAL)


def population_renderer(ctx: Context) -> Renderer:
    """The population table's deliveries: full-export CSVs (UTF-8) and the API's lines."""

    def sink(d: Delivery) -> Sink:
        root = ctx.params.out / "deliveries"
        if d.kind == "api":
            return JsonlSink(
                root, d.path, "api", "utf-8", d.at, staging=ctx.params.out / ".staging"
            )
        return CsvSink(root, d.path, d.kind, "utf-8", d.at, header=FIELDS)

    return Renderer(
        table="person",
        deliveries=tuple(ctx.timeline.population()),
        fields=FIELDS,
        canonical_schema=CANONICAL,
        spell=spell,
        canonical=canonical,
        sink=sink,
        line=api_line(pl.col("served_at"), list(FIELDS)),
    )
