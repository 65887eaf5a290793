"""GB/T 2260 region codes and NBS statistical codes; the committed table and its build."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from importlib import resources
from pathlib import Path

import polars as pl
import pytest

from schemas.codes.region import (
    REASONS,
    check_region_code,
    check_statistical_code,
    check_street_code,
    current_region_codes,
    province_codes,
    region_table,
)

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "schemas" / "codes" / "data"


@pytest.mark.parametrize(
    ("raw", "value", "original"),
    [
        # The demo city's eleven districts are current codes (feeds.md).
        *[(c, c, None) for c in ["440103", "440104", "440105", "440106", "440111", "440112"]],
        *[(c, c, None) for c in ["440113", "440114", "440115", "440117", "440118"]],
        # Its retired codes map to their successors (feeds.md "The demo city").
        ("440102", "440104", "440102"),  # 东山区 → 越秀区
        ("440107", "440103", "440107"),  # 芳村区 → 荔湾区
        ("440116", "440112", "440116"),  # 萝岗区 → 黄埔区
        ("440183", "440118", "440183"),  # 增城市 → 增城区
        ("440184", "440117", "440184"),  # 从化市 → 从化区
        # standards.md §3.3: Beijing's merged and renamed codes.
        ("110103", "110101", "110103"),  # 崇文区 → 东城区
        ("110104", "110102", "110104"),  # 宣武区 → 西城区
        ("110228", "110118", "110228"),  # 密云县 → 密云区
        ("110229", "110119", "110229"),  # 延庆县 → 延庆区
        # Province- and prefecture-level codes are region codes too.
        ("440000", "440000", None),
        ("440100", "440100", None),
        # Full-width digits from a form.
        ("４４０１０６", "440106", None),
    ],
)
def test_region_codes_map_to_current(raw, value, original, run_check):
    (row,) = run_check(check_region_code, [raw])
    assert (row["value"], row["reason"], row["original"]) == (value, None, original)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("44010", "format"),
        ("4401066", "format"),
        ("44O106", "format"),
        ("999999", "unknown"),
        ("440199", "unknown"),
        # 燕山区 was merged into 房山区 in 1986: a merger, not a rename, so no successor
        # is derived, and a field that needs a current code cannot take it.
        ("110110", "retired_no_successor"),
    ],
)
def test_invalid_region_codes(raw, reason, run_check):
    (row,) = run_check(check_region_code, [raw])
    assert (row["value"], row["reason"]) == (None, reason)


def test_historical_codes_pass_when_current_is_not_required(run_check):
    rows = run_check(lambda e: check_region_code(e, current_only=False), ["110110", "440102"])
    assert [(r["value"], r["reason"]) for r in rows] == [("110110", None), ("440104", None)]


@pytest.mark.parametrize(
    ("raw", "region", "street", "community", "reason"),
    [
        # §3.2 example: 江苏/苏州/姑苏区/金阊街道/养育巷社区.
        ("320508019044", "320508", "320508019", "320508019044", None),
        # 9 digits: a street, no community.
        ("440106001", "440106", "440106001", None, None),
        # A retired county maps to its successor, the street code is left as received.
        ("440102005003", "440104", "440102005", "440102005003", None),
        ("4401060010", None, None, None, "format"),
        ("999999001001", None, None, None, "unknown"),
    ],
)
def test_statistical_codes(raw, region, street, community, reason, run_check):
    (row,) = run_check(check_statistical_code, [raw])
    assert (row["region_code"], row["street_code"], row["community_code"], row["reason"]) == (
        region,
        street,
        community,
        reason,
    )


def test_development_zone_is_valid_with_warning(run_check):
    # 320571 苏州工业园区: an NBS development zone under 苏州 (3205), no GB/T 2260 code.
    (row,) = run_check(check_statistical_code, ["320571001001"])
    assert (row["value"], row["region_code"], row["warning"]) == (
        "320571001001",
        None,
        "development_zone",
    )


def test_street_code_takes_nine_digits_only(run_check):
    rows = run_check(check_street_code, ["440106001", "440106001001"])
    assert [r["reason"] for r in rows] == [None, "format"]


def test_table_has_every_province_and_sane_columns():
    table = region_table()
    assert province_codes() >= set(
        [
            "11",
            "12",
            "13",
            "14",
            "15",
            "21",
            "22",
            "23",
            "31",
            "32",
            "33",
            "34",
            "35",
            "36",
            "37",
            "41",
            "42",
            "43",
            "44",
            "45",
            "46",
            "50",
            "51",
            "52",
            "53",
            "54",
            "61",
            "62",
            "63",
            "64",
            "65",
            "71",
            "81",
            "82",
        ]
    )
    assert table["code"].is_unique().all()
    assert table["code"].str.contains(r"^[0-9]{6}$").all()
    successors = table.filter(pl.col("successor_code").is_not_null())
    # A successor must exist in the table; chains end at a current code (checked by
    # _retired_to_current), and nothing points at itself.
    assert successors["successor_code"].is_in(table["code"].implode()).all()
    assert (successors["successor_code"] != successors["code"]).all()
    assert {"440104", "440103", "440112", "440118", "440117"} <= current_region_codes()


def _load_build_script():
    spec = importlib.util.spec_from_file_location(
        "build_region_table", ROOT / "scripts" / "build_region_table.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)
    return module


def test_committed_table_is_what_the_script_builds(tmp_path):
    # The CSVs are generated: a hand edit or a newer loc.dat shows up here.
    build = _load_build_script()
    shutil.copy(DATA / "region_successors.csv", tmp_path / "region_successors.csv")
    loc_dat = (resources.files("stdnum") / "cn" / "loc.dat").read_text(encoding="utf-8")
    build.build(loc_dat, tmp_path / "region_successors.csv", tmp_path)
    for name in ("gbt2260.csv", "region_successors.csv"):
        assert (tmp_path / name).read_text(encoding="utf-8") == (DATA / name).read_text(
            encoding="utf-8"
        ), name


def test_build_script_derives_renames_and_keeps_curated_rows(tmp_path, monkeypatch):
    build = _load_build_script()
    loc_dat = "\n".join(
        [
            '44 province="广东省"',
            '  0000 county="广东省"',
            '  0100 county="广州市"',
            '  0102 county="[1983-2005]东山区"',
            '  0104 county="[1983-]越秀区"',
            '  0111 county="[1983-1986]郊区,[1987-]白云区"',
            '  0118 county="[2014-]增城区"',
            '  0183 county="[1993-2014]增城市"',
            '  0199 county="[1990-2000]某县"',
        ]
    )
    successors = tmp_path / "region_successors.csv"
    successors.write_text("code,successor_code,basis\n440102,440104,test\n", encoding="utf-8")
    with pytest.raises(ValueError, match="province-level"):
        build.build(loc_dat, successors, tmp_path)  # one province only: refuses
    monkeypatch.setattr(build, "PROVINCES", ["44"])
    build.build(loc_dat, successors, tmp_path)
    table = pl.read_csv(tmp_path / "gbt2260.csv", infer_schema=False)
    rows = {r["code"]: r for r in table.iter_rows(named=True)}
    assert rows["440111"]["name"] == "白云区" and rows["440111"]["valid_to_year"] is None
    assert rows["440111"]["valid_from_year"] == "1983"
    assert rows["440102"]["successor_code"] == "440104"  # curated
    assert rows["440183"]["successor_code"] == "440118"  # derived: same stem, same year
    assert rows["440199"]["successor_code"] is None  # nothing to rename into
    assert rows["440100"]["level"] == "prefecture" and rows["440183"]["parent_code"] == "440100"
    assert "derived" in successors.read_text(encoding="utf-8")


def test_every_reason_is_documented(run_check):
    produced = {r["reason"] for r in run_check(check_region_code, ["1", "999999", "110110"])}
    assert produced == set(REASONS)
