"""The serving process: one FastAPI app on loopback for people and programs.

- ``/`` the situation page (态势感知) and ``/api/situation/*`` its data
  (:mod:`warehouse.serve.situation_routes`);
- ``POST /api/sql`` governed SQL with token auth (:mod:`warehouse.serve.sql_routes`);
- ``/catalog``, ``/api/catalog``, ``/api/lineage/{table}`` the data catalog and lineage
  (:mod:`warehouse.serve.catalog_routes`).

``citybrain serve`` runs it with uvicorn on ``127.0.0.1:$CITYBRAIN_SERVE_PORT``. Nothing
here reaches beyond the machine: the page's scripts and styles are served from the
installed packages.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from schemas.settings import get_settings
from warehouse.serve.catalog_routes import router as catalog_router
from warehouse.serve.situation_routes import router as situation_router
from warehouse.serve.sql_routes import router as sql_router

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from schemas.settings import Settings


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    # The governed layer keeps one read-only attach per lake open between queries.
    from warehouse.governed import close_connections

    close_connections()


def static_dir() -> Path:
    """The folder of the page's own JS and CSS."""
    return Path(str(resources.files("warehouse.serve").joinpath("static")))


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app with every router; ``settings`` default to the environment's, read now."""
    app = FastAPI(
        title="citybrain",
        summary="城市数据大脑: situation page, governed SQL, catalog and lineage.",
        # Swagger UI and ReDoc load their scripts from a CDN: off, nothing may leave the machine.
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=_lifespan,
    )
    app.state.settings = settings or get_settings()
    app.state.situation_runner = None
    for router in (situation_router, sql_router, catalog_router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=static_dir()), name="static")
    return app
