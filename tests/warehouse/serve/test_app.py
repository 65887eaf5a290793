"""The serving process: its routes and ``citybrain serve`` on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.support import free_port
from tests.warehouse.serve.conftest import running
from warehouse.serve.app import create_app

if TYPE_CHECKING:
    from schemas.settings import Settings


def test_the_app_serves_the_page_governed_sql_and_the_catalog(settings: Settings) -> None:
    paths = {route.path for route in create_app(settings).routes}
    assert {"/", "/api/situation/tiles", "/api/situation/map", "/vendor/plotly.min.js"} <= paths
    assert "/api/sql" in paths, "warehouse.serve.sql_routes is not included"
    assert {"/catalog", "/api/catalog"} <= paths, "warehouse.serve.catalog_routes is not included"


def test_no_route_loads_a_cdn_page(settings: Settings) -> None:
    # FastAPI's /docs and /redoc pull their scripts from a CDN: they must stay off.
    paths = {route.path for route in create_app(settings).routes}
    assert not paths & {"/docs", "/redoc", "/api/docs"}


def test_without_a_lake_the_page_says_what_to_run(settings: Settings) -> None:
    with running(create_app(settings)) as url:
        response = httpx.get(f"{url}/api/situation/tiles")
    assert response.status_code == 503
    assert "citybrain lake init" in response.json()["detail"]


@pytest.mark.integration
def test_citybrain_serve_answers_on_loopback(settings: Settings) -> None:
    port = free_port()
    env = {**os.environ, "CITYBRAIN_HOME": str(settings.home), "CITYBRAIN_SERVE_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "citybrain.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert page.status_code == 200
        assert "态势感知" in page.text
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=15)
    assert f"http://127.0.0.1:{port}/" in output
