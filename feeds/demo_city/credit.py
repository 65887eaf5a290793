"""Social-credit records of the chunk's subjects: administrative penalties (行政处罚),
permits (行政许可, one per time-limited licence issued since 双公示 began) and red/black
list entries, each as versions with ``_cursor`` = the moment the credit office's API
indexed it (``updated_at``).

Subjects are the chunk's entities and residents, so every record points at someone the
other feeds know. A share of records comes from the older sub-system and keeps the older
field names (``legacy``): decided per record, so all versions of a record agree.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from feeds.demo_city.context import Context
from feeds.demo_city.places import gather
from feeds.demo_city.streams import stream

__all__ = ["list_versions", "penalty_versions", "permit_versions"]

DISCLOSURE_START = date(2016, 1, 1)  # 双公示 began; permits before it are not published
_INDIVIDUAL = "个体工商户"


def _ts(day: pl.Expr, seconds: pl.Expr) -> pl.Expr:
    return day.cast(pl.Datetime("us")) + pl.duration(seconds=seconds)


def _uniform_days(rng: np.random.Generator, lo: pl.Series, hi: pl.Series) -> pl.Series:
    span = (hi - lo).dt.total_days().to_numpy()
    off = (rng.random(len(lo)) * np.maximum(span, 0)).astype(np.int64)
    return (lo.to_frame("d").select(pl.col("d") + pl.duration(days=pl.Series(off))))["d"]


def _subject_entities(entities: pl.DataFrame) -> pl.DataFrame:
    """Entities as credit subjects: the state they were in when first on file."""
    v0 = entities.filter((pl.col("_vid") % 4 == 0) & ~pl.col("registration_only"))
    ends = entities.filter(pl.col("_vid") % 4 == 2).select(
        "eid", pl.col("approved_date").alias("end_date")
    )
    return v0.join(ends, on="eid", how="left").with_columns(
        pl.coalesce("end_date", pl.when(pl.col("status") != "ACTIVE").then("approved_date")).alias(
            "closed"
        )
    )


def penalty_versions(ctx: Context, chunk: int, entities: pl.DataFrame, persons: pl.DataFrame):
    """Penalties of the last three years and the run, and later corrections of them."""
    rng = stream(ctx.seed, "penalties", chunk)
    econ = ctx.city.economy
    start, end = ctx.timeline.start, ctx.timeline.end.date()
    window_lo = start - timedelta(days=3 * 365)
    subjects = _subject_entities(entities)
    subjects = subjects.filter(
        (pl.col("established_date") < end)
        & (pl.col("closed").is_null() | (pl.col("closed") > window_lo))
    )
    share = econ.penalty_share_entities * (1 + ctx.timeline.days / (3 * 365))
    ent = subjects.filter(pl.Series(rng.random(subjects.height) < share)).select(
        pl.col("name").alias("subject_name"),
        pl.when(pl.col("entity_type") == _INDIVIDUAL)
        .then(pl.lit(_INDIVIDUAL))
        .otherwise(pl.lit("法人及非法人组织"))
        .alias("subject_category"),
        pl.col("uscc").alias("subject_code"),
        "registration_number",
        "legal_rep_name",
        "legal_rep_id_number",
        "region_code",
        pl.col("industry").is_in(_food_industries(ctx)).alias("food"),
        pl.max_horizontal(pl.col("established_date"), pl.lit(window_lo)).alias("lo"),
        pl.min_horizontal(pl.coalesce("closed", pl.lit(end)), pl.lit(end)).alias("hi"),
    )
    adults = persons.filter(pl.col("age") >= 18)
    per = adults.filter(pl.Series(rng.random(adults.height) < econ.penalty_share_persons)).select(
        pl.col("name").alias("subject_name"),
        pl.lit("自然人").alias("subject_category"),
        pl.col("id_number").alias("subject_code"),
        pl.lit(None, dtype=pl.String).alias("registration_number"),
        pl.lit(None, dtype=pl.String).alias("legal_rep_name"),
        pl.lit(None, dtype=pl.String).alias("legal_rep_id_number"),
        pl.col("residence_region_code").alias("region_code"),
        pl.lit(False).alias("food"),
        pl.lit(window_lo).alias("lo"),
        pl.lit(end).alias("hi"),
    )
    subj = pl.concat([ent, per])
    n = subj.height
    kinds = ctx.vocabulary.penalties
    person = (subj["subject_category"] == "自然人").to_numpy()
    # People are fined by 城管 and 税务; food-safety penalties only hit food businesses.
    pools = {
        "person": [i for i, k in enumerate(kinds) if k.authority in ("urban", "tax")],
        "food": list(range(len(kinds))),
        "other": [i for i, k in enumerate(kinds) if "食品" not in k.violation],
    }
    food = subj["food"].to_numpy()
    kind = np.select(
        [person, food],
        [rng.choice(pools["person"], n), rng.choice(pools["food"], n)],
        rng.choice(pools["other"], n),
    )
    decided = _uniform_days(rng, subj["lo"], subj["hi"])
    lo_fine = np.array([k.fine[0] for k in kinds])[kind]
    hi_fine = np.array([k.fine[1] for k in kinds])[kind]
    fine = np.where(
        hi_fine > 0,
        np.round(
            np.exp(rng.uniform(np.log(np.maximum(lo_fine, 1)), np.log(np.maximum(hi_fine, 1))))
            / 100
        )
        * 100,
        0,
    ).astype(np.int64)
    serious = np.array([k.serious for k in kinds])[kind]
    auth_kind = gather([k.authority for k in kinds], kind)
    authority = _authority_for(ctx, auth_kind, subj["region_code"])
    serial = np.arange(n, dtype=np.int64) * ctx.n_chunks + chunk + 1
    categories = gather(["、".join(k.categories) for k in kinds], kind)
    out = (
        subj.with_columns(
            decided.alias("decision_date"),
            pl.Series("serious", serious),
            authority["name"].alias("authority_name"),
            authority["uscc"].alias("authority_code"),
            pl.format(
                "{}罚〔{}〕{}号", authority["abbr"], decided.dt.year(), pl.Series(serial)
            ).alias("decision_no"),
            gather([k.violation for k in kinds], kind).alias("violation"),
            gather([k.basis for k in kinds], kind).alias("basis"),
            categories.str.split("、").alias("penalty_types"),
            pl.Series("fine_amount", fine),
            pl.Series("legacy", rng.random(n) < ctx.profile.legacy_fields),
            pl.Series("_seconds", rng.integers(86_400, 10 * 86_400, n)),
            pl.Series("_fix", rng.random(n)),
            pl.Series("_fix_at", rng.integers(0, max(ctx.timeline.days, 1) * 86_400, n)),
        )
        .with_columns(
            pl.col("decision_date")
            .dt.offset_by(pl.when(pl.col("serious")).then(pl.lit("3y")).otherwise(pl.lit("1y")))
            .alias("publish_until"),
            _ts(pl.col("decision_date"), pl.col("_seconds")).alias("_cursor"),
            pl.lit(None, dtype=pl.String).alias("remark"),
        )
        .filter(pl.col("_cursor") < ctx.timeline.end)
    )
    out = out.with_columns(pl.int_range(pl.len()).alias("_rid"))
    # 信用修复: some published penalties stop being published early, during the run.
    fix_p = econ.credit_change_rate * ctx.timeline.days
    fixed = (
        out.filter(
            (pl.col("_fix") < fix_p) & (pl.col("_cursor") < ctx.timeline.t0) & ~pl.col("serious")
        )
        .with_columns(
            (pl.lit(ctx.timeline.t0) + pl.duration(seconds="_fix_at")).alias("_cursor"),
            pl.lit("信用修复，提前停止公示").alias("remark"),
        )
        .with_columns(pl.col("_cursor").dt.date().alias("publish_until"))
    )
    return _keyed(pl.concat([out, fixed]), ("decision_no", "authority_code"))


def _food_industries(ctx: Context) -> list[int]:
    return [i for i, ind in enumerate(ctx.vocabulary.industries) if "food" in ind.licences]


def _keyed(frame: pl.DataFrame, key: tuple[str, ...]) -> pl.DataFrame:
    """Give each version ``_vid`` (record id * 2 + version) and the business key."""
    return frame.with_columns(
        (pl.col("_rid") * 2 + (pl.col("_cursor").rank("ordinal").over("_rid") - 1)).alias("_vid"),
        pl.concat_str([pl.col(c) for c in key], separator="|").alias("_key"),
    )


def _authority_for(ctx: Context, kind: pl.Series, region: pl.Series) -> pl.DataFrame:
    """The deciding authority: the district bureau for market matters, else the city's."""
    auth = ctx.authorities
    market = ctx.authority("market")
    frame = pl.DataFrame({"kind": kind, "region": region}).with_row_index("_i")
    local = frame.filter(pl.col("kind") == "market").join(
        market.select(pl.col("region_code").alias("region"), "name", "uscc", "abbr"),
        on="region",
        how="left",
    )
    city = frame.filter(pl.col("kind") != "market").join(
        auth.filter(pl.col("kind") != "market").select("kind", "name", "uscc", "abbr"),
        on="kind",
        how="left",
    )
    return pl.concat([local, city]).sort("_i")


