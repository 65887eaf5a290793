"""The catalog over real HTTP on loopback: the page and the JSON, from a lake with lineage."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
import polars as pl
import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from citybrain.lineage import record_lineage
from schemas.generate import polars_schema
from schemas.records import TABLES, table
from schemas.settings import Settings
from tests.support import serving
from warehouse.frames import insert_frame
from warehouse.lake import attach, init_lake
from warehouse.lineage import Catalog, Edge, LakeState, build_catalog, lineage_tree
from warehouse.retry import transaction
from warehouse.serve import catalog_routes

if TYPE_CHECKING:
    from collections.abc import Iterator


# One lake for the HTTP tests: creating every table and recording lineage takes ~8 s.
SLOW = pytest.mark.slow
STATIC = catalog_routes.__file__.rsplit("/", 1)[0] + "/static"


def _insert(settings: Settings, name: str, rows: list[dict]) -> None:
    model = table(name)
    con = attach(settings)
    try:
        with transaction(con):
            insert_frame(con, model, pl.DataFrame(rows, schema=polars_schema(model)))
    finally:
        con.close()


def _batch(feed: str, finished_at: datetime) -> dict:
    return {
        "batch_id": f"{feed}-1",
        "feed": feed,
        "source": "test",
        "rows_in": 1,
        "rows_loaded": 1,
        "rows_quarantined": 0,
        "rows_duplicate": 0,
        "status": "loaded",
        "started_at": finished_at,
        "finished_at": finished_at,
        "message": None,
    }


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A lake with lineage recorded, population loaded 2 h ago and licence 60 days ago."""
    with pytest.MonkeyPatch.context() as env:
        for key in list(os.environ):
            if key.startswith("CITYBRAIN_"):
                env.delenv(key)
        # The app hands these to the router: nothing read from the environment later.
        settings = Settings(home=tmp_path_factory.mktemp("catalog") / "home")
    init_lake(settings)
    record_lineage(settings)
    now = datetime.now(UTC).replace(tzinfo=None)
    _insert(
        settings,
        "meta.batches",
        [
            _batch("population", now - timedelta(hours=2)),
            _batch("licence", now - timedelta(days=60)),
        ],
    )
    _insert(
        settings,
        "meta.feed_slas",
        [
            {
                "feed": feed,
                "department": "x",
                "schedule": "0 2 * * *",
                "freshness_sla_hours": hours,
                "updated_at": now,
            }
            for feed, hours in (("population", 30.0), ("licence", 840.0))
        ],
    )
    return settings


@pytest.fixture(scope="module")
def base_url(lake: Settings) -> Iterator[str]:
    app = FastAPI()
    app.state.settings = lake
    app.include_router(catalog_routes.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    with serving(app, lifespan=False) as url:
        yield url


@SLOW
def test_catalog_json_lists_every_table_with_governance_and_freshness(base_url: str) -> None:
    body = httpx.get(f"{base_url}/api/catalog", timeout=30).json()
    result = Catalog.model_validate(body)
    assert [t.name for t in result.tables] == [m.__table__ for m in TABLES]
    person = next(t for t in result.tables if t.name == "core.person")
    assert (person.label, person.owner, person.feeds) == (
        "人口基础信息",
        "市公安局",
        ("population",),
    )
    id_number = next(c for c in person.columns if c.name == "id_number")
    assert (id_number.pi, id_number.masking, id_number.open_level) == (
        "sensitive_pi",
        "id_number",
        "not_open",
    )
    assert person.is_stale is False
    licence = next(t for t in result.tables if t.name == "core.licence")
    assert licence.is_stale is True  # 60 days against 35
    # A mart is as fresh as the feeds behind it.
    alerts = next(t for t in result.tables if t.name == "mart.alerts")
    assert {"population", "licence"} <= set(alerts.feeds)
    assert alerts.is_stale is True
    # Through core.person_history back to core.person and its feed.
    monthly = next(t for t in result.tables if t.name == "mart.population_monthly")
    assert monthly.feeds == ("population",)
    feeds = {f.feed: f for f in result.feeds}
    assert feeds["population"].freshness_sla_hours == 30.0
    assert 1.9 < feeds["population"].lag_hours < 2.5


@SLOW
def test_lineage_json_goes_from_mart_column_to_department_field(base_url: str) -> None:
    response = httpx.get(f"{base_url}/api/lineage/mart.population_by_area", timeout=30)
    assert response.status_code == 200
    body = response.json()
    assert body["recorded_at"] is not None
    total = next(c for c in body["columns"] if c["column"] == "total")
    person = next(s for s in total["sources"] if s["table"] == "core.person")
    fields = [s for s in person["sources"] if s["kind"] == "feed_field"]
    assert [(f["column"], f["department"], f["feed"]) for f in fields] == [
        ("GMSFHM", "市公安局", "population")
    ]
    missing = httpx.get(f"{base_url}/api/lineage/core.nope", timeout=30)
    assert missing.status_code == 404
    assert "known tables" in missing.json()["detail"]


@SLOW
def test_catalog_page_renders_tables_columns_freshness_and_lineage(base_url: str) -> None:
    response = httpx.get(f"{base_url}/catalog", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    for model in TABLES:
        assert f'id="t-{model.__table__}"' in page
        assert model.__label__ in page
    assert 'id="c-mart.population_by_area.total"' in page
    assert "<code>GMSFHM</code>" in page  # lineage down to the bureau's field name
    assert "CF_XDR" in page  # the older credit generation too
    assert "过期 stale" in page and "及时 fresh" in page
    assert "http://" not in page.replace(base_url, "") and "https://" not in page  # no CDN
    for asset in ("/static/catalog.js", "/static/catalog.css"):
        assert asset in page
        assert httpx.get(f"{base_url}{asset}", timeout=30).status_code == 200


def test_the_page_of_an_empty_home_explains_itself(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bare router (no app state) reads the settings from the environment at request time.
    app = FastAPI()
    app.include_router(catalog_routes.router)
    with serving(app, lifespan=False) as url:
        page = httpx.get(f"{url}/catalog", timeout=30).text
        lineage = httpx.get(f"{url}/api/lineage/mart.alerts", timeout=30).json()
    assert "citybrain lake init" in page
    assert lineage["notes"] and all(c["sources"] == [] for c in lineage["columns"])
    assert not settings.home.exists()


def test_the_page_escapes_what_it_shows() -> None:
    edges = (
        Edge(
            "mart.alerts", "detail", "core_column", "name", "core.person", transform="'<script>x'"
        ),
    )
    state = LakeState(found=True, edges=edges)
    page = catalog_routes.render_page(
        build_catalog(TABLES, state), {"mart.alerts": lineage_tree("mart.alerts", edges)}
    )
    assert "<script>x" not in page
    assert "&#x27;&lt;script&gt;x&#x27;" in page


def test_the_app_serves_the_catalog() -> None:
    app_module = pytest.importorskip("warehouse.serve.app")
    paths = {getattr(r, "path", None) for r in app_module.create_app().routes}
    assert {"/catalog", "/api/catalog", "/api/lineage/{table}"} <= paths
