"""The situation page's JSON endpoints, without a browser, over the real governed layer.

Each answer is compared with the marts read straight from the lake and aggregated here in
Polars (not by the page's SQL), for the whole city and for one district.
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING, Any

import httpx
import polars as pl
import pytest

from tests.warehouse.serve.conftest import (
    LAKE_GROUP,
    busiest_district,
    expected_tiles,
    rows_where,
    running,
    scoped,
)
from warehouse.serve.app import create_app

if TYPE_CHECKING:
    from collections.abc import Iterator

    from schemas.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.integration, LAKE_GROUP]


@pytest.fixture(scope="module")
def client(situation_settings: Settings) -> Iterator[httpx.Client]:
    # Real HTTP on loopback: uvicorn serving the app, as `citybrain serve` does.
    with running(create_app(situation_settings)) as url, httpx.Client(base_url=url) as client:
        yield client


def _get(client: httpx.Client, path: str, **params: Any) -> Any:
    response = client.get(path, params={k: v for k, v in params.items() if v is not None})
    assert response.status_code == 200, response.text
    return response.json()


def _months(client: httpx.Client) -> tuple[date, date]:
    months = _get(client, "/api/situation/months")
    return date.fromisoformat(months["default_from"]), date.fromisoformat(months["default_to"])


def test_the_default_range_is_the_last_year_of_the_marts(client, marts) -> None:
    months = _get(client, "/api/situation/months")
    last = marts["population_monthly"]["month"].max()
    assert months["default_to"] == last.isoformat()
    first = date.fromisoformat(months["default_from"])
    assert (last.year - first.year) * 12 + last.month - first.month == 11


@pytest.mark.parametrize("scope", ["city", "district"])
def test_tiles_hold_what_the_marts_hold(client, marts, scope) -> None:
    district = busiest_district(marts) if scope == "district" else None
    first, last = _months(client)
    body = _get(
        client,
        "/api/situation/tiles",
        district=district,
        **{"from": f"{first:%Y-%m}", "to": f"{last:%Y-%m}"},
    )
    assert body["filter"] == {"district": district, "from": f"{first:%Y-%m}", "to": f"{last:%Y-%m}"}
    expected = expected_tiles(marts, district, first, last)
    assert body["tiles"] == pytest.approx(expected)
    assert body["tiles"]["population"] > 0


def test_a_district_changes_the_tiles(client, marts) -> None:
    city = _get(client, "/api/situation/tiles")["tiles"]
    district = _get(client, "/api/situation/tiles", district=busiest_district(marts))["tiles"]
    assert 0 < district["population"] < city["population"]
    assert district["active_entities"] <= city["active_entities"]


def test_trends_are_the_monthly_marts_summed_over_the_scope(client, marts) -> None:
    district = busiest_district(marts)
    first, last = _months(client)
    body = _get(client, "/api/situation/trends", district=district)
    population = (
        scoped(marts["population_monthly"], district)
        .filter(pl.col("month").is_between(first, last))
        .group_by("month")
        .agg(pl.col("total").sum())
        .sort("month")
    )
    assert [(r["month"], r["total"]) for r in body["population"]] == [
        (m.isoformat(), t) for m, t in population.iter_rows()
    ]
    assert len(body["population"]) == 12
    registrations = scoped(marts["entity_registrations_monthly"], district).filter(
        pl.col("month").is_between(first, last)
    )
    assert (
        sum(r["registrations"] for r in body["registrations"])
        == registrations["registrations"].sum()
    )
    penalties = scoped(marts["penalties_monthly"], district).filter(
        pl.col("month").is_between(first, last)
    )
    assert sum(r["penalties"] for r in body["penalties"]) == penalties["penalties"].sum()


def test_a_narrower_month_range_narrows_the_trends(client) -> None:
    _, last = _months(client)
    body = _get(client, "/api/situation/trends", **{"from": f"{last:%Y-%m}", "to": f"{last:%Y-%m}"})
    assert [r["month"] for r in body["population"]] == [last.isoformat()]
    assert all(r["month"] == last.isoformat() for r in body["penalties"])


def test_alerts_are_masked_as_the_public_role_sees_them(client, marts) -> None:
    body = _get(client, "/api/situation/alerts")
    raw = marts["alerts"]
    assert body["total"] == raw.height > 0
    assert sum(c["alerts"] for c in body["counts"]) == raw.height
    people = rows_where(raw, subject_kind="person")
    raw_codes = set(people["subject_code"].to_list())
    raw_names = {n for n in people["subject_name"].to_list() if n}
    # The demo city has deceased licence holders and legal representatives: people.
    assert people.height > 0
    shown = [a for a in body["items"] if a["subject_kind"] == "person"]
    assert raw.height <= len(body["items"]) and len(shown) == people.height
    for alert in shown:
        assert alert["subject_code"] not in raw_codes
        assert alert["subject_name"] not in raw_names
        assert re.fullmatch(r"\d{6}\*+[0-9X*]{0,4}", alert["subject_code"]), alert["subject_code"]
        assert alert["subject_name"] is None or "*" in alert["subject_name"]


def test_alerts_follow_the_district(client, marts) -> None:
    district = busiest_district(marts)
    body = _get(client, "/api/situation/alerts", district=district)
    assert body["total"] == rows_where(marts["alerts"], district_code=district).height
    assert {a["district_code"] for a in body["items"]} <= {district}


def test_freshness_and_quality_cover_every_feed(client, marts) -> None:
    feeds = _get(client, "/api/situation/freshness")["feeds"]
    assert [f["feed"] for f in feeds] == sorted(marts["feed_freshness"]["feed"].to_list())
    quality = _get(client, "/api/situation/quality")
    scored = set(marts["quality_scorecard"]["feed"].to_list())
    assert {f["feed"] for d in quality["latest"] for f in d["feeds"]} == scored
    assert all(0 <= d["overall"] <= 100 for d in quality["latest"])
    assert {r["batch_id"] for r in quality["trend"]} == set(
        marts["quality_scorecard"]["batch_id"].to_list()
    )


def test_the_map_has_every_district_with_its_residents(client, marts, district_areas) -> None:
    body = _get(client, "/api/situation/map")
    districts = rows_where(marts["population_by_area"], area_level="district")
    values = dict(zip(districts["area_code"], districts["total"], strict=True))
    got = {f["properties"]["district_code"]: f["properties"]["total"] for f in body["features"]}
    # Every polygon is drawn; one with no residents in the marts has no value (grey).
    assert got == {code: values.get(code) for code in district_areas}
    assert {f["properties"]["area_name"] for f in body["features"]} == set(district_areas.values())
    assert all(f["geometry"]["type"] in {"Polygon", "MultiPolygon"} for f in body["features"])


def test_the_page_reads_through_the_governed_layer_and_is_audited(
    client, situation_settings
) -> None:
    from warehouse.lake import attach

    _get(client, "/api/situation/tiles")
    con = attach(situation_settings, read_only=True)
    try:
        audited = con.execute(
            "SELECT role, count(*) FROM lake.meta.query_audit "
            "WHERE principal = 'situation-page' AND allowed GROUP BY role"
        ).fetchall()
    finally:
        con.close()
    assert dict(audited).keys() == {"public"}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"district": "44010"}, "expected a 6-digit district code"),
        ({"district": "440106' OR 1=1 --", "from": "2026-01", "to": "2026-02"}, "6-digit"),
        ({"from": "2026-13", "to": "2026-12"}, "expected YYYY-MM"),
        ({"from": "2026-06", "to": "2026-01"}, "reversed"),
    ],
)
def test_a_bad_filter_is_refused_with_what_to_send(client, params, message) -> None:
    response = client.get("/api/situation/tiles", params=params)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_the_page_and_its_scripts_come_from_this_server(client) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "态势感知" in page.text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith(("/", "data:")) for s in sources), sources
    plotly = client.get("/vendor/plotly.min.js")
    assert plotly.status_code == 200 and len(plotly.content) > 1_000_000
    for asset in ("/static/situation.js", "/static/situation.css"):
        assert client.get(asset).status_code == 200
