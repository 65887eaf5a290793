"""Geospatial (地理空间) normalization: boundaries and addresses, one case per kind of dirt
in feeds.md §3, and the accuracy against the demo city's ground truth."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import h3
import numpy as np
import polars as pl
import pytest
import shapely
from polars.testing import assert_frame_equal

from feeds.connectors.read import read_geojson, scan_text_csv
from feeds.demo_city.coords import gcj02_to_bd09, wgs84_to_gcj02
from feeds.spec import FEEDS
from schemas.generate import polars_schema
from schemas.records.geospatial import AddressPoint, Area
from transforms import normalizer
from transforms.batch import begin, reason_lists, run_steps
from transforms.context import NormalizeContext
from transforms.geospatial import (
    ADDRESS_STEPS,
    BOUNDARY_STEPS,
    normalize_addresses,
    normalize_boundaries,
)

BOUNDARY_FIELDS, ADDRESS_FIELDS = (r.fields for r in FEEDS["geospatial"].resources)
B_CTX = NormalizeContext(fields=BOUNDARY_FIELDS, today=date(2026, 10, 10))
A_CTX = NormalizeContext(fields=ADDRESS_FIELDS, today=date(2026, 10, 10))

SQUARE = [[113.3, 23.1], [113.4, 23.1], [113.4, 23.2], [113.3, 23.2], [113.3, 23.1]]


def _polygon(*rings: list) -> str:
    return json.dumps({"type": "Polygon", "coordinates": list(rings)}, separators=(",", ":"))


def _frame(rows: list[dict[str, str | None]], columns: list[str], source: str) -> pl.LazyFrame:
    data = {c: [r.get(c) for r in rows] for c in columns}
    return pl.LazyFrame(
        data | {"_source": [source] * len(rows), "_source_row": range(1, len(rows) + 1)},
        schema={**dict.fromkeys(columns, pl.String), "_source": pl.String, "_source_row": pl.Int64},
    )


# --- boundaries --------------------------------------------------------------------------

B_COLUMNS = ["code", "name", "level", "parent_code", "geometry"]
DISTRICT = {
    "code": "440106",
    "name": "天河区",
    "level": "district",
    "parent_code": "440100",
    "geometry": _polygon(SQUARE),
}


def _features(*overrides: dict[str, str | None]) -> pl.LazyFrame:
    return _frame([DISTRICT | o for o in overrides], B_COLUMNS, "boundaries_20261001.geojson")


def test_clean_district_becomes_an_area_with_wkb() -> None:
    valid, rejected, dups = normalize_boundaries(_features({}), B_CTX).collect()
    assert rejected.height == 0 and dups.height == 0
    expected = pl.DataFrame(
        {
            "area_code": ["440106"],
            "name": ["天河区"],
            "level": ["district"],
            "parent_code": ["440100"],
            "geometry": [shapely.Polygon(SQUARE).wkb],
        },
        schema=polars_schema(Area),
    )
    assert_frame_equal(valid.select(polars_schema(Area).names()), expected)
    assert normalizer("core.area") is normalize_boundaries


def test_wkb_of_multipolygons_holes_and_3d_points() -> None:
    # The WKB writer is hand-made (numpy on Arrow buffers): shapely reads it back exactly.
    hole = [[113.32, 23.12], [113.33, 23.12], [113.33, 23.13], [113.32, 23.12]]
    far = [[s[0] + 0.5, s[1]] for s in SQUARE]
    multi = {"type": "MultiPolygon", "coordinates": [[SQUARE, hole], [far]]}
    with_z = {"type": "Polygon", "coordinates": [[[*p, 12.5] for p in SQUARE]]}
    geometries = [json.dumps(multi), json.dumps(with_z), _polygon(SQUARE, hole)]
    rows = [{"code": f"44010600{i}", "level": "street", "parent_code": "440106", "geometry": g}
            for i, g in enumerate(geometries, 1)]  # fmt: skip
    valid, rejected, _ = normalize_boundaries(_features(*rows), B_CTX).collect()
    assert rejected.height == 0
    got = shapely.from_wkb(valid.sort("area_code")["geometry"].to_list())
    want = [
        shapely.MultiPolygon([shapely.Polygon(SQUARE, [hole]), shapely.Polygon(far)]),
        shapely.Polygon(SQUARE),
        shapely.Polygon(SQUARE, [hole]),
    ]
    assert [g.geom_type for g in got] == ["MultiPolygon", "Polygon", "Polygon"]
    assert all(shapely.equals_exact(g, w, tolerance=0) for g, w in zip(got, want, strict=True))


BOUNDARY_CASES = [
    # Why each exists: the contract's geometry and code rules, one violation each.
    pytest.param({"geometry": _polygon(SQUARE[:-1])}, ["geometry.unclosed_ring"], id="ring-not-closed"),
    pytest.param({"geometry": _polygon([SQUARE[0], SQUARE[1], SQUARE[0]])}, ["geometry.too_few_points"], id="ring-of-3"),
    pytest.param({"geometry": '{"type":"Point","coordinates":[113.3,23.1]}'}, ["geometry.unsupported_type"], id="point"),
    pytest.param({"geometry": '{"type":"Polygon","coordinates":[[[113.3,"x"]]]}'}, ["geometry.format"], id="not-numbers"),
    pytest.param({"geometry": "{not json"}, ["geometry.unsupported_type"], id="not-json"),
    # A projected (metres) polygon delivered as if in degrees: cannot be in China.
    pytest.param({"geometry": _polygon([[x * 1e4, y * 1e4] for x, y in SQUARE])}, ["geometry.out_of_china"], id="projected"),
    pytest.param({"geometry": None}, ["geometry.missing"], id="no-geometry"),
    pytest.param({"level": "village"}, ["level.unknown"], id="unknown-level"),
    pytest.param({"code": "4401060"}, ["area_code.format"], id="7-digit-district"),
    # 东山区 was merged into 越秀区 in 2005: its polygon no longer exists as such.
    pytest.param({"code": "440102"}, ["area_code.retired"], id="retired-district"),
    pytest.param({"code": "440106001", "level": "street", "parent_code": None}, ["parent_code.missing"], id="orphan-street"),
    pytest.param({"code": "44010600101", "level": "grid", "parent_code": "440106001"}, [], id="grid"),
    pytest.param({"code": "440106", "level": "区"}, [], id="chinese-level"),
    pytest.param({"name": "无"}, ["name.missing"], id="null-spelled-name"),
]  # fmt: skip


@pytest.fixture(scope="module")
def boundary_cases() -> pl.DataFrame:
    # One run for all cases: planning the chain costs more than the rows.
    frame = _features(*[p.values[0] for p in BOUNDARY_CASES])
    return run_steps(begin(frame), [b(B_CTX) for b in BOUNDARY_STEPS]).pipe(reason_lists).collect()


@pytest.mark.parametrize(("index", "override", "reasons"), [
    pytest.param(i, *p.values, id=p.id) for i, p in enumerate(BOUNDARY_CASES)
])  # fmt: skip
def test_boundary_dirt(boundary_cases: pl.DataFrame, index: int, override, reasons) -> None:
    row = boundary_cases.row(index, named=True)
    assert row["_reasons"] == reasons
    assert (row["geometry"] is None) == any(r.startswith("geometry.") for r in reasons)


def test_parent_that_is_not_a_prefix_warns() -> None:
    # Grid codes are local conventions: a parent that does not prefix the code is worth a
    # look, not a rejection. A district's parent 440100 prefixes it as 4401.
    frame = _features({}, {"code": "44010600101", "level": "grid", "parent_code": "440105001"})
    valid, _, _ = normalize_boundaries(frame, B_CTX).collect()
    assert valid.sort("area_code")["_warnings"].to_list() == [[], ["parent_code.not_prefix"]]


# --- addresses ---------------------------------------------------------------------------

A_COLUMNS = [
    "地址编码",
    "标准地址",
    "所属区划代码",
    "经度",
    "纬度",
    "坐标系",
    "地址类型",
    "更新时间",
]
# A point in 天河区 (WGS-84) and its GCJ-02 / BD-09 forms, by the simulator's forward code.
LON, LAT = 113.3301234, 23.1354321
GCJ = tuple(float(v[0]) for v in wgs84_to_gcj02(np.array([LON]), np.array([LAT])))
BD = tuple(float(v[0]) for v in gcj02_to_bd09(np.array([GCJ[0]]), np.array([GCJ[1]])))
ADDRESS = {
    "地址编码": "4401060010010000001",
    "标准地址": "广州市天河区天河路1号",
    "所属区划代码": "440106001001",
    "经度": str(LON),
    "纬度": str(LAT),
    "坐标系": "WGS84",
    "地址类型": "住宅",
    "更新时间": "2026-10-01 08:00:00",
}


def _addresses(*overrides: dict[str, str | None]) -> pl.LazyFrame:
    return _frame([ADDRESS | o for o in overrides], A_COLUMNS, "address_20261001.csv")


def test_clean_address_becomes_a_point() -> None:
    valid, rejected, dups = normalize_addresses(_addresses({}), A_CTX).collect()
    assert rejected.height == 0 and dups.height == 0
    schema = polars_schema(AddressPoint)
    expected = pl.DataFrame(
        {
            "address_code": ["4401060010010000001"],
            "address": ["广州市天河区天河路1号"],
            "address_type": ["住宅"],
            "lon": [LON],
            "lat": [LAT],
            "source_crs": ["WGS84"],
            "source_lon": [LON],
            "source_lat": [LAT],
            "region_code": ["440106"],
            "street_code": ["440106001"],
            "grid_code": [None],  # by containment in the loader
            "h3_r9": [h3.latlng_to_cell(LAT, LON, 9)],
            "source_updated_at": [datetime(2026, 10, 1, 8, 0)],
        },
        schema=schema,
    )
    assert_frame_equal(valid.select(schema.names()), expected)
    assert normalizer("core.address_point") is normalize_addresses


ADDRESS_CASES = [
    # Valid spellings: the point comes back to LON/LAT (within 1 mm) in WGS-84.
    pytest.param({"坐标系": "GCJ02", "经度": repr(GCJ[0]), "纬度": repr(GCJ[1])}, [], [], "GCJ02", id="gcj02"),
    pytest.param({"坐标系": "BD09", "经度": repr(BD[0]), "纬度": repr(BD[1])}, [], [], "BD09", id="bd09"),
    pytest.param({"坐标系": "CGCS2000"}, [], [], "CGCS2000", id="cgcs2000-is-wgs84"),
    pytest.param({"坐标系": "gcj-02", "经度": repr(GCJ[0]), "纬度": repr(GCJ[1])}, [], [], "GCJ02", id="crs-spelling"),
    # Swapped: a latitude above 90 cannot be one; the truth keeps the point (swap back).
    pytest.param({"经度": str(LAT), "纬度": str(LON)}, [], ["lonlat.swapped"], "WGS84", id="swapped"),
    pytest.param({"经度": "１１３.３３０１２３４"}, [], [], "WGS84", id="fullwidth-digits"),
    pytest.param({"所属区划代码": "440106001"}, [], [], "WGS84", id="9-digit-street"),
    pytest.param({"所属区划代码": ""}, [], [], "WGS84", id="no-region-code"),
    # Unnormalizable: quarantined with the reason.
    pytest.param({"经度": "0", "纬度": "0"}, ["lonlat.zero"], [], "WGS84", id="zero"),
    pytest.param({"经度": "2.35", "纬度": "48.86"}, ["lonlat.out_of_city"], [], "WGS84", id="paris"),
    pytest.param({"经度": "113.33E"}, ["lonlat.format"], [], "WGS84", id="not-a-number"),
    pytest.param({"纬度": "-"}, ["lonlat.missing"], [], "WGS84", id="no-latitude"),
    pytest.param({"坐标系": "BD09MC"}, ["source_crs.unknown"], [], None, id="baidu-mercator"),
    pytest.param({"坐标系": None}, ["source_crs.missing"], [], None, id="no-crs"),
    pytest.param({"所属区划代码": "4401060"}, ["street_code.format"], [], "WGS84", id="7-digit-code"),
    pytest.param({"标准地址": "NULL"}, ["address.missing"], [], "WGS84", id="no-address"),
    pytest.param({"更新时间": "昨天"}, ["source_updated_at.format"], [], "WGS84", id="bad-update-time"),
]  # fmt: skip


@pytest.fixture(scope="module")
def address_cases() -> pl.DataFrame:
    frame = _addresses(*[p.values[0] for p in ADDRESS_CASES])
    return run_steps(begin(frame), [b(A_CTX) for b in ADDRESS_STEPS]).pipe(reason_lists).collect()


@pytest.mark.parametrize(("index", "override", "reasons", "warnings", "crs"), [
    pytest.param(i, *p.values, id=p.id) for i, p in enumerate(ADDRESS_CASES)
])  # fmt: skip
def test_address_dirt(address_cases: pl.DataFrame, index, override, reasons, warnings, crs) -> None:
    row = address_cases.row(index, named=True)
    assert row["_reasons"] == reasons
    assert row["_warnings"] == warnings
    assert row["source_crs"] == crs
    if not reasons:
        metres = _metres(row["lon"], row["lat"], LON, LAT)
        assert metres < 1e-3, metres
        assert row["h3_r9"] == h3.latlng_to_cell(LAT, LON, 9)
        assert row["street_code"] in ("440106001", None)


def test_retired_district_in_the_code_maps_to_its_successor() -> None:
    # 440102 东山区 → 440104 越秀区; the street code stays as delivered (NBS renumbers
    # streets under the new county, so a rewritten code could name another street).
    valid, _, _ = normalize_addresses(_addresses({"所属区划代码": "440102005003"}), A_CTX).collect()
    assert valid.select("region_code", "street_code").row(0) == ("440104", "440102005")


def test_every_row_ends_once_and_the_newest_update_wins() -> None:
    frame = _addresses(
        {"更新时间": "2026-10-02 08:00:00", "标准地址": "新地址"},
        {},  # older version of the same code, later in the file
        {"地址编码": "other", "经度": "0"},
    )
    valid, rejected, dups = normalize_addresses(frame, A_CTX).collect()
    assert valid.height + rejected.height + dups.height == 3
    assert valid["address"].to_list() == ["新地址"]
    assert dups["_source_row"].to_list() == [2]
    assert rejected["reasons"].to_list() == [["lonlat.zero"]]


def _metres(lon1, lat1, lon2, lat2):
    p1, p2, dl = np.radians(lat1), np.radians(lat2), np.radians(np.asarray(lon2) - lon1)
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371000.0 * np.arcsin(np.sqrt(h))


# --- accuracy against the demo city --------------------------------------------------------


def _judge(steps, ctx, frame: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """Each delivered row after every step but ``split``, beside its truth row."""
    out = run_steps(begin(frame.lazy()), [b(ctx) for b in steps]).pipe(reason_lists).collect()
    return out.join(truth, left_on="_source_row", right_on="row", how="full", suffix="_truth")


def test_boundaries_equal_the_truth(city: Path) -> None:
    truth = pl.read_parquet(city / "truth/area/rows/*.parquet")
    path = city / "deliveries" / truth["delivery"][0]
    frame = read_geojson(path, feed="geospatial").with_columns(
        pl.col("_source_row") - 1, pl.lit(path.name).alias("_source")
    )
    judged = _judge(BOUNDARY_STEPS, B_CTX, frame, truth)
    assert judged["_reasons"].list.len().sum() == 0
    for column in ("area_code", "name", "level", "parent_code"):
        assert judged[column].equals(judged[f"{column}_truth"]), column
    mine = shapely.from_wkb(judged["geometry"].to_list())
    theirs = shapely.from_wkt(judged["geometry_wkt"].to_list())
    assert shapely.equals_exact(mine, theirs, tolerance=0).all()


def test_addresses_equal_the_truth(city: Path) -> None:
    """≥ 99.9% of normalizable rows equal the truth; every other row rejected with the
    truth's reason — after the containment the loader adds (emulated here with shapely on
    the normalized districts): points in China but outside every district are
    ``lonlat.out_of_city`` there, and rows without 所属区划代码 get their street there."""
    truth = pl.read_parquet(city / "truth/address_point/rows/*.parquet")
    boundaries = read_geojson(
        next((city / "deliveries/geospatial").glob("boundaries_*.geojson")), feed="geospatial"
    )
    areas, _, _ = normalize_boundaries(
        boundaries.with_columns(pl.lit("boundaries").alias("_source")).lazy(), B_CTX
    ).collect()
    districts = shapely.union_all(
        shapely.from_wkb(areas.filter(pl.col("level") == "district")["geometry"].to_list())
    )
    judged = []
    for delivery in truth["delivery"].unique().sort():
        frame = scan_text_csv(city / "deliveries" / delivery).with_row_index("_source_row")
        frame = frame.collect().with_columns(
            pl.col("_source_row").cast(pl.Int64), pl.lit(delivery).alias("_source")
        )
        rows = truth.filter(pl.col("delivery") == delivery)
        judged.append(_judge(ADDRESS_STEPS, A_CTX, frame, rows))
    j = pl.concat(judged)
    inside = shapely.contains_xy(
        districts, j["lon"].fill_null(0).to_numpy(), j["lat"].fill_null(0).to_numpy()
    )
    outside = pl.Series(~inside) & (j["_reasons"].list.len() == 0)
    j = j.with_columns(
        pl.when(outside)
        .then(pl.lit(["lonlat.out_of_city"]))
        .otherwise("_reasons")
        .alias("_reasons")
    )

    bad = j.filter(pl.col("outcome") == "quarantine")
    assert bad.filter(pl.col("_reasons").list.sort() != pl.col("reasons").list.sort()).height == 0
    assert bad.height > 200  # the heavy profile's zeros and far-away points

    good = j.filter(pl.col("outcome") != "quarantine")
    assert good.filter(pl.col("_reasons").list.len() > 0).height == 0
    # Coordinates are delivered with 6–7 decimals (≤ 5 cm): equal within 1e-6 degree.
    close = lambda c: (pl.col(c) - pl.col(f"{c}_truth")).abs() <= 1e-6  # noqa: E731
    same = lambda c: pl.col(c).eq_missing(pl.col(f"{c}_truth"))  # noqa: E731
    delivered = pl.col("street_code").is_not_null()
    equal = (
        close("lon") & close("lat")
        & same("address_code") & same("address") & same("source_crs") & same("address_type")
        & same("source_updated_at")
        & (~delivered | (same("street_code") & same("region_code")))
    )  # fmt: skip
    accuracy = good.select(equal.mean()).item()
    assert accuracy >= 0.999, good.filter(~equal).head(5)
    assert good.select(pl.col("dirt").list.contains("lonlat_swapped").sum()).item() > 100
