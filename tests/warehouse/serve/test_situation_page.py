"""The situation page in a real headless Chromium (Debian's ``chromium``), driven by Playwright.

The app runs with uvicorn on a free loopback port over a real lake with marts; the browser
starts from a fresh profile with background networking off, and every request it makes is
recorded: none may leave loopback. What the page shows is compared with the marts.

Chromium comes from ``scripts/ensure_system_packages.sh`` (run by ``make test`` and CI);
Playwright never downloads a browser here. Without Chromium this test fails and says how to
install it, unless ``CITYBRAIN_SKIP_BROWSER=1``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import polars as pl
import pytest

from tests.support import CHROMIUM_FLAGS, find_chromium
from tests.warehouse.serve.conftest import (
    LAKE_GROUP,
    busiest_district,
    expected_tiles,
    rows_where,
    running,
    scoped,
)
from warehouse.serve.app import create_app
from warehouse.serve.situation import add_months

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Page

    from schemas.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.integration, LAKE_GROUP]

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
TILES = (
    "population",
    "registered",
    "floating",
    "active_entities",
    "valid_licences",
    "expiring_30d",
    "penalties_month",
    "fines_month_yuan",
    "open_alerts",
)
NO_DATA = "#eceff3"
RAMP = ["#deebf7", "#b3d1ea", "#7fb0d8", "#4a89c0", "#1f5f99", "#0b3c6b"]


@pytest.fixture(scope="module")
def chromium() -> Path:
    return find_chromium()


class Browser:
    """One page in a fresh Chromium profile, with its requests and console recorded."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.context.on("request", lambda r: self.requests.append(r.url))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))


@pytest.fixture(scope="module")
def browser(chromium: Path, situation_settings: Settings, tmp_path_factory) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with running(create_app(situation_settings)) as url, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(chromium),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
            locale="zh-CN",
        )
        try:
            page = context.new_page()
            recorder = Browser(page)
            page.goto(url + "/")
            page.wait_for_selector("body[data-state=ready]", timeout=30_000)
            page.wait_for_selector("body[data-health=ready]", timeout=30_000)
            recorder.base = url  # type: ignore[attr-defined]
            yield recorder
        finally:
            context.close()


def tiles_shown(page: Page) -> dict[str, float]:
    values = page.eval_on_selector_all(
        "#tiles .tile", "tiles => tiles.map(t => [t.dataset.tile, t.dataset.value])"
    )
    return {key: float(value) for key, value in values}


def chart_data(page: Page, chart: str) -> list[dict[str, Any]]:
    return page.eval_on_selector(
        f"#chart-{chart}", "div => div.data.map(t => ({name: t.name, x: t.x, y: t.y}))"
    )


def wait_for_filter(page: Page, text: str) -> None:
    page.wait_for_selector(f"body[data-state=ready][data-filter*='{text}']", timeout=30_000)


def month_range(page: Page) -> tuple[date, date]:
    first = page.input_value("#month-from")
    last = page.input_value("#month-to")
    return date.fromisoformat(first + "-01"), date.fromisoformat(last + "-01")


