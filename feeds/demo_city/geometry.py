"""Areas of the city: districts at their real places, split into streets, communities and
grids whose polygons nest exactly.

Every polygon is an axis-aligned rectangle in integer micro-degrees (WGS-84), and every
cut is made on that integer lattice: a child's corners are its parent's numbers, so
"every grid inside its street" holds exactly, also after the GeoJSON is written with six
decimals. The geography depends on the city file only, not on the seed, so one city has
one map.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from feeds.demo_city.city import City, Vocabulary
from feeds.demo_city.streams import stream

__all__ = ["Areas", "build_areas", "random_points"]

MICRO = 1_000_000
Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 in micro-degrees; x = lon, y = lat


@dataclass(frozen=True)
class Areas:
    """The city's areas, one frame per level, each with its rectangle and weight.

    ``weight`` is the share of the city's residents living there; grids carry the product
    of their ancestors' shares, so a multinomial draw over grids places people.
    """

    districts: pl.DataFrame  # code, name, x0, y0, x1, y1, weight
    streets: pl.DataFrame  # code, name, kind, district_code, roads, x0.., weight
    communities: pl.DataFrame  # code, name, street_code, x0.., weight
    grids: pl.DataFrame  # code, name, community_code, street_code, district_code, x0.., weight


def _split_axis(rect: Rect, lat_mid: float) -> int:
    # Cut the side that is longer on the ground: a degree of longitude shrinks with cos(lat).
    x0, y0, x1, y1 = rect
    return 0 if (x1 - x0) * math.cos(math.radians(lat_mid)) >= (y1 - y0) else 1


def _cut(rect: Rect, axis: int, at: int) -> tuple[Rect, Rect]:
    x0, y0, x1, y1 = rect
    if axis == 0:
        return (x0, y0, at, y1), (at, y0, x1, y1)
    return (x0, y0, x1, at), (x0, at, x1, y1)


def split_rect(rect: Rect, weights: np.ndarray) -> list[Rect]:
    """Tile ``rect`` into ``len(weights)`` rectangles whose areas follow ``weights``.

    >>> split_rect((0, 0, 100, 10), np.array([1.0, 3.0]))
    [(0, 0, 25, 10), (25, 0, 100, 10)]
    """
    if len(weights) == 1:
        return [rect]
    cum = np.cumsum(weights)
    k = int(np.clip(np.searchsorted(cum, cum[-1] / 2), 1, len(weights) - 1))
    if cum[k] - cum[-1] / 2 < cum[-1] / 2 - cum[k - 1]:
        k += 1
    k = min(max(k, 1), len(weights) - 1)
    axis = _split_axis(rect, (rect[1] + rect[3]) / 2 / MICRO)
    lo, hi = rect[axis], rect[axis + 2]
    at = lo + round((hi - lo) * cum[k - 1] / cum[-1])
    # Every part keeps at least one micro-degree per child, so no polygon is empty.
    at = min(max(at, lo + k), hi - (len(weights) - k))
    first, second = _cut(rect, axis, at)
    return split_rect(first, weights[:k]) + split_rect(second, weights[k:])


def _names(rng: np.random.Generator, chars: str, n: int, taken: set[str]) -> list[str]:
    """``n`` distinct two-character names not in ``taken`` (which grows)."""
    out: list[str] = []
    while len(out) < n:
        a, b = rng.integers(0, len(chars), 2)
        name = chars[a] + chars[b]
        if a != b and name not in taken:
            taken.add(name)
            out.append(name)
    return out


def _rect_cols(rects: list[Rect]) -> dict[str, list[int]]:
    arr = np.array(rects, dtype=np.int64).reshape(-1, 4)
    return {"x0": arr[:, 0], "y0": arr[:, 1], "x1": arr[:, 2], "y1": arr[:, 3]}


def build_areas(city: City, vocabulary: Vocabulary) -> Areas:
    """Tile the city into districts, streets (街道/镇), communities (社区/村) and grids.

    Example:
        >>> from feeds.demo_city.city import load_city, load_vocabulary
        >>> areas = build_areas(load_city(), load_vocabulary())
        >>> areas.streets.filter(pl.col("district_code") == "440117")["code"].to_list()[-2:]
        ['440117104', '440117105']
    """
    rng = stream(0, "geography", city.name)
    district_rects: list[Rect] = [
        (round(w * MICRO), round(s * MICRO), round(e * MICRO), round(n * MICRO))
        for w, s, e, n in (d.extent for d in city.districts)
    ]
    population = np.array([d.population for d in city.districts])
    taken: set[str] = set()
    streets, communities, grids = [], [], []
    for d, d_rect, d_weight in zip(
        city.districts, district_rects, population / population.sum(), strict=True
    ):
        kinds = ["街道"] * d.streets + ["镇"] * d.towns
        codes = [f"{d.code}{i + 1:03d}" for i in range(d.streets)]
        codes += [f"{d.code}{101 + i:03d}" for i in range(d.towns)]
        # Towns are larger and less dense than urban streets.
        rural = np.array([k == "镇" for k in kinds])
        area_w = rng.gamma(4.0, size=len(kinds)) * np.where(rural, 4.0, 1.0)
        pop_w = rng.gamma(4.0, size=len(kinds)) * np.where(rural, 0.6, 1.0)
        pop_w = pop_w / pop_w.sum() * d_weight
        names = _names(rng, vocabulary.place_chars, len(kinds), taken)
        for s_code, kind, name, s_rect, s_weight in zip(
            codes, kinds, names, split_rect(d_rect, area_w), pop_w, strict=True
        ):
            roads = _names(rng, vocabulary.place_chars, 6, set())
            suffixes = list(vocabulary.road_suffixes)
            p = np.array(list(vocabulary.road_suffixes.values()))
            road_names = [r + suffixes[rng.choice(len(p), p=p / p.sum())] for r in roads]
            streets.append((s_code, name + kind, kind, d.code, road_names, s_rect, s_weight))
            village = kind == "镇"
            n_comm = int(rng.integers(8, 21) if village else rng.integers(6, 17))
            c_names = _names(rng, vocabulary.place_chars, n_comm, set())
            c_area = rng.gamma(6.0, size=n_comm)
            c_pop = rng.gamma(3.0, size=n_comm)
            c_pop = c_pop / c_pop.sum() * s_weight
            first = 201 if village else 1
            for j, (c_rect, c_name, c_weight) in enumerate(
                zip(split_rect(s_rect, c_area), c_names, c_pop, strict=True)
            ):
                c_code = f"{s_code}{first + j:03d}"
                communities.append(
                    (c_code, c_name + ("村" if village else "社区"), s_code, c_rect, c_weight)
                )
                n_grid = int(rng.integers(2, 6))
                g_pop = rng.gamma(3.0, size=n_grid)
                g_pop = g_pop / g_pop.sum() * c_weight
                g_rects = split_rect(c_rect, rng.gamma(6.0, size=n_grid))
                for k, (g_rect, g_weight) in enumerate(zip(g_rects, g_pop, strict=True)):
                    grids.append(
                        (
                            f"{c_code}{k + 1:02d}",
                            f"{c_name}{'村' if village else '社区'}第{k + 1}网格",
                            c_code,
                            s_code,
                            d.code,
                            g_rect,
                            g_weight,
                        )
                    )

    def frame(rows: list[tuple], names: list[str]) -> pl.DataFrame:
        cols = list(zip(*rows, strict=True))
        data = {n: list(c) for n, c in zip(names, cols, strict=False) if n != "rect"}
        rect_at = names.index("rect")
        data.update(_rect_cols(list(cols[rect_at])))
        data["weight"] = list(cols[-1])
        return pl.DataFrame(data)

    return Areas(
        districts=pl.DataFrame(
            {
                "code": [d.code for d in city.districts],
                "name": [d.name for d in city.districts],
                **_rect_cols(district_rects),
                "weight": population / population.sum(),
            }
        ),
        streets=frame(
            streets, ["code", "name", "kind", "district_code", "roads", "rect", "weight"]
        ),
        communities=frame(communities, ["code", "name", "street_code", "rect", "weight"]),
        grids=frame(
            grids,
            ["code", "name", "community_code", "street_code", "district_code", "rect", "weight"],
        ),
    )


def random_points(
    rng: np.random.Generator, grids: pl.DataFrame, index: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform WGS-84 points inside the grids ``index`` points at, kept 5% off the edges so
    that a point moved by a coordinate round trip (centimetres) stays in its grid."""
    x0 = grids["x0"].to_numpy()[index]
    y0 = grids["y0"].to_numpy()[index]
    w = grids["x1"].to_numpy()[index] - x0
    h = grids["y1"].to_numpy()[index] - y0
    u = rng.uniform(0.05, 0.95, size=(2, len(index)))
    return (x0 + u[0] * w) / MICRO, (y0 + u[1] * h) / MICRO
