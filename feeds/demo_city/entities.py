"""Legal entities (市场主体) of a chunk: companies, individual businesses and co-operatives
whose legal representatives are the chunk's adult residents and whose premises are shops,
offices and workshops of the city; and their registrations, changes and closures during
the run, as versions keyed by USCC with ``_cursor`` = 核准日期.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from feeds.demo_city.context import Context
from feeds.demo_city.ids import org_bodies, registration_numbers, usccs
from feeds.demo_city.places import gather
from feeds.demo_city.streams import stream

__all__ = ["entity_versions", "initial_entities"]

# Canonical statuses (standards.md §4.4) and their share among the entities on file.
STATUSES = {
    "ACTIVE": 0.80,
    "DEREGISTERED": 0.13,
    "REVOKED": 0.05,
    "MOVED_OUT": 0.01,
    "SUSPENDED": 0.005,
    "LIQUIDATING": 0.005,
}
_NICE_WAN = np.array([1, 2, 3, 5, 8, 10, 20, 30, 50, 80, 100, 200, 300, 500, 800, 1000, 2000, 3000, 5000, 8000, 10000, 20000, 30000, 50000], dtype=np.float64)  # fmt: skip
_SCOPES = (
    "企业管理咨询",
    "技术服务、技术开发、技术咨询、技术交流、技术转让、技术推广",
    "日用百货销售",
    "办公用品销售",
    "信息咨询服务（不含许可类信息咨询服务）",
    "货物进出口",
    "会议及展览服务",
    "市场营销策划",
)
_SCOPE_TAIL = "（依法须经批准的项目，经相关部门批准后方可开展经营活动）"
# The 2015 reform gave every entity a USCC; the old 15-digit 注册号 stopped being issued.
USCC_REFORM = date(2015, 10, 1)
REGISTRATION_ONLY_BEFORE = date(2016, 1, 1)


def _dates_between(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    span = np.maximum((hi - lo).astype(np.int64), 0)
    return lo + (rng.random(len(lo)) * (span + 1)).astype(np.int64).astype("timedelta64[D]")


def _capital(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Registered capital in 万 of its currency: log-uniform, snapped to round figures."""
    x = np.exp(rng.uniform(np.log(lo), np.log(hi)))
    nice = _NICE_WAN[np.abs(np.log(_NICE_WAN)[None, :] - np.log(x)[:, None]).argmin(axis=1)]
    # Some capitals are not round (12.5万): about one in twenty.
    return np.where(rng.random(len(x)) < 0.05, np.round(x * 2) / 2, nice)


def _draw_types_and_industries(ctx: Context, rng: np.random.Generator, n: int):
    v = ctx.vocabulary
    tw = np.array([t.weight for t in v.entity_types])
    kind = rng.choice(len(tw), size=n, p=tw / tw.sum())
    sections = np.array([i.code[0] for i in v.industries])
    iw = np.array([i.weight for i in v.industries])
    industry = np.empty(n, dtype=np.int64)
    texts = np.array([t.text for t in v.entity_types])[kind]
    groups = {
        "coop": (texts == "农民专业合作社", np.isin(sections, ["A"])),
        "individual": (texts == "个体工商户", np.isin(sections, ["F", "H", "O", "P"])),
    }
    other = np.ones(n, dtype=bool)
    for rows, allowed in groups.values():
        other &= ~rows
        w = iw * allowed
        industry[rows] = rng.choice(len(iw), size=int(rows.sum()), p=w / w.sum())
    w = iw * (sections != "A")
    industry[other] = rng.choice(len(iw), size=int(other.sum()), p=w / w.sum())
    return kind, industry


def _names(
    ctx: Context,
    rng: np.random.Generator,
    type_text: pl.Series,
    word: pl.Series,
    district_name: pl.Series,
) -> pl.Series:
    city = ctx.city.name
    short = city.removesuffix("市")
    chars = list(ctx.vocabulary.brand_chars)
    brand = pl.concat_str(
        *(gather(chars, rng.integers(0, len(chars), len(word))) for _ in range(2))
    )
    bracketed = pl.Series(rng.random(len(word)) < 0.15)
    t = type_text
    return pl.select(
        pl.when(t == "个体工商户")
        .then(pl.concat_str(pl.lit(city), district_name, brand, word, pl.lit("店")))
        .when(t == "农民专业合作社")
        .then(pl.concat_str(pl.lit(city), district_name, brand, word, pl.lit("专业合作社")))
        .when(t == "个人独资企业")
        .then(pl.concat_str(pl.lit(city), district_name, brand, word, pl.lit("商行")))
        .when(t == "有限合伙企业")
        .then(pl.concat_str(pl.lit(city), brand, word, pl.lit("合伙企业（有限合伙）")))
        .when(t.str.starts_with("股份"))
        .then(pl.concat_str(pl.lit(city), brand, word, pl.lit("股份有限公司")))
        .when(t.str.contains("外国|台港澳") | bracketed)
        .then(pl.concat_str(brand, pl.lit(f"（{short}）"), word, pl.lit("有限公司")))
        .otherwise(pl.concat_str(pl.lit(city), brand, word, pl.lit("有限公司")))
    ).to_series()