def test_the_page_renders_the_marts_and_a_district_filter_changes_it(
    browser: Browser, marts: dict[str, pl.DataFrame], district_areas: dict[str, str]
) -> None:
    page = browser.page
    first, last = month_range(page)
    assert last == marts["population_monthly"]["month"].max()
    assert first == add_months(last, -11)

    # The map: one shape per district polygon, coloured by its residents in the marts.
    districts = rows_where(marts["population_by_area"], area_level="district")
    totals = dict(zip(districts["area_code"], districts["total"], strict=True))
    shapes = page.eval_on_selector_all(
        "#map path.district",
        "ps => ps.map(p => [p.dataset.code, p.dataset.value, p.getAttribute('fill'),"
        " p.getBBox().width * p.getBBox().height])",
    )
    assert sorted(code for code, *_ in shapes) == sorted(district_areas)
    assert {code: int(value) for code, value, *_ in shapes if value} == totals
    assert all(area > 0 for *_, area in shapes)
    with_data = sorted((s for s in shapes if s[1]), key=lambda s: int(s[1]))
    assert all(fill in RAMP for _, _, fill, _ in with_data)
    assert with_data[0][2] == RAMP[0] and with_data[-1][2] == RAMP[-1]
    assert all(fill == NO_DATA for _, value, fill, _ in shapes if not value)

    # The tiles: what the marts hold for the city.
    city = expected_tiles(marts, None, first, last)
    assert tiles_shown(page) == pytest.approx({k: city[k] for k in TILES})

    # The charts: drawn, with the monthly marts' figures as their points.
    population = chart_data(page, "population")
    monthly = (
        marts["population_monthly"]
        .filter(pl.col("month").is_between(first, last))
        .group_by("month")
        .agg(pl.col("total").sum())
        .sort("month")
    )
    assert population[0]["y"] == monthly["total"].to_list()
    assert len(population[0]["x"]) == 12
    for chart in ("population", "registrations", "penalties", "quality"):
        drawn = page.locator(
            f"#chart-{chart} .scatterlayer .trace, #chart-{chart} .barlayer .trace"
        )
        assert drawn.count() > 0, f"chart {chart} drew no trace"
    assert page.locator("#chart-population .scatterlayer .points path").count() >= 12
    registrations = chart_data(page, "registrations")
    assert sum(registrations[0]["y"]) == (
        marts["entity_registrations_monthly"]
        .filter(pl.col("month").is_between(first, last))["registrations"]
        .sum()
    )

    # The alert list, people masked as the public role sees them; the side panels.
    alerts = page.locator("#alerts tbody tr[data-district]")
    assert alerts.count() == min(200, marts["alerts"].height) > 0
    person = rows_where(marts["alerts"], related_id="TEST-CERTIFICATE-1").row(0, named=True)
    row = page.locator("#alerts tbody tr", has_text="测试：已故人员仍持有效证照")
    shown_code, shown_name = (
        row.locator("td.code").inner_text(),
        row.locator("td.subject").inner_text(),
    )
    assert shown_code != person["subject_code"] and "*" in shown_code
    assert shown_code[:6] == person["subject_code"][:6]
    assert shown_name != person["subject_name"] and "*" in shown_name
    assert page.locator("#freshness tbody tr").count() == marts["feed_freshness"].height
    assert (
        page.locator("#quality .dept").count()
        == marts["quality_scorecard"]["department"].n_unique()
    )

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "situation.png"), full_page=True)

    # Clicking a district filters tiles, charts and lists to it.
    district = busiest_district(marts)
    page.click(f"#map path.district[data-code='{district}']")
    wait_for_filter(page, district)
    assert page.input_value("#district") == district
    assert page.get_attribute(f"#map path[data-code='{district}']", "class") == "district selected"
    chosen = expected_tiles(marts, district, first, last)
    assert tiles_shown(page) == pytest.approx({k: chosen[k] for k in TILES})
    assert chosen["population"] < city["population"]
    district_monthly = (
        scoped(marts["population_monthly"], district)
        .filter(pl.col("month").is_between(first, last))
        .sort("month")
    )
    assert chart_data(page, "population")[0]["y"] == district_monthly["total"].to_list()
    rows = page.eval_on_selector_all(
        "#alerts tbody tr[data-district]", "rs => rs.map(r => r.dataset.district)"
    )
    assert set(rows) <= {district}
    assert len(rows) == rows_where(marts["alerts"], district_code=district).height
    page.screenshot(path=str(ARTIFACTS / "situation-district.png"), full_page=True)

    # The select does the same; a one-month range narrows the charts to one point.
    other = sorted(set(totals) - {district})[0]
    page.select_option("#district", other)
    wait_for_filter(page, other)
    assert tiles_shown(page)["population"] == totals[other]
    page.fill("#month-from", f"{last:%Y-%m}")
    page.dispatch_event("#month-from", "change")
    wait_for_filter(page, f'"from":"{last:%Y-%m}"')
    assert chart_data(page, "population")[0]["x"] == [last.isoformat()]

    assert browser.errors == []
    base = urlsplit(browser.base)  # type: ignore[attr-defined]
    elsewhere = [
        u
        for u in browser.requests
        if not u.startswith(("data:", "blob:")) and urlsplit(u).netloc != base.netloc
    ]
    assert elsewhere == [], "requests left loopback"
    assert any(u.endswith("/vendor/plotly.min.js") for u in browser.requests)
