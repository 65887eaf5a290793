"""Everything a chunk of the simulation reads: the city, its map and address points, the
calendar, the dirt profile, the authorities, and the counters that keep IDs unique."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from feeds.demo_city.city import City, Vocabulary, authorities, load_city, load_vocabulary
from feeds.demo_city.dirt import PROFILES, DirtProfile
from feeds.demo_city.geometry import Areas, build_areas
from feeds.demo_city.ids import IdAllocator
from feeds.demo_city.places import Places, build_places, gather
from feeds.demo_city.timeline import Timeline

__all__ = ["Context", "GenerateParams", "build_context"]

# Newborns and companies founded during the run are numbered past the initial ones, in a
# block per chunk, so that chunks never need to know each other's counts.
_BLOCK = 1_000_000


class GenerateParams(BaseModel):
    """What one ``generate`` run is asked for; recorded in the manifest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    residents: int = Field(ge=100)
    seed: int = Field(default=0, ge=0)
    days: int = Field(default=7, ge=0, le=3660)
    out: Path
    start: date = date(2026, 10, 1)
    city: str = "guangzhou"
    profile: DirtProfile = PROFILES["default"]
    # Part of the result: the same seed with another chunk size draws other numbers.
    chunk_size: int = Field(default=200_000, ge=1_000)


@dataclass
class Context:
    params: GenerateParams
    city: City
    vocabulary: Vocabulary
    areas: Areas
    places: Places
    timeline: Timeline
    authorities: pl.DataFrame  # kind, name, abbr, uscc, region_code
    ids: IdAllocator

    @property
    def seed(self) -> int:
        return self.params.seed

    @property
    def profile(self) -> DirtProfile:
        return self.params.profile

    @property
    def n_chunks(self) -> int:
        return math.ceil(self.params.residents / self.params.chunk_size)

    def chunk(self, k: int) -> tuple[int, int]:
        """First resident and count of chunk ``k``."""
        first = k * self.params.chunk_size
        return first, min(self.params.chunk_size, self.params.residents - first)

    @property
    def total_entities(self) -> int:
        return math.floor(self.params.residents * self.city.economy.entities_per_resident)

    def entities_of_chunk(self, k: int) -> tuple[int, int]:
        """First entity index and count of chunk ``k``: proportional to its residents."""
        first, count = self.chunk(k)
        rate = self.city.economy.entities_per_resident
        a, b = math.floor(first * rate), math.floor((first + count) * rate)
        return a, b - a

    def newborn_pid(self, k: int) -> int:
        return self.params.residents + k * _BLOCK

    def new_entity_index(self, k: int) -> int:
        return self.total_entities + k * _BLOCK

    def origin_draw(self, rng: np.random.Generator, n: int) -> tuple[pl.Series, pl.Series]:
        """Household-registration counties of ``n`` floating residents (code, address)."""
        origins = self.city.origins
        w = np.array([o.weight for o in origins])
        i = rng.choice(len(origins), size=n, p=w / w.sum())
        return gather([o.code for o in origins], i), gather([o.address for o in origins], i)

    def retired_prefix(self, district: pl.Series, issue_year: np.ndarray, u: np.ndarray):
        """The address code an ID issued in ``issue_year`` for ``district`` carries."""
        out = district
        for r in self.city.retired:
            hit = (
                (district.to_numpy() == r.successor)
                & (issue_year >= r.since)
                & (issue_year < r.until)
                & (u < r.share)
            )
            out = pl.select(pl.when(pl.Series(hit)).then(pl.lit(r.code)).otherwise(out)).to_series()
        return out

    def authority(self, kind: str) -> pl.DataFrame:
        return self.authorities.filter(pl.col("kind") == kind)

    def district_authority(self, kind: str, district: pl.Series, column: str) -> pl.Series:
        """``column`` of the per-district authority of ``kind`` for each district code."""
        table = self.authority(kind)
        mapping = dict(zip(table["region_code"], table[column], strict=True))
        return district.replace_strict(mapping, return_dtype=pl.String)


def build_context(params: GenerateParams) -> Context:
    city = load_city(params.city)
    vocabulary = load_vocabulary()
    areas = build_areas(city, vocabulary)
    timeline = Timeline(params.start, params.days)
    entities = math.floor(params.residents * city.economy.entities_per_resident)
    # Companies founded during the run need shops too: leave room for them.
    new_share = 1.0 + city.economy.new_entity_rate * params.days / 365.0
    places = build_places(
        city,
        areas,
        seed=params.seed,
        residents=params.residents,
        entities=math.ceil(entities * new_share),
        start=timeline.t0,
    )
    prefixes = sorted(
        {d.code for d in city.districts}
        | {r.code for r in city.retired}
        | {o.code for o in city.origins}
    )
    auth = authorities(city, vocabulary)
    return Context(
        params=params,
        city=city,
        vocabulary=vocabulary,
        areas=areas,
        places=places,
        timeline=timeline,
        # Former names only go to the credit office's directory (feed_credit).
        authorities=pl.DataFrame([a.model_dump(exclude={"former_names"}) for a in auth]),
        ids=IdAllocator(prefixes, timeline.end.date() + timedelta(days=1)),
    )
