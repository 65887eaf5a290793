"""The ground truth: it covers every delivered row once, its verdicts are consistent, and
the delivered text normalizes to its canonical values with the project's own checks
(schemas.codes) and the reference coordinate transforms."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import polars as pl
import pytest

from feeds.demo_city.city import load_city
from schemas.codes.citizen_id import check_citizen_id
from schemas.codes.credit_code import check_uscc
from schemas.codes.dates import parse_date
from schemas.codes.industry import check_industry_code
from schemas.codes.licence_id import check_licence_id
from schemas.codes.money import parse_money
from schemas.codes.person_codes import check_ethnicity_code, check_sex_code
from schemas.codes.phone import check_phone
from schemas.codes.region import check_region_code, check_statistical_code
from schemas.codes.text import clean_text, collapse_spaces

TABLE_FEEDS = {
    "person": ("population", "population_api"),
    "legal_entity": ("legal_entity",),
    "address_point": ("geospatial",),
    "area": ("geospatial",),
    "licence": ("licence",),
    "credit_penalty": ("credit_api",),
    "credit_permit": ("credit_api",),
    "credit_list": ("credit_api",),
}
TABLE_FILES = {
    "address_point": ".csv",
    "area": ".geojson",
    "credit_penalty": "penalties",
    "credit_permit": "permits",
    "credit_list": "lists",
}


def _delivered(city: Path, manifest: dict[str, Any], feed: str, match: str = "") -> pl.DataFrame:
    """All records of a feed's files as strings, with ``delivery`` and ``row``."""
    frames = []
    for d in (d for d in manifest["deliveries"] if d["feed"] == feed):
        if match not in d["path"] or d["rows"] == 0:
            continue
        path = city / d["path"]
        if path.suffix == ".jsonl":
            records = [
                json.loads(line)["record"] for line in path.read_text(encoding="utf-8").splitlines()
            ]
            frame = pl.DataFrame(records, infer_schema_length=None)
        elif path.suffix == ".csv":
            rows = list(
                csv.reader(io.StringIO(path.read_bytes().decode(d["encoding"]), newline=""))
            )
            header = [h.lstrip("\ufeff") for h in rows[0]]
            frame = pl.DataFrame(rows[1:], schema=header, orient="row")
        else:
            continue
        frames.append(
            frame.with_columns(
                pl.lit(d["path"].removeprefix("deliveries/")).alias("delivery"),
                pl.int_range(pl.len()).cast(pl.Int64).alias("row"),
            )
        )
    return pl.concat(frames, how="diagonal")


def test_truth_covers_every_delivered_row_exactly_once(
    files_of, truth: dict[str, pl.DataFrame], manifest: dict[str, Any]
):
    for table, feeds in TABLE_FEEDS.items():
        expected = {
            (d["path"].removeprefix("deliveries/"), i)
            for feed in feeds
            for d in files_of(manifest, feed)
            if TABLE_FILES.get(table, "") in d["path"]
            and not (table == "address_point" and d["path"].endswith(".geojson"))
            for i in range(d["rows"])
        }
        got = truth[table].select("delivery", "row")
        assert got.height == got.unique().height, table
        assert set(got.iter_rows()) == expected, table


def test_verdicts_are_consistent(truth: dict[str, pl.DataFrame], current: dict[str, pl.DataFrame]):
    for table, t in truth.items():
        assert set(t["outcome"].unique()) <= {"valid", "duplicate", "quarantine"}
        assert ((t["outcome"] == "quarantine") == (t["reasons"].list.len() > 0)).all(), table
        assert ((t["outcome"] == "duplicate") == t["duplicate_kind"].is_not_null()).all(), table
        assert current[table]["business_key"].is_duplicated().sum() == 0, table
        # The current state is made of loaded rows only.
        loaded = t.filter((pl.col("outcome") == "valid") & pl.col("delivery_complete"))
        assert set(current[table]["business_key"]) == set(loaded["business_key"]), table
    reasons = {r for t in truth.values() for r in t["reasons"].explode().drop_nulls()}
    assert reasons == {
        "id_number.checksum",
        "sex_code.mismatch_id",
        "birth_date.mismatch_id",
        "uscc.format",
        "uscc.checksum",
        "uscc.missing",
        "industry_code.section_mismatch",
        "lonlat.zero",
        "lonlat.out_of_city",
        "subject_code.checksum",
        "certificate_id.checksum",
        "holder_code.checksum",
    }
    kinds = {k for t in truth.values() for k in t["duplicate_kind"].drop_nulls()}
    assert kinds == {"repeat", "stale"}


