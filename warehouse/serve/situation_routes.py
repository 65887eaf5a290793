"""The situation page (态势感知) over HTTP: the page at ``/`` and its JSON under ``/api/situation``.

The page is one HTML file with its own JS and CSS (``templates/``, ``static/``) and Plotly
served from the installed ``plotly`` wheel, so it works on a network with no way out: no
CDN, no map tiles, no web fonts. The map is drawn by the page's own SVG code from the
district polygons (Plotly's ``geo`` traces would fetch world topojson from a CDN).

Every JSON endpoint reads the marts through the governed layer as role ``public``
(:mod:`warehouse.serve.situation`). Filters come as query parameters:
``district`` (6-digit code, empty = city), ``from`` and ``to`` (``YYYY-MM``); without
months the marts' last year is used.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import ValidationError

from schemas.errors import LakeError, QueryRefused
from warehouse.serve import situation
from warehouse.serve.situation import SituationError, SituationFilter

if TYPE_CHECKING:
    from pathlib import Path

    from schemas.settings import Settings
    from warehouse.serve.situation import Runner

router = APIRouter()


@cache
def plotly_js() -> Path:
    """``plotly.min.js`` as shipped in the ``plotly`` wheel's package data."""
    from pathlib import Path

    path = Path(str(resources.files("plotly").joinpath("package_data", "plotly.min.js")))
    if not path.is_file():
        msg = (
            f"plotly.min.js is not at {path}: the situation page serves it from the plotly "
            "package; reinstall the environment (`uv sync --locked`)"
        )
        raise SituationError(msg)
    return path


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _runner(request: Request) -> Runner:
    # One runner per app: the governed principal is built once, queries share nothing else.
    state = request.app.state
    if getattr(state, "situation_runner", None) is None:
        state.situation_runner = situation.governed_runner(state.settings)
    return state.situation_runner


def _unavailable(exc: Exception) -> HTTPException:
    return HTTPException(status_code=503, detail=str(exc))


def _answer(work: Any) -> Any:
    # Turn the lake's and the policy's refusals into answers the page can show.
    try:
        return work()
    except (LakeError, SituationError) as exc:
        raise _unavailable(exc) from exc
    except QueryRefused as exc:
        hint = (
            " The page reads mart.* only: check the public role's tables in the roles file."
            if exc.reason.startswith("table.")
            else ""
        )
        msg = (
            f"the governed layer refused a situation query for role {situation.PAGE_ROLE!r} "
            f"({exc.reason}): {exc}.{hint}"
        )
        raise HTTPException(status_code=503, detail=msg) from exc


def _filter(
    request: Request,
    district: Annotated[
        str | None, Query(description="6-digit district code; empty = city")
    ] = None,
    month_from: Annotated[str | None, Query(alias="from", description="YYYY-MM")] = None,
    month_to: Annotated[str | None, Query(alias="to", description="YYYY-MM")] = None,
) -> SituationFilter:
    try:
        district = situation.parse_district(district)
        if month_from and month_to:
            return SituationFilter(
                district_code=district,
                month_from=situation.parse_month(month_from),
                month_to=situation.parse_month(month_to),
            )
        default = _answer(lambda: situation.default_filter(_runner(request), district))
        start = situation.parse_month(month_from) if month_from else default.month_from
        end = situation.parse_month(month_to) if month_to else default.month_to
        return SituationFilter(district_code=district, month_from=start, month_to=end)
    except SituationError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    except ValidationError as exc:
        problems = "; ".join(e["msg"] for e in exc.errors())
        detail = f"filter district={district!r} from={month_from!r} to={month_to!r}: {problems}"
        raise HTTPException(status_code=422, detail=detail) from exc


Filter = Annotated[SituationFilter, Depends(_filter)]


def _described(situation_filter: SituationFilter) -> dict[str, Any]:
    return {
        "district": situation_filter.district_code,
        "from": f"{situation_filter.month_from:%Y-%m}",
        "to": f"{situation_filter.month_to:%Y-%m}",
    }


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def page() -> HTMLResponse:
    html = resources.files("warehouse.serve").joinpath("templates", "situation.html")
    return HTMLResponse(html.read_text(encoding="utf-8"))


@router.get("/vendor/plotly.min.js", include_in_schema=False)
def plotly() -> FileResponse:
    return FileResponse(
        _answer(plotly_js),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/api/situation/months")
def months(request: Request) -> dict[str, Any]:
    """Months the marts cover and the default range (the last year)."""
    return _answer(lambda: situation.month_range(_runner(request)))


@router.get("/api/situation/map")
def district_map(request: Request) -> dict[str, Any]:
    """GeoJSON of the districts (simplified) with their resident counts."""
    settings = _settings(request)
    return _answer(
        lambda: situation.district_map(
            _runner(request), lambda: situation.district_shapes(settings)
        )
    )


@router.get("/api/situation/tiles")
def tiles(request: Request, situation_filter: Filter) -> dict[str, Any]:
    """The indicator tiles for a district (or the city) and month range."""
    body = _answer(lambda: situation.tiles(_runner(request), situation_filter))
    return {"filter": _described(situation_filter), "tiles": body}


@router.get("/api/situation/trends")
def trends(request: Request, situation_filter: Filter) -> dict[str, Any]:
    """Monthly residents, registrations/deregistrations and penalties/fines."""
    body = _answer(lambda: situation.trends(_runner(request), situation_filter))
    return {"filter": _described(situation_filter), **body}


@router.get("/api/situation/alerts")
def alerts(request: Request, situation_filter: Filter) -> dict[str, Any]:
    """Cross-department alerts: counts per kind and the list, masked as ``public`` sees it."""
    body = _answer(lambda: situation.alerts(_runner(request), situation_filter))
    return {"filter": _described(situation_filter), **body}


@router.get("/api/situation/freshness")
def freshness(request: Request) -> dict[str, Any]:
    """Each feed's freshness against its SLA."""
    return {"feeds": _answer(lambda: situation.freshness(_runner(request)))}


@router.get("/api/situation/quality")
def quality(request: Request) -> dict[str, Any]:
    """Each department's data-quality score: latest batch and trend."""
    return _answer(lambda: situation.quality(_runner(request)))