def _new_entities(
    ctx: Context,
    rng: np.random.Generator,
    adults: pl.DataFrame,
    *,
    first_index: int,
    n: int,
    established: np.ndarray,
) -> pl.DataFrame:
    """``n`` entities with indices from ``first_index``, founded on ``established``."""
    v = ctx.vocabulary
    kind, industry = _draw_types_and_industries(ctx, rng, n)
    types = v.entity_types
    type_text = gather([t.text for t in types], kind)
    sections = np.array([i.code[0] for i in v.industries])[industry]
    works = np.isin(sections, ["A", "C", "E"])
    places = ctx.places
    point = np.where(
        works,
        rng.integers(*places.industrial, n),
        rng.integers(*places.commercial, n),
    )
    pts = places.points[point]
    unit = (
        pl.when(pl.Series(works))
        .then(pl.lit(""))
        .otherwise(
            pl.concat_str(
                pl.Series(rng.integers(1, 30, n) * 100 + rng.integers(1, 20, n)).cast(pl.String),
                pl.lit("室"),
            )
        )
    )
    region = pts["district_code"]
    district_name = region.replace_strict(
        dict(zip(ctx.areas.districts["code"], ctx.areas.districts["name"], strict=True))
    )
    index = first_index + np.arange(n, dtype=np.int64)
    est = established
    legacy = est < np.datetime64(USCC_REFORM)
    rep = adults[rng.integers(0, adults.height, n)]
    lo = np.array([t.capital_wan[0] for t in types])[kind]
    hi = np.array([t.capital_wan[1] for t in types])[kind]
    term = np.array([t.term_years for t in types])[kind]
    term_to = pl.Series(est).dt.offset_by(
        pl.concat_str(pl.Series(term).cast(pl.String), pl.lit("y"))
    )
    a = rng.integers(0, len(_SCOPES), n)
    scope_a = gather(list(_SCOPES), a)
    scope_b = gather(list(_SCOPES), (a + rng.integers(1, len(_SCOPES), n)) % len(_SCOPES))
    industry_name = gather([i.name for i in v.industries], industry)
    return pl.DataFrame(
        {
            "eid": index,
            "uscc": usccs(
                gather([t.category for t in types], kind), region, org_bodies(index, legacy)
            ),
            "registration_number": pl.select(
                pl.when(pl.Series(est < np.datetime64(REGISTRATION_ONLY_BEFORE))).then(
                    registration_numbers(region, index)
                )
            ).to_series(),
            "name": _names(
                ctx, rng, type_text, gather([i.word for i in v.industries], industry), district_name
            ),
            "entity_type": type_text,
            "legal_rep_name": rep["name"],
            "legal_rep_id_number": rep["id_number"],
            "industry_code": gather([i.code for i in v.industries], industry),
            "industry_section": pl.Series(sections),
            "registered_capital": pl.Series(
                np.round(_capital(rng, lo, hi) * 10_000).astype(np.int64)
            ),
            "capital_currency": gather([t.currency for t in types], kind),
            "established_date": pl.Series(est),
            "business_term_from": pl.Series(est),
            "business_term_to": pl.select(pl.when(pl.Series(term > 0)).then(term_to))
            .to_series()
            .alias("business_term_to"),
            "approved_date": pl.Series(est),
            "deregistered_date": pl.Series([None] * n, dtype=pl.Date),
            "revoked_date": pl.Series([None] * n, dtype=pl.Date),
            "registration_authority": ctx.district_authority("market", region, "name"),
            "status": pl.Series(["ACTIVE"] * n, dtype=pl.String),
            "region_code": region,
            "address": pl.select(pl.concat_str(pts["address"], unit)).to_series(),
            "point": point,
            "business_scope": pl.select(
                pl.concat_str(
                    industry_name, pl.lit("；"), scope_a, pl.lit("；"), scope_b, pl.lit(_SCOPE_TAIL)
                )
            ).to_series(),
            "industry": industry,
        }
    )


def _adults(persons: pl.DataFrame) -> pl.DataFrame:
    adults = persons.filter(pl.col("age").is_between(20, 75) & ~pl.col("is_deceased"))
    return adults if adults.height else persons


