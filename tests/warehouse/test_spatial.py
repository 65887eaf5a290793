"""enrich_addresses: grid, street and district by polygon containment against core.area."""

from __future__ import annotations

import importlib.util
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest

from schemas.generate import polars_schema
from schemas.records import table as model_of
from transforms.staged import SUPERSEDED
from warehouse.lake import init_lake
from warehouse.load import load_batch
from warehouse.spatial import MISMATCH, OUT_OF_CITY, enrich_addresses

if TYPE_CHECKING:
    from types import ModuleType

    from schemas.settings import Settings
    from transforms.staged import StagedBatch


def support() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "load_support", Path(__file__).with_name("test_load_support.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


S = support()
FEED = "geospatial"
SOURCE = "address_20260102.csv"


def _box(x0: float, y0: float, x1: float, y1: float) -> str:
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


# Two districts side by side; the first has two streets, the west street one grid.
AREAS = [
    ("440106", "天河区", "district", None, _box(113.0, 23.0, 113.2, 23.2)),
    ("440104", "越秀区", "district", None, _box(113.2, 23.0, 113.4, 23.2)),
    ("440106001", "西街道", "street", "440106", _box(113.0, 23.0, 113.1, 23.2)),
    ("440106002", "东街道", "street", "440106", _box(113.1, 23.0, 113.2, 23.2)),
    ("440106001001", "一号网格", "grid", "440106001", _box(113.0, 23.0, 113.05, 23.1)),
]

# code, lon, lat, delivered street, delivered region
POINTS = [
    ("A1", 113.02, 23.05, None, None),  # district, street and grid all filled
    ("A2", 113.15, 23.10, "440106001", "440106"),  # delivered west, lies east: kept, warned
    ("A3", 116.40, 39.90, None, None),  # Beijing: in China, not in the city
    ("A4", 113.30, 23.10, None, None),  # a district without streets: region only
    ("A5", 113.03, 23.02, "440106001", "440106"),  # delivered and right: no warning
]


def _areas(tmp_path: Path) -> StagedBatch:
    schema = polars_schema(model_of("core.area"))
    frame = pl.DataFrame(
        AREAS,
        schema={k: pl.String for k in schema.names()},
        orient="row",
    )
    return S.stage(
        tmp_path,
        "boundaries",
        frame,
        table="core.area",
        feed=FEED,
        resource="boundaries",
        updated_at=None,
    )


def _addresses(tmp_path: Path, tag: str = "addresses", points: list | None = None) -> StagedBatch:
    points = POINTS if points is None else points
    schema = polars_schema(model_of("core.address_point"))
    base = pl.DataFrame(
        points,
        schema={
            "address_code": pl.String,
            "lon": pl.Float64,
            "lat": pl.Float64,
            "street_code": pl.String,
            "region_code": pl.String,
        },
        orient="row",
    )
    valid = base.with_columns(
        pl.concat_str(pl.lit("广州市"), pl.col("address_code")).alias("address"),
        pl.lit("住宅").alias("address_type"),
        pl.lit("WGS84").alias("source_crs"),
        pl.col("lon").alias("source_lon"),
        pl.col("lat").alias("source_lat"),
        pl.lit(None, dtype=pl.String).alias("grid_code"),
        pl.lit(None, dtype=pl.String).alias("h3_r9"),
        pl.lit(datetime(2026, 1, 1, 9, 30)).alias("source_updated_at"),
    ).select([pl.col(c).cast(t) for c, t in schema.items()])
    valid = valid.with_columns(
        pl.lit(SOURCE).alias("_source"),
        pl.int_range(1, valid.height + 1, dtype=pl.Int64).alias("_source_row"),
        pl.lit([], dtype=pl.List(pl.String)).alias("_warnings"),
    )
    rejected = S.rejected([(9, {"地址编码": "A9", "经度": "0"}, ["lonlat.zero"])])
    return S.stage(
        tmp_path,
        tag,
        valid,
        rejected_rows=rejected,
        duplicate_rows=S.duplicates([10]),
        table="core.address_point",
        feed=FEED,
        resource="addresses",
    )


@pytest.fixture
def lake(settings: Settings) -> Settings:
    init_lake(settings)
    return settings


@pytest.fixture
def with_areas(lake: Settings, tmp_path: Path) -> Settings:
    assert load_batch(lake, _areas(tmp_path)).status == "loaded"
    return lake


def _by_code(path: Path) -> dict[str, dict]:
    return {r["address_code"]: r for r in pl.read_parquet(path).to_dicts()}


def test_fills_codes_warns_on_mismatch_and_rejects_points_outside_the_city(
    with_areas: Settings, tmp_path: Path
) -> None:
    staged = _addresses(tmp_path)
    out = enrich_addresses(with_areas, staged)

    assert (out.rows_in, out.rows_valid, out.rows_rejected, out.rows_duplicate) == (7, 4, 2, 1)
    assert out.reconciles()
    assert out.valid_path == staged.valid_path and out.rejected_path == staged.rejected_path

    rows = _by_code(out.valid_path)
    assert set(rows) == {"A1", "A2", "A4", "A5"}
    codes = {k: (r["region_code"], r["street_code"], r["grid_code"]) for k, r in rows.items()}
    assert codes == {
        "A1": ("440106", "440106001", "440106001001"),
        "A2": ("440106", "440106001", None),  # delivered street kept
        "A4": ("440104", None, None),
        "A5": ("440106", "440106001", "440106001001"),
    }
    assert rows["A2"]["_warnings"] == [MISMATCH]
    assert rows["A1"]["_warnings"] == rows["A4"]["_warnings"] == rows["A5"]["_warnings"] == []
    # Same columns, same types as the transform wrote.
    assert pl.read_parquet_schema(out.valid_path) == pl.read_parquet_schema(
        _addresses(tmp_path, "fresh").valid_path
    )

    rejected = pl.read_parquet(out.rejected_path).sort("_source_row")
    assert rejected["_source_row"].to_list() == [3, 9]
    moved = rejected.row(0, named=True)
    assert moved["reasons"] == [OUT_OF_CITY] and moved["_source"] == SOURCE
    raw = json.loads(moved["raw_record"])
    assert raw["address_code"] == "A3" and raw["source_lon"] == "116.4"
    assert all(isinstance(v, str) or v is None for v in raw.values())

    # The enriched batch is what the loader takes: it loads and reconciles.
    result = load_batch(with_areas, out)
    assert result.status == "loaded" and result.reconciles()
    assert (result.rows_loaded, result.rows_quarantined) == (4, 2)
    grids = dict(
        S.read(with_areas, "core.address_point").select("address_code", "grid_code").rows()
    )
    assert grids == {"A1": "440106001001", "A2": None, "A4": None, "A5": "440106001001"}


def test_raw_record_uses_source_names_when_given_the_fields(
    with_areas: Settings, tmp_path: Path
) -> None:
    fields = {
        "address_code": ["地址编码"],
        "address": ["标准地址"],
        "street_code": ["所属区划代码"],
        "source_lon": ["经度"],
        "source_lat": ["纬度"],
        "source_crs": ["坐标系"],
        "address_type": ["地址类型"],
        "source_updated_at": ["更新时间"],
    }
    out = enrich_addresses(with_areas, _addresses(tmp_path), fields=fields)
    rejected = pl.read_parquet(out.rejected_path).filter(pl.col("_source_row") == 3)
    assert json.loads(rejected["raw_record"].item()) == {
        "地址编码": "A3",
        "标准地址": "广州市A3",
        "所属区划代码": None,
        "经度": "116.4",
        "纬度": "39.9",
        "坐标系": "WGS84",
        "地址类型": "住宅",
        "更新时间": "2026-01-01 09:30:00",
    }


def test_a_folder_of_valid_parts_becomes_one_file_without_the_superseded_rows(
    with_areas: Settings, tmp_path: Path
) -> None:
    # A delivery normalized in chunks stages its valid rows as parts plus the rows a
    # later chunk superseded (transforms.staged.scan_valid): enriched, they are one file.
    staged = _addresses(tmp_path)
    rows = pl.read_parquet(staged.valid_path)
    folder = staged.valid_path.with_suffix("")
    folder.mkdir()
    rows.head(2).write_parquet(folder / "part-00000.parquet")
    rows.tail(rows.height - 2).write_parquet(folder / "part-00001.parquet")
    pl.DataFrame({"_source_row": [1]}).write_parquet(folder / SUPERSEDED)  # A1
    staged.valid_path.unlink()
    # (The superseded row would be among the duplicates; here it simply leaves the batch.)
    parts = staged.model_copy(
        update={"valid_path": folder, "rows_valid": rows.height - 1, "rows_in": staged.rows_in - 1}
    )

    out = enrich_addresses(with_areas, parts)

    assert out.valid_path == folder.with_suffix(".parquet") and out.valid_path.is_file()
    assert set(_by_code(out.valid_path)) == {"A2", "A4", "A5"}
    assert (out.rows_valid, out.rows_rejected) == (3, 2)
    assert load_batch(with_areas, out).status == "loaded"


def test_running_twice_changes_nothing_more(with_areas: Settings, tmp_path: Path) -> None:
    staged = _addresses(tmp_path)
    first = enrich_addresses(with_areas, staged)
    valid, rejected = pl.read_parquet(first.valid_path), pl.read_parquet(first.rejected_path)
    # Even from the stale pointer of the normalize step, counts come from the files.
    second = enrich_addresses(with_areas, staged)
    assert second == first
    assert pl.read_parquet(second.valid_path).equals(valid)
    assert pl.read_parquet(second.rejected_path).equals(rejected)
    assert not list(staged.valid_path.parent.glob("*.tmp"))


def test_no_areas_leaves_the_batch_unchanged(
    lake: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    staged = _addresses(tmp_path)
    before = staged.valid_path.read_bytes(), staged.rejected_path.read_bytes()
    with caplog.at_level(logging.WARNING, logger="warehouse.spatial"):
        out = enrich_addresses(lake, staged)
    assert out == staged
    assert (staged.valid_path.read_bytes(), staged.rejected_path.read_bytes()) == before
    assert "no polygons" in caplog.text


def test_other_tables_pass_through(lake: Settings, tmp_path: Path) -> None:
    staged = S.stage(tmp_path, "p", S.persons(range(2)))
    before = staged.valid_path.read_bytes()
    assert enrich_addresses(lake, staged) == staged
    assert staged.valid_path.read_bytes() == before
