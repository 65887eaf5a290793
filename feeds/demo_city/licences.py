"""Electronic licences (电子证照) held by the chunk's entities and residents.

A licence is a chain of versions sharing type, issuer and serial: every 营业执照 change and
every renewal of a time-limited permit issues a new 证照标识 (version + 1) that points to
its predecessor, whose state becomes 注销. Closures of the holder end the chain (注销 for
deregistration, 吊销 for revocation, 暂扣 for suspension); a resident who stops renewing
lets the last one expire (过期). Each state of each certificate is one version row.
"""

from __future__ import annotations

from datetime import date, datetime, time

import numpy as np
import polars as pl

from feeds.demo_city.context import Context
from feeds.demo_city.ids import licence_ids
from feeds.demo_city.streams import stream

__all__ = ["licence_versions"]

# The e-licence library starts here: holders closed earlier have no electronic licence.
LIBRARY_START = date(2019, 1, 1)
_SLOT = {"business": 0, "food": 1, "construction": 2, "transport": 3}
_PERSON_SERIAL_OFFSET = 900_000_000
_CLOSURE = {
    "DEREGISTERED": "CANCELLED",
    "MOVED_OUT": "CANCELLED",
    "REVOKED": "REVOKED",
    "SUSPENDED": "SUSPENDED",
}


def _entity_history(versions: pl.DataFrame) -> pl.DataFrame:
    """Per entity: founding, first change, change during the run, and how it closed."""
    v0 = versions.filter(pl.col("_vid") % 4 == 0)
    v1 = versions.filter(pl.col("_vid") % 4 == 1).select(
        "eid", pl.col("approved_date").alias("change")
    )
    v2 = versions.filter(pl.col("_vid") % 4 == 2).select(
        "eid", pl.col("status").alias("end_status"), pl.col("approved_date").alias("end_date")
    )
    return (
        v0.join(v1, on="eid", how="left")
        .join(v2, on="eid", how="left")
        .with_columns(
            pl.coalesce("end_status", pl.when(pl.col("status") != "ACTIVE").then("status")).alias(
                "closure_status"
            ),
            pl.coalesce(
                "end_date", pl.when(pl.col("status") != "ACTIVE").then("approved_date")
            ).alias("closure_date"),
        )
        .filter(
            ~pl.col("registration_only")
            & (pl.col("closure_date").is_null() | (pl.col("closure_date") >= LIBRARY_START))
        )
    )


def _business_issues(history: pl.DataFrame) -> pl.DataFrame:
    """营业执照 versions: at founding, at the last change before the run, at a change during it."""
    first = history.select("eid", pl.col("established_date").alias("issue"))
    before = history.filter(
        (pl.col("status") == "ACTIVE") & (pl.col("approved_date") > pl.col("established_date"))
    ).select("eid", pl.col("approved_date").alias("issue"))
    during = history.filter(pl.col("change").is_not_null()).select(
        "eid", pl.col("change").alias("issue")
    )
    return pl.concat([first, before, during]).with_columns(
        pl.lit("business").alias("type"), pl.lit(None, dtype=pl.Date).alias("valid_to")
    )