def initial_entities(ctx: Context, chunk: int, persons: pl.DataFrame) -> pl.DataFrame:
    """The chunk's entities as they stand at the start (one row each)."""
    rng = stream(ctx.seed, "entities", chunk)
    first, n = ctx.entities_of_chunk(chunk)
    start = ctx.timeline.start
    years = np.arange(1995, start.year + 1)
    w = np.exp(0.12 * (years - 1995))
    year = rng.choice(years, size=n, p=w / w.sum())
    jan1 = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    last = np.minimum(jan1 + np.timedelta64(364, "D"), np.datetime64(start - timedelta(days=1)))
    est = _dates_between(rng, jan1, last)
    entities = _new_entities(ctx, rng, _adults(persons), first_index=first, n=n, established=est)
    status = rng.choice(list(STATUSES), size=n, p=np.array(list(STATUSES.values())))
    lo = est + np.timedelta64(180, "D")
    hi = np.full(n, np.datetime64(start - timedelta(days=1)))
    status = np.where(lo > hi, "ACTIVE", status)
    ended = _dates_between(rng, lo, hi)
    changed = _dates_between(rng, est, hi)
    approved = np.where(status == "ACTIVE", np.where(rng.random(n) < 0.6, est, changed), ended)
    # Entities closed before the reform never got a USCC: the registry has only 注册号.
    registration_only = (
        (status == "DEREGISTERED")
        & (ended < np.datetime64(REGISTRATION_ONLY_BEFORE))
        & (est < np.datetime64(USCC_REFORM))
        & (rng.random(n) < ctx.profile.registration_only)
    )
    return entities.with_columns(
        pl.Series("registration_only", registration_only),
        pl.Series("status", status),
        pl.Series("approved_date", approved),
        pl.when(pl.Series(status == "DEREGISTERED"))
        .then(pl.Series(ended))
        .alias("deregistered_date"),
        pl.when(pl.Series(status == "REVOKED")).then(pl.Series(ended)).alias("revoked_date"),
    )


def entity_versions(ctx: Context, chunk: int, entities: pl.DataFrame, persons: pl.DataFrame):
    """Every version of the chunk's entities: the initial ones, changes, closures and the
    entities founded during the run; at most one version per entity per day."""
    rng = stream(ctx.seed, "entity-events", chunk)
    econ = ctx.city.economy
    days = ctx.timeline.days
    years = days / 365.0
    n = entities.height
    start = np.datetime64(ctx.timeline.start, "D")
    active = entities["status"].to_numpy() == "ACTIVE"
    u = rng.random(n)
    change = active & (rng.random(n) < econ.change_rate * years)
    dereg = active & (u < econ.deregistration_rate * years)
    revoke = active & ~dereg & (u < (econ.deregistration_rate + econ.revocation_rate) * years)
    day_change = start + rng.integers(0, max(days, 1), n).astype("timedelta64[D]")
    day_end = start + rng.integers(0, max(days, 1), n).astype("timedelta64[D]")
    ends = dereg | revoke
    change &= ~(ends & (day_end <= day_change))

    base = entities.with_columns((pl.col("eid") * 4).alias("_vid"))
    what = rng.integers(0, 3, n)  # 0 premises, 1 capital, 2 legal representative
    adults = _adults(persons)
    rep = adults[rng.integers(0, adults.height, n)]
    point = rng.integers(*ctx.places.commercial, n)
    new_address = pl.concat_str(ctx.places.points["address"].gather(point), pl.lit("首层"))
    v1 = base.with_columns(
        pl.when(pl.Series(what == 0)).then(new_address).otherwise("address").alias("address"),
        pl.when(pl.Series(what == 0)).then(pl.Series(point)).otherwise("point").alias("point"),
        pl.when(pl.Series(what == 1))
        .then(pl.col("registered_capital") * 2)
        .otherwise("registered_capital")
        .alias("registered_capital"),
        pl.when(pl.Series(what == 2))
        .then(rep["name"])
        .otherwise("legal_rep_name")
        .alias("legal_rep_name"),
        pl.when(pl.Series(what == 2))
        .then(rep["id_number"])
        .otherwise("legal_rep_id_number")
        .alias("legal_rep_id_number"),
        pl.Series("approved_date", day_change),
        (pl.col("eid") * 4 + 1).alias("_vid"),
    ).filter(pl.Series(change))
    latest = pl.concat([base.filter(~pl.Series(change)), v1]).sort("eid")
    end_day = pl.Series(day_end[ends])
    v2 = latest.filter(pl.Series(ends)).with_columns(
        pl.Series("status", np.where(dereg[ends], "DEREGISTERED", "REVOKED")),
        pl.Series("approved_date", day_end[ends]),
        pl.when(pl.Series(dereg[ends])).then(end_day).alias("deregistered_date"),
        pl.when(pl.Series(revoke[ends])).then(end_day).alias("revoked_date"),
        (pl.col("eid") * 4 + 2).alias("_vid"),
    )
    n_new = int(rng.poisson(n * econ.new_entity_rate * years)) if days else 0
    founded = start + rng.integers(0, max(days, 1), n_new).astype("timedelta64[D]")
    new = _new_entities(
        ctx, rng, adults, first_index=ctx.new_entity_index(chunk), n=n_new, established=founded
    ).with_columns((pl.col("eid") * 4).alias("_vid"), pl.lit(False).alias("registration_only"))
    versions = pl.concat([base, v1, v2, new.select(base.columns)])
    return versions.with_columns(
        pl.col("uscc").alias("_key"),
        pl.col("approved_date").cast(pl.Datetime("us")).alias("_cursor"),
    )
