"""GCJ-02 / BD-09 → WGS-84: the standards.md §7 vectors, and round trips through the
simulator's own forward transforms (an independent implementation in numpy)."""

from __future__ import annotations

import time

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from feeds.demo_city.coords import gcj02_to_bd09 as sim_gcj02_to_bd09
from feeds.demo_city.coords import wgs84_to_gcj02 as sim_wgs84_to_gcj02
from transforms.coordinates import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china,
    to_wgs84,
    wgs84_to_gcj02,
)

# standards.md §7.2 (eviltransform's test vectors): WGS-84 lon/lat → GCJ-02 lon/lat.
VECTORS = [
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),  # Shanghai
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),  # Shenzhen
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),  # Beijing
]


def _metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Haversine distance, as standards.md's verify_vectors.py measures it."""
    lon1, lat1, lon2, lat2 = (
        np.radians(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2)
    )
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371000.0 * np.arcsin(np.sqrt(h))


def _apply(fn, lon, lat, **kw) -> tuple[np.ndarray, np.ndarray]:
    out = (
        pl.DataFrame({"lon": np.asarray(lon, dtype=float), "lat": np.asarray(lat, dtype=float)})
        .select(fn(pl.col("lon"), pl.col("lat"), **kw).alias("p"))
        .unnest("p")
    )
    return out["lon"].to_numpy(), out["lat"].to_numpy()


@pytest.mark.parametrize(("wlon", "wlat", "glon", "glat"), VECTORS)
def test_forward_and_exact_inverse_match_the_standard_vectors(wlon, wlat, glon, glat) -> None:
    # Both directions within 1 mm of the published pair (the standard's tolerance).
    lon, lat = _apply(wgs84_to_gcj02, [wlon], [wlat])
    assert _metres(lon, lat, [glon], [glat])[0] < 1e-3
    lon, lat = _apply(gcj02_to_wgs84, [glon], [glat])
    assert _metres(lon, lat, [wlon], [wlat])[0] < 1e-3


@pytest.mark.parametrize(("wlon", "wlat", "glon", "glat"), VECTORS)
def test_one_step_inverse_is_not_good_enough(wlon, wlat, glon, glat) -> None:
    # Why the iteration exists: the "rough" one-step inverse is off by 0.3–2 m (§7.3).
    # Guards against a refactor that silently drops the iteration.
    lon, lat = _apply(gcj02_to_wgs84, [glon], [glat], iterations=1)
    assert _metres(lon, lat, [wlon], [wlat])[0] > 0.1


def test_bd09_vector_and_exact_inverse() -> None:
    # Beijing railway station, GCJ-02 → BD-09 within 1 m of the published value (§7.4);
    # the refined inverse returns to the GCJ-02 point within 1 mm (the closed form: ~4 cm).
    lon, lat = _apply(gcj02_to_bd09, [116.42703], [39.90245])
    assert _metres(lon, lat, [116.43351], [39.90851])[0] < 1.0
    back = _apply(bd09_to_gcj02, lon, lat)
    assert _metres(*back, [116.42703], [39.90245])[0] < 1e-3
    rough = _apply(bd09_to_gcj02, lon, lat, iterations=0)
    assert _metres(*rough, [116.42703], [39.90245])[0] > 1e-3


def test_points_outside_china_are_not_shifted() -> None:
    # London: the GCJ-02 formula leaves points outside China's rectangle unchanged, so
    # its inverse must as well (else it would "correct" a foreign WGS-84 point).
    for fn in (wgs84_to_gcj02, gcj02_to_wgs84):
        lon, lat = _apply(fn, [-0.1276], [51.5072])
        assert (lon[0], lat[0]) == (-0.1276, 51.5072)


def test_round_trip_through_the_simulator_forward_transforms() -> None:
    # 20,000 random points all over China's rectangle, through an independent forward
    # implementation (the demo city's numpy code): back to WGS-84 within 1 mm.
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(73.6, 135.0, 20_000), rng.uniform(18.0, 53.5, 20_000)
    glon, glat = sim_wgs84_to_gcj02(lon, lat)
    blon, blat = sim_gcj02_to_bd09(glon, glat)
    assert _metres(*_apply(gcj02_to_wgs84, glon, glat), lon, lat).max() < 1e-3
    assert _metres(*_apply(bd09_to_wgs84, blon, blat), lon, lat).max() < 1e-3


def test_to_wgs84_dispatches_on_the_declared_crs() -> None:
    wlon, wlat, glon, glat = VECTORS[1]
    blon, blat = sim_gcj02_to_bd09(np.array([glon]), np.array([glat]))
    frame = pl.DataFrame(
        {
            "lon": [wlon, wlon, glon, float(blon[0]), wlon, None],
            "lat": [wlat, wlat, glat, float(blat[0]), wlat, wlat],
            # CGCS2000 is WGS-84 at a city's precision (§7.1); an unknown CRS gives nulls.
            "crs": ["WGS84", "CGCS2000", "GCJ02", "BD09", "BD09MC", "GCJ02"],
        }
    )
    out = frame.select(to_wgs84(pl.col("lon"), pl.col("lat"), pl.col("crs")).alias("p")).unnest("p")
    known = out.head(4)
    assert _metres(known["lon"], known["lat"], [wlon] * 4, [wlat] * 4).max() < 1e-3
    assert_frame_equal(
        out.tail(2),
        pl.DataFrame(
            {"lon": [None, None], "lat": [None, None]},
            schema={"lon": pl.Float64, "lat": pl.Float64},
        ),
    )


@pytest.mark.parametrize(
    ("lon", "lat", "inside"),
    [
        (113.26, 23.13, True),  # Guangzhou
        (72.004, 0.8293, True),  # the rectangle's corner is inside (closed interval)
        (137.9, 35.0, False),  # east of the rectangle (Japan)
        (23.13, 113.26, False),  # swapped: a latitude above 90 is nowhere
    ],
)
def test_in_china(lon: float, lat: float, inside: bool) -> None:
    frame = pl.DataFrame({"lon": [lon], "lat": [lat]})
    assert frame.select(in_china(pl.col("lon"), pl.col("lat"))).item() is inside


def test_vectorized_at_scale() -> None:
    # 200,000 points: about 0.6 s here; row-wise Python iterating five rounds would take
    # several seconds. A generous bound, so only a fall back to per-row code trips it.
    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(112.9, 114.1, 200_000), rng.uniform(22.5, 23.9, 200_000)
    frame = pl.LazyFrame({"lon": lon, "lat": lat, "crs": ["GCJ02"] * len(lon)})
    start = time.perf_counter()
    frame.select(to_wgs84(pl.col("lon"), pl.col("lat"), pl.col("crs"))).collect()
    assert time.perf_counter() - start < 5.0
