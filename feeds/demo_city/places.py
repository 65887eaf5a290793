"""Address points: buildings people live in, shops and offices companies sit in, public
facilities, workshops; each a true WGS-84 point inside a grid of a real street.

People and companies point at these by index, so their addresses are standard addresses
of the city and their coordinates fall in the street their codes name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl

from feeds.demo_city.city import City
from feeds.demo_city.geometry import Areas, random_points
from feeds.demo_city.streams import stream

__all__ = ["Places", "build_places", "gather"]

RESIDENTIAL, COMMERCIAL, INDUSTRIAL, PUBLIC = "住宅", "商业", "工业", "公共设施"
_FACILITIES = ("第一小学", "中学", "幼儿园", "社区卫生服务中心", "派出所", "文化站", "市场", "公园")


def gather(values: pl.Series | list[str], index: np.ndarray) -> pl.Series:
    """``values[index]`` as a Series: the vectorized way to pick names by number."""
    series = values if isinstance(values, pl.Series) else pl.Series(values, dtype=pl.String)
    return series.gather(pl.Series(index, dtype=pl.UInt32))


@dataclass(frozen=True)
class Places:
    """All address points (one frame) and where each kind starts in it."""

    points: pl.DataFrame
    residential: tuple[int, int]  # [first, last) row range of each kind
    commercial: tuple[int, int]
    industrial: tuple[int, int]
    public: tuple[int, int]


def _allocate(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    counts = rng.multinomial(n, weights / weights.sum())
    return np.repeat(np.arange(len(weights)), counts)


def build_places(
    city: City, areas: Areas, *, seed: int, residents: int, entities: int, start: datetime
) -> Places:
    """Address points for a city of ``residents`` people and ``entities`` companies.

    Their first versions predate ``start``; later versions come from :mod:`geo`.
    """
    rng = stream(seed, "places")
    grids = areas.grids
    weight = grids["weight"].to_numpy()
    rural = (
        grids.join(
            areas.streets.select(pl.col("code").alias("street_code"), "kind"),
            on="street_code",
            how="left",
        )["kind"]
        .eq("镇")
        .to_numpy()
    )
    n_res = max(math.ceil(residents / city.persons_per_building), len(areas.districts))
    n_com = max(math.ceil(entities / 3), 1)
    n_ind = max(math.ceil(entities / 40), 1)
    community_of_grid = grids["community_code"]
    first_grid = (
        grids.with_row_index("g").group_by("community_code", maintain_order=True).agg(pl.first("g"))
    )
    public_grids = np.repeat(first_grid["g"].to_numpy(), 2)
    parts = [
        (RESIDENTIAL, _allocate(rng, weight, n_res)),
        (COMMERCIAL, _allocate(rng, weight, n_com)),
        (INDUSTRIAL, _allocate(rng, np.where(rural, 6.0, 1.0) * weight, n_ind)),
        (PUBLIC, public_grids),
    ]
    kinds = np.concatenate([np.full(len(g), k, dtype=object) for k, g in parts])
    grid = np.concatenate([g for _, g in parts])
    n = len(grid)
    lon, lat = random_points(rng, grids, grid)

    streets = areas.streets.with_row_index("s")
    street_index = (
        grids.select("street_code")
        .join(
            streets.select(pl.col("code").alias("street_code"), "s"), on="street_code", how="left"
        )["s"]
        .to_numpy()[grid]
    )
    roads = streets.select(pl.col("roads").explode())["roads"]
    road = gather(roads, street_index * 6 + rng.integers(0, 6, n))
    district_names = dict(zip(areas.districts["code"], areas.districts["name"], strict=True))
    district_code = gather(grids["district_code"], grid)
    number = pl.Series(rng.integers(1, 800, n)).cast(pl.String)
    building = pl.Series(rng.integers(1, 13, n)).cast(pl.String)
    facility = gather(list(_FACILITIES), rng.integers(0, len(_FACILITIES), n))
    street_name = gather(streets["name"], street_index)
    span = pl.int_range(pl.len())
    n_kinds = {k: len(g) for k, g in parts}
    ends = np.cumsum([n_kinds[k] for k in (RESIDENTIAL, COMMERCIAL, INDUSTRIAL, PUBLIC)])
    points = pl.DataFrame(
        {
            "kind": pl.Series(kinds, dtype=pl.String),
            "grid_code": gather(grids["code"], grid),
            "community_code": gather(community_of_grid, grid),
            "street_code": gather(grids["street_code"], grid),
            "district_code": district_code,
            "district_name": district_code.replace_strict(district_names),
            "street_name": street_name,
            "road": road,
            "number": number,
            "building": building,
            "facility": facility,
            "lon": lon,
            "lat": lat,
            # First recorded somewhere in the five years before the start.
            "updated_at": (
                np.datetime64(start, "s")
                - rng.integers(3600, 5 * 365 * 86400, n).astype("timedelta64[s]")
            ).astype("datetime64[us]"),
        }
    ).select(
        span.alias("point"),
        pl.concat_str("community_code", span.cast(pl.String).str.zfill(7)).alias("address_code"),
        pl.concat_str(
            pl.lit(city.name),
            "district_name",
            "street_name",
            "road",
            "number",
            pl.lit("号"),
            pl.when(pl.col("kind") == RESIDENTIAL)
            .then(pl.concat_str("building", pl.lit("栋")))
            .when(pl.col("kind") == INDUSTRIAL)
            .then(pl.concat_str("building", pl.lit("栋厂房")))
            .when(pl.col("kind") == PUBLIC)
            .then(
                pl.concat_str(
                    pl.lit("（"), pl.col("street_name").str.head(2), "facility", pl.lit("）")
                )
            )
            .otherwise(pl.lit("")),
        ).alias("address"),
        "kind",
        "grid_code",
        "community_code",
        "street_code",
        "district_code",
        "lon",
        "lat",
        "updated_at",
    )
    return Places(
        points=points,
        residential=(0, int(ends[0])),
        commercial=(int(ends[0]), int(ends[1])),
        industrial=(int(ends[1]), int(ends[2])),
        public=(int(ends[2]), int(ends[3])),
    )
