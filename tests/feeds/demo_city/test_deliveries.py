"""Every delivery read back with ordinary tools, checked against feeds.md."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest
from shapely.geometry import Point, shape

from feeds.demo_city.city import load_city

POPULATION = [
    "GMSFHM",
    "XM",
    "XBDM",
    "CSRQ",
    "MZDM",
    "HJDZ_XZQHDM",
    "HJDZ",
    "JZDZ_XZQHDM",
    "JZDZ",
    "RKLX",
    "LXDH",
    "SWBS",
    "GXSJ",
]
ENTITY = [
    "统一社会信用代码",
    "注册号",
    "企业名称",
    "企业类型",
    "法定代表人",
    "法定代表人证件号码",
    "注册资本",
    "成立日期",
    "营业期限自",
    "营业期限至",
    "核准日期",
    "注销日期",
    "吊销日期",
    "登记机关",
    "登记状态",
    "住所",
    "住所所在行政区划",
    "行业代码",
    "经营范围",
]
ADDRESS = ["地址编码", "标准地址", "所属区划代码", "经度", "纬度", "坐标系", "地址类型", "更新时间"]
LICENCE = [
    "证照标识",
    "证照类型代码",
    "证照名称",
    "证照编号",
    "持证主体",
    "持证主体代码",
    "持证主体代码类型",
    "颁证单位",
    "颁证单位代码",
    "颁证日期",
    "有效期起始",
    "有效期截止",
    "证照状态",
    "所属区划",
    "版本号",
    "关联证照标识",
]
LIST_FIELDS = {
    "subject_name",
    "subject_code",
    "list_type",
    "listing_authority",
    "basis_doc",
    "listed_at",
    "expires_at",
    "removed_at",
}
NAMES = {
    "population": r"gaj_rk_full_\d{8}\.csv",
    "legal_entity": r"scjg_sczt_(full_\d{6}|\d{8})\.csv",
    "geospatial": r"(boundaries_\d{8}\.geojson|address_\d{8}\.csv)",
    "licence": r"dzzz_\d{6}(_\d+)?\.xlsx",
    "population_api": r"persons\.jsonl",
    "credit_api": r"(penalties|permits|lists)\.jsonl",
    "credit": r"authorities\.csv",  # the credit office's directory of authorities
}


def _csv(path: Path, encoding: str) -> list[list[str]]:
    # Python's codecs, not DuckDB (DESIGN.md traps): decode first, then parse.
    text = path.read_bytes().decode(encoding)
    return list(csv.reader(io.StringIO(text, newline="")))


def test_manifest_lists_every_delivery_file_with_its_hash(city: Path, manifest: dict[str, Any]):
    listed = {d["path"] for d in manifest["deliveries"]}
    on_disk = {
        str(p.relative_to(city))
        for p in (city / "deliveries").rglob("*")
        if p.is_file() and p.suffix != ".ok"
    }
    assert listed == on_disk
    for d in manifest["deliveries"]:
        assert hashlib.sha256((city / d["path"]).read_bytes()).hexdigest() == d["sha256"]
        assert re.fullmatch(NAMES[d["feed"]], Path(d["path"]).name), d["path"]
    assert manifest["params"]["seed"] == 7 and manifest["params"]["residents"] == 3_000
    # Nothing under truth/ looks like a delivery.
    assert {p.suffix for p in (city / "truth").rglob("*") if p.is_file()} == {".parquet"}


def test_markers_mark_every_complete_file_and_one_is_still_being_written(
    files_of, city: Path, manifest: dict[str, Any]
):
    drops = [d for d in manifest["deliveries"] if d["kind"] != "api"]
    for d in drops:
        assert (city / (d["path"] + ".ok")).exists() == d["marker"]
    unmarked = [d["path"] for d in drops if not d["marker"]]
    daily = sorted(d["path"] for d in files_of(manifest, "legal_entity") if "full" not in d["path"])
    assert unmarked == [daily[-1]]
    assert not any(
        (city / "deliveries" / d).with_suffix(".jsonl.ok").exists()
        for d in ("population_api/persons", "credit_api/penalties")
    )


def test_population_full_export_is_utf8_with_the_contract_header(
    files_of, city: Path, manifest: dict[str, Any]
):
    (full,) = files_of(manifest, "population")
    rows = _csv(city / full["path"], "utf-8")
    assert rows[0] == POPULATION
    assert len(rows) - 1 == full["rows"] > 2_900
    assert all(len(r) == len(POPULATION) for r in rows)
    gxsj = [r[-1] for r in rows[1:]]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", g) for g in gxsj)
    # The dirt the contract lists is there: lowercase x, full-width digits, 15-digit IDs, 男/女.
    ids = [r[0] for r in rows[1:]]
    assert any(i.endswith("x") for i in ids)
    assert any(len(i) == 15 for i in ids)
    assert any(re.search("[０-９]", i) for i in ids)
    assert {r[2] for r in rows[1:]} >= {"1", "2", "男", "女"}


def test_api_files_hold_sorted_updated_at_record_lines(
    files_of, city: Path, manifest: dict[str, Any]
):
    for d in files_of(manifest, "population_api") + files_of(manifest, "credit_api"):
        lines = (city / d["path"]).read_text(encoding="utf-8").splitlines()
        assert len(lines) == d["rows"] > 0
        parsed = [json.loads(line) for line in lines]
        assert all(set(p) == {"updated_at", "record"} for p in parsed)
        stamps = [p["updated_at"] for p in parsed]
        assert stamps == sorted(stamps)
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", s) for s in stamps)
        records = [p["record"] for p in parsed]
        assert all(isinstance(v, str | None) for r in records for v in r.values())
        name = Path(d["path"]).stem
        if name == "persons":
            assert all(list(r) == POPULATION for r in records)
        elif name == "penalties":
            # Both generations of field names (standards.md §6.1/§6.2).
            kinds = {("CF_CFJGDM" in r, "CF_AJMC" in r) for r in records}
            assert kinds == {(True, False), (False, True)}
        elif name == "permits":
            kinds = {("XK_XKJGDM" in r, "XK_XMMC" in r) for r in records}
            assert kinds == {(True, False), (False, True)}
        else:
            assert all(set(r) == LIST_FIELDS for r in records)


def test_legal_entity_files_decode_in_their_encoding_with_crlf(
    files_of, city: Path, manifest: dict[str, Any]
):
    files = files_of(manifest, "legal_entity")
    assert {d["encoding"] for d in files} <= {"gbk", "gb18030", "utf-8-sig"}
    assert len({d["encoding"] for d in files}) >= 2  # two months, two exchange settings
    for d in files:
        raw = (city / d["path"]).read_bytes()
        assert raw.startswith(codecs.BOM_UTF8) == (d["encoding"] == "utf-8-sig")
        rows = _csv(city / d["path"], d["encoding"])
        assert rows[0][-len(ENTITY) :] == ENTITY and rows[0][0].lstrip("\ufeff") == ENTITY[0]
        assert len(rows) - 1 == d["rows"]
        assert raw.count(b"\r\n") == raw.count(b"\n")
        if d["encoding"] != "utf-8-sig" and d["rows"]:
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")


def test_legal_entity_values_carry_the_contracts_spellings(
    files_of, city: Path, manifest: dict[str, Any]
):
    rows = []
    for d in files_of(manifest, "legal_entity"):
        rows += _csv(city / d["path"], d["encoding"])[1:]
    capital = {r[6] for r in rows}
    assert any(c.endswith("万元人民币") for c in capital) and any(
        re.fullmatch(r"\d+(\.\d+)?", c) for c in capital
    )
    assert any(c.endswith("万美元") or c.endswith("美元") for c in capital)
    assert "长期" in {r[9] for r in rows}
    assert any(re.fullmatch(r"\d{4}", r[17]) for r in rows)  # section letter missing
    assert any(r[0] and r[0] != r[0].upper() for r in rows)  # lowercase USCC
    assert any(r[0] == "" and len(r[1]) == 15 for r in rows)  # 注册号 only
    statuses = {r[14] for r in rows}
    assert {"存续（在营、开业、在册）", "注销"} <= statuses


def test_boundaries_are_a_feature_collection_that_nests(
    files_of, city: Path, manifest: dict[str, Any]
):
    (geo,) = [d for d in files_of(manifest, "geospatial") if d["path"].endswith(".geojson")]
    doc = json.loads((city / geo["path"]).read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == geo["rows"]
    areas = {}
    for f in doc["features"]:
        assert set(f["properties"]) == {"code", "name", "level", "parent_code"}
        areas[f["properties"]["code"]] = (f["properties"], shape(f["geometry"]))
    by_level: dict[str, int] = {}
    for props, geom in areas.values():
        by_level[props["level"]] = by_level.get(props["level"], 0) + 1
        assert geom.is_valid and geom.area > 0
        if props["level"] in ("street", "grid"):
            parent_props, parent = areas[props["parent_code"]]
            expected = "district" if props["level"] == "street" else "street"
            assert parent_props["level"] == expected
            assert geom.within(parent), props["code"]
    assert by_level["district"] == 11 and by_level["street"] > 100 and by_level["grid"] > 1_000
    for d in load_city().districts:
        assert areas[d.code][1].contains(Point(*d.centre))


def test_address_files_have_every_coordinate_system(files_of, city: Path, manifest: dict[str, Any]):
    files = [d for d in files_of(manifest, "geospatial") if d["path"].endswith(".csv")]
    rows = []
    for d in files:
        got = _csv(city / d["path"], "utf-8")
        assert got[0] == ADDRESS and len(got) - 1 == d["rows"]
        rows += got[1:]
    assert {r[5] for r in rows} == {"WGS84", "CGCS2000", "GCJ02", "BD09"}
    assert {r[6] for r in rows} <= {"住宅", "商业", "公共设施", "工业"}
    assert {len(r[2]) for r in rows} == {0, 9, 12}
    assert any(r[3] == "0" for r in rows) and any(
        float(r[3]) < 90 and float(r[4]) > 90 for r in rows if r[3] != "0"
    )


def _xlsx_rows(path: Path) -> list[tuple]:
    wb = openpyxl.load_workbook(path, read_only=True)
    assert wb.sheetnames == ["证照信息"]
    rows = list(wb["证照信息"].iter_rows(values_only=True))
    wb.close()
    return rows


def test_licence_workbooks_read_with_openpyxl_and_fastexcel(
    files_of, city: Path, manifest: dict[str, Any]
):
    files = files_of(manifest, "licence")
    assert len(files) == 2
    titled = 0
    for d in files:
        rows = _xlsx_rows(city / d["path"])
        header_at = next(i for i, r in enumerate(rows) if r[0] == "证照标识")
        titled += header_at == 1
        assert header_at in (0, 1) and list(rows[header_at]) == LICENCE
        assert len(rows) - header_at - 1 == d["rows"]
        cells = [c for r in rows[header_at + 1 :] for c in r]
        assert any(isinstance(c, int) and 10_000 < c < 80_000 for c in cells)  # Excel serials
        # fastexcel (calamine) reads the same sheet, title row or not.
        frame = pl.read_excel(
            city / d["path"],
            sheet_name="证照信息",
            engine="calamine",
            read_options={"header_row": header_at},
            infer_schema_length=0,
        )
        assert frame.columns == LICENCE and frame.height == d["rows"]
    assert titled == 1  # seed 7: one month with a title row, one without