def permit_versions(ctx: Context, chunk: int, licences: pl.DataFrame, entities: pl.DataFrame):
    """A 行政许可 record for each time-limited licence issued since 双公示 began."""
    rng = stream(ctx.seed, "permits", chunk)
    issued = licences.filter(
        (pl.col("status") == "VALID")
        & (pl.col("type") != "business")
        & (pl.col("issue_date") >= DISCLOSURE_START)
    )
    reps = _subject_entities(entities).select(
        pl.col("uscc").alias("holder_code"),
        "legal_rep_name",
        "legal_rep_id_number",
        "registration_number",
    )
    auth = ctx.authorities.select(pl.col("uscc").alias("issuer_code"), "abbr")
    n = issued.height
    out = (
        issued.join(reps, on="holder_code", how="left")
        .join(auth, on="issuer_code", how="left")
        .with_columns(
            pl.when(pl.col("holder_code_type") == "citizen_id")
            .then(pl.lit("自然人"))
            .when(pl.col("holder_name").str.ends_with("店"))
            .then(pl.lit(_INDIVIDUAL))
            .otherwise(pl.lit("法人及非法人组织"))
            .alias("subject_category"),
            pl.format(
                "{}许〔{}〕{}{}号",
                "abbr",
                pl.col("issue_date").dt.year(),
                pl.col("unique"),
                pl.col("version"),
            ).alias("decision_no"),
            pl.col("issuer_code").alias("authority_code"),
            pl.col("issuer_name").alias("authority_name"),
            pl.col("holder_name").alias("subject_name"),
            pl.col("holder_code").alias("subject_code"),
            pl.col("licence_name").alias("permit_name"),
            pl.col("issue_date").alias("decision_date"),
            pl.Series("legacy", rng.random(n) < ctx.profile.legacy_fields),
            _ts(pl.col("issue_date"), pl.Series(rng.integers(86_400, 5 * 86_400, n))).alias(
                "_cursor"
            ),
        )
        .filter(pl.col("_cursor") < ctx.timeline.end)
        .with_columns(pl.int_range(pl.len()).alias("_rid"))
    )
    return _keyed(out, ("decision_no", "authority_code"))