def _periodic_issues(ctx: Context, history: pl.DataFrame, end: date) -> pl.DataFrame:
    """Time-limited permits for the industries that need them, renewed each period."""
    frames = []
    industries = ctx.vocabulary.industries
    for key, lt in ctx.vocabulary.licence_types.items():
        if lt.holder != "entity" or key == "business":
            continue
        wanted = [i for i, ind in enumerate(industries) if key in ind.licences]
        holders = history.filter(pl.col("industry").is_in(wanted))
        last = pl.coalesce(pl.col("closure_date"), pl.lit(end))
        years = (last - pl.col("established_date")).dt.total_days() // 365
        frames.append(
            holders.select("eid", "established_date", count=years // lt.valid_years + 1)
            .with_columns(pl.int_ranges(0, "count").alias("k"))
            .explode("k")
            .select(
                "eid",
                pl.col("established_date")
                .dt.offset_by(pl.format("{}y", pl.col("k") * lt.valid_years))
                .alias("issue"),
                pl.lit(key).alias("type"),
            )
            .with_columns(
                pl.col("issue")
                .dt.offset_by(f"{lt.valid_years}y")
                .dt.offset_by("-1d")
                .alias("valid_to")
            )
        )
    return pl.concat(frames) if frames else _business_issues(history.clear())


def licence_versions(ctx: Context, chunk: int, entities: pl.DataFrame, persons: pl.DataFrame):
    """Every state of every licence of the chunk, with ``_vid`` and ``_cursor``."""
    rng = stream(ctx.seed, "licences", chunk)
    end = ctx.timeline.end.date()
    history = _entity_history(entities)
    issues = pl.concat([_business_issues(history), _periodic_issues(ctx, history, end)])
    entity_chains = (
        issues.filter(pl.col("issue") < end)
        .join(
            history.select(
                "eid",
                "uscc",
                "name",
                "region_code",
                "closure_status",
                "closure_date",
            ),
            on="eid",
        )
        .select(
            pl.col("uscc").alias("holder_code"),
            pl.lit("uscc").alias("holder_code_type"),
            pl.col("name").alias("holder_name"),
            "region_code",
            "type",
            "issue",
            "valid_to",
            (pl.col("eid") * 5 + pl.col("type").replace_strict(_SLOT, return_dtype=pl.Int64)).alias(
                "unique"
            ),
            "closure_status",
            "closure_date",
            pl.lit(False).alias("lapses"),
        )
    )
    person_chains = _person_chains(ctx, rng, persons, end)
    chains = (
        pl.concat([entity_chains, person_chains])
        .sort("unique", "issue")
        .with_columns(
            pl.int_range(1, pl.len() + 1).over("unique").alias("version"),
            pl.col("issue").shift(-1).over("unique").alias("next_issue"),
            pl.col("issue").first().over("unique").dt.year().alias("first_year"),
        )
    )
    return _states(ctx, chains, end)


def _person_chains(ctx: Context, rng: np.random.Generator, persons: pl.DataFrame, end: date):
    lt = ctx.vocabulary.licence_types["driver"]
    share = ctx.city.economy.personal_licence_share
    holders = persons.filter(pl.col("age").is_between(22, 60) & ~pl.col("is_deceased"))
    holders = holders.filter(pl.Series(rng.random(holders.height) < share))
    n = holders.height
    first = pl.Series(
        np.datetime64(ctx.timeline.start, "D")
        - rng.integers(30, 12 * 365, n).astype("timedelta64[D]")
    )
    # One holder in seven stops renewing: the last certificate expires.
    lapses = pl.Series(rng.random(n) < 1 / 7)
    return (
        holders.select(
            pl.col("id_number").alias("holder_code"),
            pl.lit("citizen_id").alias("holder_code_type"),
            pl.col("name").alias("holder_name"),
            pl.col("residence_region_code").alias("region_code"),
            pl.lit("driver").alias("type"),
            first.alias("first"),
            (pl.col("pid") + _PERSON_SERIAL_OFFSET).alias("unique"),
            pl.lit(None, dtype=pl.String).alias("closure_status"),
            pl.lit(None, dtype=pl.Date).alias("closure_date"),
            lapses.alias("lapses"),
        )
        .with_columns(
            pl.int_ranges(
                0, ((pl.lit(end) - pl.col("first")).dt.total_days() // 365) // lt.valid_years + 1
            ).alias("k")
        )
        .explode("k")
        .with_columns(
            pl.col("first")
            .dt.offset_by(pl.format("{}y", pl.col("k") * lt.valid_years))
            .alias("issue")
        )
        .filter(pl.col("issue") < end)
        .with_columns(
            pl.col("issue").dt.offset_by(f"{lt.valid_years}y").dt.offset_by("-1d").alias("valid_to")
        )
        .select(
            "holder_code",
            "holder_code_type",
            "holder_name",
            "region_code",
            "type",
            "issue",
            "valid_to",
            "unique",
            "closure_status",
            "closure_date",
            "lapses",
        )
    )


def _at(day: pl.Expr, hour: int) -> pl.Expr:
    return day.cast(pl.Datetime("us")) + pl.duration(hours=hour)


def _states(ctx: Context, chains: pl.DataFrame, end: date) -> pl.DataFrame:
    """Rows for each certificate: issued (有效) and, if it ended before ``end``, ended."""
    types = ctx.vocabulary.licence_types
    names = {k: t.name for k, t in types.items()}
    codes = {k: t.type_code for k, t in types.items()}
    prefixes = {k: t.prefix for k, t in types.items()}
    issuer_kind = {k: t.issuer for k, t in types.items()}
    auth = ctx.authorities
    market = ctx.authority("market")
    city_issuer = {r["kind"]: r for r in auth.filter(~pl.col("kind").is_in(["market"])).to_dicts()}
    region_to_market = dict(zip(market["region_code"], market["uscc"], strict=True))
    region_to_market_name = dict(zip(market["region_code"], market["name"], strict=True))
    kind = pl.col("type").replace_strict(issuer_kind)
    issuer_code = (
        pl.when(kind == "market")
        .then(pl.col("region_code").replace_strict(region_to_market, default=None))
        .otherwise(
            kind.replace_strict({k: v["uscc"] for k, v in city_issuer.items()}, default=None)
        )
    )
    issuer_name = (
        pl.when(kind == "market")
        .then(pl.col("region_code").replace_strict(region_to_market_name, default=None))
        .otherwise(
            kind.replace_strict({k: v["name"] for k, v in city_issuer.items()}, default=None)
        )
    )
    serial = pl.concat_str(
        pl.col("first_year").cast(pl.String), pl.col("unique").cast(pl.String).str.zfill(9)
    )
    number = (
        pl.when(pl.col("type") == "business")
        .then("holder_code")
        .when(pl.col("type") == "driver")
        .then("holder_code")
        .when(pl.col("type") == "food")
        .then(
            pl.concat_str(
                pl.lit(prefixes["food"]),
                "region_code",
                pl.col("unique").cast(pl.String).str.zfill(9).str.tail(7),
            )
        )
        .when(pl.col("type") == "construction")
        .then(
            pl.format(
                prefixes["construction"] + "[{}]{}",
                pl.col("first_year"),
                pl.col("unique").cast(pl.String).str.zfill(9).str.tail(6),
            )
        )
        .otherwise(
            pl.format(
                prefixes["transport"] + "{}{}号",
                "region_code",
                pl.col("unique").cast(pl.String).str.zfill(9).str.tail(6),
            )
        )
    )
    with_ids = chains.with_columns(
        pl.col("type").replace_strict(codes).alias("licence_type_code"),
        pl.col("type").replace_strict(names).alias("licence_name"),
        issuer_code.alias("issuer_code"),
        issuer_name.alias("issuer_name"),
        serial.alias("serial"),
        pl.col("version").cast(pl.String).str.zfill(3).alias("version"),
        number.alias("licence_number"),
    )
    with_ids = with_ids.with_columns(
        licence_ids(
            with_ids["licence_type_code"],
            with_ids["issuer_code"],
            with_ids["serial"],
            with_ids["version"],
        ).alias("certificate_id")
    ).with_columns(
        pl.col("certificate_id").shift(1).over("unique").alias("predecessor_id"),
    )
    renewed = pl.col("next_issue").is_not_null()
    closed = pl.col("closure_date").is_not_null() & (pl.col("closure_date") >= pl.col("issue"))
    lapsed = pl.col("lapses") & ~renewed & (pl.col("valid_to") < end)
    ended = with_ids.with_columns(
        pl.when(renewed)
        .then(pl.lit("CANCELLED"))
        .when(closed)
        .then(pl.col("closure_status").replace_strict(_CLOSURE, default="CANCELLED"))
        .when(lapsed)
        .then(pl.lit("EXPIRED"))
        .alias("status"),
        pl.when(renewed)
        .then(_at(pl.col("next_issue"), 9))
        .when(closed)
        .then(_at(pl.col("closure_date"), 16))
        .when(lapsed)
        .then(_at(pl.col("valid_to").dt.offset_by("1d"), 1))
        .alias("_cursor"),
        pl.lit(1, dtype=pl.Int64).alias("_state"),
    ).filter(pl.col("status").is_not_null() & (pl.col("_cursor") < datetime.combine(end, time())))
    issued = with_ids.with_columns(
        pl.lit("VALID").alias("status"),
        _at(pl.col("issue"), 10).alias("_cursor"),
        pl.lit(0, dtype=pl.Int64).alias("_state"),
    )
    out = pl.concat([issued, ended]).with_columns(
        pl.col("issue").alias("issue_date"),
        pl.col("issue").alias("valid_from"),
        pl.col("valid_to").is_null().alias("is_perpetual"),
        pl.col("certificate_id").alias("_key"),
        ((pl.col("unique") * 64 + pl.col("version").cast(pl.Int64)) * 2 + pl.col("_state")).alias(
            "_vid"
        ),
    )
    return out.select(
        "certificate_id",
        "licence_type_code",
        "licence_name",
        "licence_number",
        "holder_name",
        "holder_code",
        "holder_code_type",
        "issuer_name",
        "issuer_code",
        "issue_date",
        "valid_from",
        "valid_to",
        "is_perpetual",
        "status",
        "region_code",
        "version",
        "predecessor_id",
        "type",
        "unique",
        "_key",
        "_vid",
        "_cursor",
    )