def test_rows_of_the_unmarked_file_are_pending(
    truth: dict[str, pl.DataFrame], current: dict[str, pl.DataFrame], manifest: dict[str, Any]
):
    (unmarked,) = [
        d["path"].removeprefix("deliveries/")
        for d in manifest["deliveries"]
        if d["kind"] != "api" and not d["marker"]
    ]
    entity = truth["legal_entity"]
    assert ((entity["delivery"] == unmarked) == ~entity["delivery_complete"]).all()
    pending = entity.filter(~pl.col("delivery_complete") & (pl.col("outcome") == "valid"))
    # Their versions are not the current state: that waits for the marker.
    now = current["legal_entity"].select("business_key", "approved_date")
    assert pending.join(now, on=["business_key", "approved_date"], how="semi").height == 0


def test_population_rows_normalize_to_their_truth(
    city: Path, manifest: dict[str, Any], truth: dict[str, pl.DataFrame]
):
    raw = pl.concat(
        [_delivered(city, manifest, "population"), _delivered(city, manifest, "population_api")],
        how="diagonal",
    )
    t = truth["person"].join(raw, on=["delivery", "row"], how="inner", validate="1:1")
    assert t.height == truth["person"].height
    got = t.with_columns(
        check_citizen_id(pl.col("GMSFHM")).alias("_id"),
        parse_date(pl.col("CSRQ")).struct.field("value").alias("_birth"),
        check_sex_code(pl.col("XBDM")).struct.field("value").alias("_sex"),
        check_ethnicity_code(pl.col("MZDM")).struct.field("value").alias("_eth"),
        check_region_code(pl.col("HJDZ_XZQHDM")).struct.field("value").alias("_hukou"),
        check_statistical_code(pl.col("JZDZ_XZQHDM")).struct.field("street_code").alias("_street"),
        check_phone(pl.col("LXDH")).struct.field("value").alias("_phone"),
        collapse_spaces(clean_text(pl.col("XM"))).alias("_name"),
        clean_text(pl.col("JZDZ")).alias("_jzdz"),
    ).with_columns(
        pl.col("_id").struct.field("value").alias("_idv"),
        pl.col("_id").struct.field("reason").alias("_idr"),
        pl.col("_id").struct.field("sex_code").alias("_idsex"),
        pl.col("_id").struct.field("birth_date").alias("_idbirth"),
    )
    ok = got.filter(pl.col("outcome") != "quarantine")
    for col, want in [
        ("_idv", "id_number"),
        ("_birth", "birth_date"),
        ("_eth", "ethnicity_code"),
        ("_hukou", "hukou_region_code"),
        ("_street", "residence_street_code"),
        ("_phone", "phone"),
        ("_name", "name"),
        ("_jzdz", "residence_address"),
        ("_idsex", "sex_code"),
        ("_idbirth", "birth_date"),
    ]:
        bad = ok.filter(pl.col(col).ne_missing(pl.col(want)))
        assert bad.height == 0, (want, bad.select(col, want).head(3).rows())
    # XBDM 0/9 ("not stated") defers to the ID; otherwise it equals the truth.
    stated = ok.filter(pl.col("_sex").is_in(["1", "2"]))
    assert (stated["_sex"] == stated["sex_code"]).all()
    assert ok.filter(~pl.col("_sex").is_in(["1", "2"])).height > 0
    q = got.filter(pl.col("outcome") == "quarantine").with_columns(
        pl.col("reasons").list.first().alias("_r")
    )
    assert (q.filter(pl.col("_r") == "id_number.checksum")["_idr"] == "checksum").all()
    sex = q.filter(pl.col("_r") == "sex_code.mismatch_id")
    assert (sex["_sex"] != sex["_idsex"]).all() and sex.height > 0
    birth = q.filter(pl.col("_r") == "birth_date.mismatch_id")
    assert (birth["_birth"] != birth["_idbirth"]).all() and birth.height > 0


