"""Residents: who lives in the city, and what happens to them during the run.

A chunk of residents is drawn column by column (numpy + Polars, no loop over people):
population type, age and sex from the city's pyramids, a unique citizen ID whose address
code is the one in force when it was issued (possibly a retired code, or the code of the
county a registered resident moved from), a name, a home among the residential address
points, a phone. During the run people move, change phones, die, and babies are born.

The result is a frame of *versions*: one row per state of a person, with ``_vid`` (the
version's id) and ``_cursor`` (its update time GXSJ), the truth the renderers start from.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from feeds.demo_city.context import Context
from feeds.demo_city.ids import with_check_digit
from feeds.demo_city.places import gather
from feeds.demo_city.streams import stream

__all__ = ["initial_persons", "person_versions"]

# Mobile number prefixes (China Mobile, Unicom, Telecom).
PHONE_PREFIXES = ("130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152",
                  "157", "158", "159", "177", "180", "182", "185", "186", "188", "189", "199")  # fmt: skip


def _ages(rng: np.random.Generator, bands: tuple[float, ...], n: int) -> np.ndarray:
    p = np.array(bands) / sum(bands)
    band = rng.choice(len(p), size=n, p=p)
    return band * 5 + rng.uniform(0, 5, n)


def _names(ctx: Context, rng: np.random.Generator, male: np.ndarray) -> pl.Series:
    v = ctx.vocabulary
    surnames = list(v.surnames)
    sw = np.array(list(v.surnames.values()))
    surname = gather(surnames, rng.choice(len(surnames), size=len(male), p=sw / sw.sum()))
    pools = (v.given_female + v.given_common, v.given_male + v.given_common)
    chars = [gather(list(pool), rng.integers(0, len(pool), len(male))) for pool in pools]
    chars2 = [gather(list(pool), rng.integers(0, len(pool), len(male))) for pool in pools]
    m = pl.Series(male)
    first = pl.select(pl.when(m).then(chars[1]).otherwise(chars[0])).to_series()
    second = pl.select(pl.when(m).then(chars2[1]).otherwise(chars2[0])).to_series()
    two = pl.Series(rng.random(len(male)) < 0.75)
    return pl.select(
        pl.concat_str(surname, first, pl.when(two).then(second).otherwise(pl.lit("")))
    ).to_series()


def _phones(ctx: Context, rng: np.random.Generator, age: np.ndarray) -> pl.Series:
    n = len(age)
    mobile = gather(list(PHONE_PREFIXES), rng.integers(0, len(PHONE_PREFIXES), n))
    digits = pl.Series(rng.integers(0, 10**8, n)).cast(pl.String).str.zfill(8)
    land = pl.Series(rng.integers(3 * 10**7, 9 * 10**7, n)).cast(pl.String)
    u = pl.Series(rng.random(n))
    adult = pl.Series(age >= 12)
    return pl.select(
        pl.when(adult & (u < 0.88))
        .then(pl.concat_str(mobile, digits))
        .when(adult & (u < 0.93))
        .then(pl.concat_str(pl.lit(ctx.city.phone_area_code + "-"), land))
        .when(~adult & (u < 0.15))
        .then(pl.concat_str(mobile, digits))
    ).to_series()


def _homes(ctx: Context, rng: np.random.Generator, n: int) -> pl.DataFrame:
    """A residential point and a room for each of ``n`` people."""
    first, last = ctx.places.residential
    point = rng.integers(first, last, n)
    room = pl.Series(rng.integers(1, 34, n) * 100 + rng.integers(1, 9, n)).cast(pl.String)
    pts = ctx.places.points[point]
    return pl.DataFrame(
        {
            "point": point,
            "residence_region_code": pts["district_code"],
            "residence_street_code": pts["street_code"],
            "residence_community_code": pts["community_code"],
            "residence_address": pl.select(
                pl.concat_str(pts["address"], room, pl.lit("房"))
            ).to_series(),
        }
    )


def initial_persons(ctx: Context, chunk: int, first: int, count: int) -> pl.DataFrame:
    """The people ``first .. first+count`` as the full export at the start knows them."""
    rng = stream(ctx.seed, "persons", chunk)
    people = ctx.city.people
    start = ctx.timeline.start
    registered = rng.random(count) < people.registered_share
    age = np.where(
        registered,
        _ages(rng, people.age_bands_registered, count),
        _ages(rng, people.age_bands_floating, count),
    )
    birth = pl.Series(
        np.datetime64(start, "D") - ((age * 365.25).astype(np.int64) + 1).astype("timedelta64[D]")
    )
    male = rng.random(count) < np.where(
        registered, people.male_share_registered, people.male_share_floating
    )
    homes = _homes(ctx, rng, count)
    origin_code, origin_address = ctx.origin_draw(rng, count)
    district = homes["residence_region_code"]
    # A registered resident either was born here or moved the 户口 here as an adult (then
    # the ID keeps the old county's code); IDs issued before a district absorbed a retired
    # one carry the retired code.
    moved_in = registered & (age >= 18) & (rng.random(count) < 0.2)
    issue_year = np.maximum(birth.dt.year().to_numpy(), 1986)
    id_prefix = ctx.retired_prefix(district, issue_year, rng.random(count))
    id_prefix = pl.select(
        pl.when(pl.Series(registered & ~moved_in)).then(id_prefix).otherwise(origin_code)
    ).to_series()
    body = ctx.ids.allocate(id_prefix, birth, male)
    eth_codes = list(people.ethnic_weights)
    ew = np.array(list(people.ethnic_weights.values()))
    ethnicity = gather(eth_codes, rng.choice(len(ew), size=count, p=ew / ew.sum()))
    chars = list(ctx.vocabulary.place_chars)
    hukou_tail = pl.concat_str(
        gather(chars, rng.integers(0, len(chars), count)),
        gather(chars, rng.integers(0, len(chars), count)),
        pl.Series(np.where(rng.random(count) < 0.5, "村", "路")),
        pl.Series(rng.integers(1, 300, count)).cast(pl.String),
        pl.lit("号"),
    )
    deceased = (age >= 55) & (rng.random(count) < people.deceased_share * 3)
    t0 = np.datetime64(ctx.timeline.t0, "s")
    birth_s = birth.cast(pl.Datetime("ms")).to_numpy().astype("datetime64[s]")
    # Last updated some time in the eight years before the start (never before birth).
    earliest = np.maximum(birth_s, t0 - np.timedelta64(8 * 365, "D"))
    span = (t0 - earliest).astype(np.int64)
    updated = earliest + (rng.random(count) * (span - 3600)).astype("timedelta64[s]")
    return pl.DataFrame(
        {
            "pid": np.arange(first, first + count, dtype=np.int64),
            "id_number": with_check_digit(body),
            "name": _names(ctx, rng, male),
            "sex_code": np.where(male, "1", "2"),
            "birth_date": birth,
            "ethnicity_code": ethnicity,
            "hukou_region_code": pl.select(
                pl.when(pl.Series(registered)).then(district).otherwise(origin_code)
            ).to_series(),
            "hukou_address": pl.select(
                pl.when(pl.Series(registered))
                .then(homes["residence_address"])
                .otherwise(pl.concat_str(origin_address, hukou_tail))
            ).to_series(),
            **homes.to_dict(),
            "population_type": np.where(registered, "registered", "floating"),
            "phone": _phones(ctx, rng, age),
            "is_deceased": deceased,
            "source_updated_at": updated.astype("datetime64[us]"),
            "age": age,
        }
    )


def _gompertz_death_probability(age: np.ndarray, years: float) -> np.ndarray:
    # Annual mortality roughly doubling every 8 years past middle age (Gompertz law).
    q = np.minimum(0.0004 + 0.00002 * np.exp(0.09 * age), 0.5)
    return 1.0 - (1.0 - q) ** years


def _times_in_window(ctx: Context, rng: np.random.Generator, n: int) -> np.ndarray:
    t0 = np.datetime64(ctx.timeline.t0, "s")
    offset = rng.integers(0, max(ctx.timeline.days, 1) * 86400, n).astype("timedelta64[s]")
    return (t0 + offset).astype("datetime64[us]")


def person_versions(ctx: Context, chunk: int, persons: pl.DataFrame) -> pl.DataFrame:
    """Every version of the chunk's people: the initial one, then moves, new phones,
    deaths and newborns during the run, each with ``_vid`` and ``_cursor``."""
    rng = stream(ctx.seed, "person-events", chunk)
    people = ctx.city.people
    days = ctx.timeline.days
    years = days / 365.0
    n = persons.height
    alive = ~persons["is_deceased"].to_numpy()
    age = persons["age"].to_numpy()
    floating = persons["population_type"].to_numpy() == "floating"
    u = rng.random(n)
    p_move = people.move_rate * years * np.where(floating, 2.0, 0.7)
    p_phone = people.phone_change_rate * years
    moves = alive & (u < p_move)
    phones = alive & ~moves & (u < p_move + p_phone)
    dies = alive & (rng.random(n) < _gompertz_death_probability(age, years))
    t_change = _times_in_window(ctx, rng, n)
    t_death = _times_in_window(ctx, rng, n)
    # A change after death did not happen.
    changed = (moves | phones) & ~(dies & (t_death <= t_change))
    moves, phones = moves & changed, phones & changed

    base = persons.drop("age").with_columns(
        (pl.col("pid") * 4).alias("_vid"), pl.col("source_updated_at").alias("_cursor")
    )
    homes = _homes(ctx, rng, n)
    new_phone = _phones(ctx, rng, np.full(n, 30.0))
    v1 = base.with_columns(
        [
            pl.when(pl.Series(moves)).then(homes[c]).otherwise(pl.col(c)).alias(c)
            for c in homes.columns
        ]
        + [
            pl.when(pl.Series(phones)).then(new_phone).otherwise(pl.col("phone")).alias("phone"),
            pl.Series("source_updated_at", t_change),
            (pl.col("pid") * 4 + 1).alias("_vid"),
            pl.Series("_cursor", t_change),
        ]
    )
    latest = pl.concat([base.filter(~pl.Series(changed)), v1.filter(pl.Series(changed))])
    latest = latest.sort("pid")
    v2 = latest.filter(pl.Series(dies)).with_columns(
        pl.lit(True).alias("is_deceased"),
        pl.Series("source_updated_at", t_death[dies]),
        (pl.col("pid") * 4 + 2).alias("_vid"),
        pl.Series("_cursor", t_death[dies]),
    )
    births = _newborns(ctx, rng, chunk, persons)
    return pl.concat([base, v1.filter(pl.Series(changed)), v2, births]).with_columns(
        pl.col("id_number").alias("_key")
    )


def _newborns(ctx: Context, rng: np.random.Generator, chunk: int, persons: pl.DataFrame):
    """Babies registered during the run, living with (and named after) a mother."""
    people = ctx.city.people
    mothers = persons.filter(
        (pl.col("sex_code") == "2")
        & pl.col("age").is_between(20, 42)
        & (pl.col("population_type") == "registered")
        & ~pl.col("is_deceased")
    )
    expected = persons.height * people.birth_rate * ctx.timeline.days / 365.0
    n = int(rng.poisson(expected)) if mothers.height else 0
    if n == 0:
        return (
            persons.clear()
            .drop("age")
            .with_columns(
                pl.lit(0, dtype=pl.Int64).alias("_vid"),
                pl.col("source_updated_at").alias("_cursor"),
            )
        )
    mother = mothers[rng.integers(0, mothers.height, n)]
    registered_at = _times_in_window(ctx, rng, n)
    birth = pl.Series(
        registered_at.astype("datetime64[D]") - rng.integers(1, 31, n).astype("timedelta64[D]")
    ).cast(pl.Date)
    male = rng.random(n) < 0.52
    given = _names(ctx, rng, male).str.slice(1)
    pid = ctx.newborn_pid(chunk) + np.arange(n, dtype=np.int64)
    body = ctx.ids.allocate(mother["residence_region_code"], birth, male)
    return mother.drop("age").with_columns(
        pl.Series("pid", pid),
        with_check_digit(body).alias("id_number"),
        pl.concat_str(mother["name"].str.head(1), given).alias("name"),
        pl.Series("sex_code", np.where(male, "1", "2")),
        birth.alias("birth_date"),
        pl.col("residence_region_code").alias("hukou_region_code"),
        pl.col("residence_address").alias("hukou_address"),
        pl.lit(None, dtype=pl.String).alias("phone"),
        pl.lit(False).alias("is_deceased"),
        pl.Series("source_updated_at", registered_at),
        pl.Series("_vid", pid * 4),
        pl.Series("_cursor", registered_at),
    )