def list_versions(
    ctx: Context, chunk: int, penalties: pl.DataFrame, entities: pl.DataFrame, persons: pl.DataFrame
) -> pl.DataFrame:
    """Black-list entries for serious penalties and court debtors, red-list entries for
    A-grade taxpayers; removals during the run are new versions."""
    rng = stream(ctx.seed, "lists", chunk)
    lists = {k.name: k for k in ctx.vocabulary.lists}
    by_type = {k.type: k for k in ctx.vocabulary.lists}
    first = penalties.filter(pl.col("_vid") % 2 == 0)
    black = first.filter(pl.col("serious")).select(
        "subject_name",
        "subject_code",
        pl.lit("严重违法失信名单").alias("list_name"),
        pl.col("decision_no").alias("basis_doc"),
        (pl.col("decision_date") + pl.duration(days=20)).alias("listed_at"),
    )
    active = _subject_entities(entities).filter(
        (pl.col("status") == "ACTIVE") & (pl.col("entity_type") != _INDIVIDUAL)
    )
    red_year = ctx.timeline.start.year - (
        1 if ctx.timeline.start < date(ctx.timeline.start.year, 4, 15) else 0
    )
    red_name = by_type["red"].name
    red = active.filter(
        pl.Series(rng.random(active.height) < ctx.city.economy.red_list_share)
    ).select(
        pl.col("name").alias("subject_name"),
        pl.col("uscc").alias("subject_code"),
        pl.lit(red_name).alias("list_name"),
        pl.lit(f"税务公告〔{red_year}〕{chunk + 1}号").alias("basis_doc"),
        pl.lit(date(red_year, 4, 15)).alias("listed_at"),
    )
    adults = persons.filter((pl.col("age") >= 18) & ~pl.col("is_deceased"))
    debtors = adults.filter(
        pl.Series(rng.random(adults.height) < ctx.city.economy.penalty_share_persons)
    )
    listed = _uniform_days(
        rng,
        pl.Series([ctx.timeline.start - timedelta(days=2 * 365)] * debtors.height, dtype=pl.Date),
        pl.Series([ctx.timeline.end.date()] * debtors.height, dtype=pl.Date),
    )
    court = debtors.select(
        pl.col("name").alias("subject_name"),
        pl.col("id_number").alias("subject_code"),
        pl.lit("失信被执行人名单").alias("list_name"),
        pl.format(
            "({})粤01执{}号", listed.dt.year(), pl.int_range(pl.len()) * ctx.n_chunks + chunk + 1
        ).alias("basis_doc"),
        listed.alias("listed_at"),
    )
    entries = pl.concat([black, red, court]).filter(pl.col("listed_at") < ctx.timeline.end.date())
    n = entries.height
    years = entries["list_name"].replace_strict({k: v.years for k, v in lists.items()})
    authority_kind = entries["list_name"].replace_strict({k: v.authority for k, v in lists.items()})
    auth = ctx.authorities.filter(pl.col("kind") != "market")
    names = dict(zip(auth["kind"], auth["name"], strict=True))
    out = entries.with_columns(
        pl.col("list_name")
        .replace_strict({k: v.type for k, v in lists.items()})
        .alias("list_type"),
        authority_kind.replace_strict(names).alias("listing_authority"),
        pl.col("listed_at").dt.offset_by(pl.format("{}y", years)).alias("expires_at"),
        pl.lit(None, dtype=pl.Date).alias("removed_at"),
        _ts(pl.col("listed_at"), pl.Series(rng.integers(3600, 86_400, n))).alias("_cursor"),
        pl.Series("_remove", rng.random(n)),
        pl.Series("_remove_at", rng.integers(0, max(ctx.timeline.days, 1) * 86_400, n)),
        pl.int_range(pl.len()).alias("_rid"),
    )
    removal_p = ctx.city.economy.credit_change_rate * ctx.timeline.days * 5
    removed = (
        out.filter(
            (pl.col("list_type") == "black")
            & (pl.col("_remove") < removal_p)
            & (pl.col("_cursor") < ctx.timeline.t0)
        )
        .with_columns(
            (pl.lit(ctx.timeline.t0) + pl.duration(seconds="_remove_at")).alias("_cursor"),
        )
        .with_columns(pl.col("_cursor").dt.date().alias("removed_at"))
    )
    return _keyed(pl.concat([out, removed]), ("subject_code", "list_name", "listed_at"))
