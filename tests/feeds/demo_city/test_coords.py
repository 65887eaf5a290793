"""GCJ-02 / BD-09 forward transforms against the reference implementation (§7)."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from feeds.demo_city.coords import gcj02_to_bd09, wgs84_to_gcj02

# (wgs lng, wgs lat, gcj lng, gcj lat): googollee/eviltransform's test vectors (§7.2).
VECTORS = [
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),
]


def test_wgs84_to_gcj02_matches_the_published_vectors():
    w = np.array([v[:2] for v in VECTORS])
    lon, lat = wgs84_to_gcj02(w[:, 0], w[:, 1])
    np.testing.assert_allclose(lon, [v[2] for v in VECTORS], atol=1e-9)
    np.testing.assert_allclose(lat, [v[3] for v in VECTORS], atol=1e-9)


def test_points_outside_china_are_unchanged():
    lon, lat = wgs84_to_gcj02(np.array([-0.1276]), np.array([51.5072]))
    assert (lon[0], lat[0]) == (-0.1276, 51.5072)


def test_vectorized_transforms_equal_the_reference_point_by_point(reference: ModuleType):
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(112.9, 114.1, 200), rng.uniform(22.4, 24.0, 200)
    glon, glat = wgs84_to_gcj02(lon, lat)
    blon, blat = gcj02_to_bd09(glon, glat)
    for i in range(len(lon)):
        g = reference.wgs84_to_gcj02(lon[i], lat[i])
        b = reference.gcj02_to_bd09(*g)
        assert (glon[i], glat[i]) == pytest.approx(g, abs=1e-12)
        assert (blon[i], blat[i]) == pytest.approx(b, abs=1e-12)
        # And they invert back to the true point (the pipeline's job, done by the reference).
        w = reference.gcj02_to_wgs84(*reference.bd09_to_gcj02(blon[i], blat[i]))
        # The BD-09 inverse is approximate (standards.md §7.4: centimetres to a decimetre).
        assert reference.haversine_m(w[0], w[1], lon[i], lat[i]) < 0.5