def test_legal_entity_rows_normalize_to_their_truth(
    city: Path, manifest: dict[str, Any], truth: dict[str, pl.DataFrame]
):
    raw = _delivered(city, manifest, "legal_entity")
    t = truth["legal_entity"].join(raw, on=["delivery", "row"], how="inner", validate="1:1")
    assert t.height == truth["legal_entity"].height
    got = t.with_columns(
        check_uscc(pl.col("统一社会信用代码")).alias("_u"),
        parse_money(pl.col("注册资本")).alias("_m"),
        check_industry_code(pl.col("行业代码")).alias("_i"),
        parse_date(pl.col("成立日期")).struct.field("value").alias("_est"),
        parse_date(pl.col("营业期限至")).alias("_to"),
        check_region_code(pl.col("住所所在行政区划")).struct.field("value").alias("_region"),
        clean_text(pl.col("企业名称")).alias("_name"),
    )
    ok = got.filter(pl.col("outcome") != "quarantine")
    checks = {
        "uscc": pl.col("_u").struct.field("value"),
        "registered_capital": pl.col("_m").struct.field("value"),
        "capital_currency": pl.col("_m").struct.field("currency"),
        "industry_code": pl.col("_i").struct.field("value"),
        "established_date": pl.col("_est"),
        "business_term_to": pl.col("_to").struct.field("value"),
        "region_code": pl.col("_region"),
        "name": pl.col("_name"),
    }
    for want, expr in checks.items():
        bad = ok.filter(expr.ne_missing(pl.col(want)))
        assert bad.height == 0, (want, bad.select(want).head(3).rows())
    q = got.filter(pl.col("outcome") == "quarantine").with_columns(
        pl.col("reasons").list.first().alias("_r")
    )
    for reason, check in (("uscc.format", "format"), ("uscc.checksum", "checksum")):
        assert (q.filter(pl.col("_r") == reason)["_u"].struct.field("reason") == check).all()
    mismatch = q.filter(pl.col("_r") == "industry_code.section_mismatch")
    assert (mismatch["_i"].struct.field("reason") == "section_mismatch").all()
    assert (q.filter(pl.col("_r") == "uscc.missing")["统一社会信用代码"] == "").all()


def test_address_points_invert_to_their_true_position(
    city: Path, manifest: dict[str, Any], truth: dict[str, pl.DataFrame], reference: ModuleType
):
    raw = _delivered(city, manifest, "geospatial", ".csv")
    t = truth["address_point"].join(raw, on=["delivery", "row"], how="inner", validate="1:1")
    districts = [d.extent for d in load_city().districts]
    checked = 0
    for r in t.iter_rows(named=True):
        x, y = float(r["经度"]), float(r["纬度"])
        if r["outcome"] == "quarantine":
            if r["reasons"] == ["lonlat.zero"]:
                assert x == y == 0
            else:  # outside every district, whichever way the numbers are read
                for a, b in ((x, y), (y, x)):
                    assert not any(w <= a <= e and s <= b <= n for w, s, e, n in districts)
            continue
        if y > 90:  # swapped: a latitude cannot be above 90
            x, y = y, x
        if r["坐标系"] == "GCJ02":
            x, y = reference.gcj02_to_wgs84(x, y)
        elif r["坐标系"] == "BD09":
            x, y = reference.gcj02_to_wgs84(*reference.bd09_to_gcj02(x, y))
        assert reference.haversine_m(x, y, r["lon"], r["lat"]) < 0.5, r
        assert r["所属区划代码"] in ("", r["street_code"], r["community_code"])
        checked += 1
    assert checked > 4_000


def test_address_points_fall_in_their_grid(
    city: Path, manifest: dict[str, Any], truth: dict[str, pl.DataFrame]
):
    areas = truth["area"].filter(pl.col("level") == "grid")
    rect = areas.select(
        pl.col("area_code").alias("grid_code"),
        pl.col("geometry_wkt").str.extract_all(r"[0-9.]+").alias("xy"),
    ).with_columns(
        pl.col("xy").list.get(0).cast(pl.Float64).alias("x0"),
        pl.col("xy").list.get(1).cast(pl.Float64).alias("y0"),
        pl.col("xy").list.get(4).cast(pl.Float64).alias("x1"),
        pl.col("xy").list.get(5).cast(pl.Float64).alias("y1"),
    )
    pts = truth["address_point"].join(rect, on="grid_code", how="left", validate="m:1")
    assert pts["x0"].null_count() == 0
    inside = pl.col("lon").is_between("x0", "x1") & pl.col("lat").is_between("y0", "y1")
    assert pts.select(inside.all()).item()


