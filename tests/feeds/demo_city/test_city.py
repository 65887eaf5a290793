"""The city definition is data: real codes, a map that nests exactly, another city is a file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from feeds.demo_city.city import authorities, load_city, load_vocabulary
from feeds.demo_city.geometry import build_areas, split_rect
from schemas.codes.credit_code import check_uscc
from schemas.codes.licence_id import check_licence_id
from schemas.codes.region import region_table

# feeds.md "The demo city", verbatim.
DISTRICTS = {
    "440103": "荔湾区",
    "440104": "越秀区",
    "440105": "海珠区",
    "440106": "天河区",
    "440111": "白云区",
    "440112": "黄埔区",
    "440113": "番禺区",
    "440114": "花都区",
    "440115": "南沙区",
    "440117": "从化区",
    "440118": "增城区",
}
RETIRED = {
    "440102": "440104",
    "440107": "440103",
    "440116": "440112",
    "440183": "440118",
    "440184": "440117",
}


def test_guangzhou_has_the_contracts_districts_and_retired_codes():
    city = load_city()
    assert {d.code: d.name for d in city.districts} == DISTRICTS
    assert {r.code: r.successor for r in city.retired} == RETIRED


def test_city_codes_agree_with_the_national_region_table():
    city = load_city()
    table = region_table()
    current = dict(
        table.filter(pl.col("valid_to_year").is_null()).select("code", "name").iter_rows()
    )
    for d in city.districts:
        assert current[d.code] == d.name
    successors = dict(table.select("code", "successor_code").iter_rows())
    for r in city.retired:
        assert successors[r.code] == r.successor, r.code
    # Floating residents' household codes are current codes of other counties.
    assert {o.code for o in city.origins} <= set(current)


def test_every_identifier_in_the_vocabulary_and_authorities_is_valid():
    city, vocabulary = load_city(), load_vocabulary()
    codes = [a.uscc for a in authorities(city, vocabulary)]
    codes += [t.type_code[:18] for t in vocabulary.licence_types.values()]
    checked = pl.DataFrame({"c": codes}).select(check_uscc(pl.col("c")))["c"]
    assert checked.struct.field("reason").null_count() == len(codes)
    assert len(set(codes[: len(authorities(city, vocabulary))])) == len(
        authorities(city, vocabulary)
    )


def _contains(outer: pl.DataFrame, inner: pl.DataFrame, key: str) -> pl.DataFrame:
    """Inner areas that stick out of the outer area named by ``key`` (should be none)."""
    o = outer.select(
        pl.col("code").alias(key), *[pl.col(c).alias(f"o_{c}") for c in ("x0", "y0", "x1", "y1")]
    )
    joined = inner.join(o, on=key, how="left")
    assert joined["o_x0"].null_count() == 0, f"{key} points at no area"
    return joined.filter(
        (pl.col("x0") < pl.col("o_x0"))
        | (pl.col("y0") < pl.col("o_y0"))
        | (pl.col("x1") > pl.col("o_x1"))
        | (pl.col("y1") > pl.col("o_y1"))
    )


def test_areas_nest_exactly_and_tile_their_parent():
    areas = build_areas(load_city(), load_vocabulary())
    assert _contains(areas.districts, areas.streets, "district_code").height == 0
    assert _contains(areas.streets, areas.communities, "street_code").height == 0
    assert _contains(areas.streets, areas.grids, "street_code").height == 0
    assert _contains(areas.communities, areas.grids, "community_code").height == 0

    # Children cover their parent exactly: areas add up (rectangles, integer micro-degrees).
    def area(df: pl.DataFrame) -> pl.Expr:
        return ((pl.col("x1") - pl.col("x0")) * (pl.col("y1") - pl.col("y0"))).alias("a")

    for parent, child, key in (
        (areas.districts, areas.streets, "district_code"),
        (areas.streets, areas.grids, "street_code"),
    ):
        sums = child.group_by(key).agg(area(child).sum()).rename({key: "code"})
        both = parent.select("code", area(parent).alias("p")).join(sums, on="code")
        assert (both["p"] == both["a"]).all()


def test_street_codes_follow_the_township_ranges():
    areas = build_areas(load_city(), load_vocabulary())
    township = areas.streets["code"].str.slice(6, 3).cast(pl.Int64)
    kind = areas.streets["kind"]
    assert ((kind == "街道") == (township < 100)).all()
    assert ((kind == "镇") == township.is_between(100, 199)).all()
    assert areas.communities["code"].str.len_chars().eq(12).all()
    assert areas.streets["name"].n_unique() == areas.streets.height


def test_districts_sit_at_their_real_places():
    city = load_city()
    areas = build_areas(city, load_vocabulary())
    for d, row in zip(city.districts, areas.districts.iter_rows(named=True), strict=True):
        lon, lat = d.centre
        assert row["x0"] / 1e6 < lon < row["x1"] / 1e6 and row["y0"] / 1e6 < lat < row["y1"] / 1e6


def test_split_rect_keeps_every_part_and_follows_the_weights():
    rects = split_rect((0, 0, 1_000, 1_000), np.array([1.0, 1.0, 2.0]))
    assert sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in rects) == 1_000_000
    assert [(x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in rects] == [250_000, 250_000, 500_000]


def test_another_city_is_a_file(tmp_path: Path):
    text = (Path(load_city.__code__.co_filename).parent / "cities" / "guangzhou.toml").read_text(
        encoding="utf-8"
    )
    other = tmp_path / "smalltown.toml"
    other.write_text(text.replace('name = "广州市"', 'name = "小城市"', 1), encoding="utf-8")
    assert load_city(other).name == "小城市"
    # Overlapping districts are refused: the map must stay a partition.
    broken = tmp_path / "broken.toml"
    broken.write_text(
        text.replace(
            "extent = [113.24, 23.105, 113.32, 23.17]", "extent = [113.20, 23.10, 113.32, 23.17]"
        ),
        encoding="utf-8",
    )
    with pytest.raises(ValidationError, match="overlap"):
        load_city(broken)


def test_licence_ids_issued_are_valid(truth: dict[str, pl.DataFrame]):
    lic = truth["licence"].filter(pl.col("outcome") != "quarantine")
    checked = lic.select(check_licence_id(pl.col("certificate_id")).struct.field("reason"))
    assert checked.to_series().null_count() == lic.height