def test_licences_and_credit_subjects_validate(
    city: Path, manifest: dict[str, Any], truth: dict[str, pl.DataFrame]
):
    lic = truth["licence"]
    ok = lic.filter(pl.col("outcome") != "quarantine")
    assert ok.select(
        check_licence_id(pl.col("certificate_id")).struct.field("reason").is_null().all()
    ).item()
    assert _codes_valid(ok["holder_code"])
    for table in ("credit_penalty", "credit_permit", "credit_list"):
        t = truth[table].filter(pl.col("outcome") != "quarantine")
        assert _codes_valid(t["subject_code"]), table
    raw = _delivered(city, manifest, "credit_api", "penalties")
    pen = truth["credit_penalty"].join(raw, on=["delivery", "row"], validate="1:1")
    fk = pen.filter(pl.col("CF_NR_FK").is_not_null() & (pl.col("fine_amount") > 0))
    in_wan = fk.filter(~pl.col("dirt").list.contains("fine_in_yuan"))
    assert (in_wan["CF_NR_FK"].cast(pl.Decimal(18, 4)) * 10_000 == in_wan["fine_amount"]).all()
    in_yuan = fk.filter(pl.col("dirt").list.contains("fine_in_yuan"))
    assert (
        in_yuan.height > 0
        and (in_yuan["CF_NR_FK"].cast(pl.Decimal(18, 2)) == in_yuan["fine_amount"]).all()
    )
    assert all(
        f"罚款人民币{int(a)}元" in t for a, t in fk.select("fine_amount", "CF_NR").iter_rows()
    )


def _codes_valid(codes: pl.Series) -> bool:
    """Every code is a valid USCC or a valid citizen ID (an all-digit USCC exists, so the
    shape alone cannot tell them apart: it must pass one of the two checks)."""
    frame = codes.to_frame("c").select(
        check_uscc(pl.col("c")).struct.field("reason").is_null().alias("u"),
        check_citizen_id(pl.col("c")).struct.field("reason").is_null().alias("p"),
    )
    return frame.select((pl.col("u") | pl.col("p")).all()).item()


def test_cross_feed_links_point_at_real_subjects(
    truth: dict[str, pl.DataFrame], current: dict[str, pl.DataFrame]
):
    people = set(truth["person"]["id_number"])
    companies = set(truth["legal_entity"]["uscc"].drop_nulls())
    assert set(current["legal_entity"]["legal_rep_id_number"]) <= people
    holders = truth["licence"]
    assert set(holders.filter(pl.col("holder_code_type") == "uscc")["holder_code"]) <= companies
    assert set(holders.filter(pl.col("holder_code_type") == "citizen_id")["holder_code"]) <= people
    for table in ("credit_penalty", "credit_permit", "credit_list"):
        assert set(truth[table]["subject_code"]) <= people | companies, table
    # Predecessors of renewed licences are licences of the same holder.
    lic = truth["licence"].unique("certificate_id")
    pred = lic.filter(pl.col("predecessor_id").is_not_null()).join(
        lic.select(
            pl.col("certificate_id").alias("predecessor_id"), pl.col("holder_code").alias("h")
        ),
        on="predecessor_id",
        how="left",
    )
    assert pred.height > 0 and (pred["h"] == pred["holder_code"]).all()
    # Companies sit at standard addresses of the city.
    addresses = set(truth["address_point"]["address"])
    for address in current["legal_entity"]["address"]:
        assert any(address[:n] in addresses for n in range(len(address), 10, -1)), address


def test_clean_profile_delivers_nothing_to_repair(make_city, files_of, tmp_path: Path):
    manifest = make_city(tmp_path, profile="clean", days=3, residents=1_000)
    for folder in (tmp_path / "truth").iterdir():
        t = pl.read_parquet(folder / "rows" / "*.parquet")
        assert (t["outcome"] == "valid").all(), folder.name
        assert (t["dirt"].list.len() == 0).all(), folder.name
    assert {d["encoding"] for d in files_of(manifest, "legal_entity")} == {"gbk"}
    assert all(d["marker"] for d in manifest["deliveries"] if d["kind"] != "api")


@pytest.mark.parametrize("table", ["person", "legal_entity", "licence", "address_point"])
def test_canonical_text_is_already_clean(truth: dict[str, pl.DataFrame], table: str):
    """The truth's text is a fixed point of the pipeline's own text cleaning."""
    t = truth[table]
    for col, dtype in t.schema.items():
        if dtype == pl.String and col not in (
            "delivery",
            "business_key",
            "outcome",
            "duplicate_kind",
        ):
            assert t.select(clean_text(pl.col(col)).eq_missing(pl.col(col)).all()).item(), col
