"""A real lake with marts for the situation page: a small demo city, loaded and built.

Built once per test session (it takes ~20 s) by the same task functions as the DAGs:
``citybrain.tasks.ingest`` per feed (file drops, and the APIs from the loopback feed
server), then ``citybrain.marts.build_marts_task``. Tests that use it share an xdist group
so one worker builds it.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest

from schemas.settings import Settings
from tests.support import ingest_demo_city, serving
from warehouse.marts import MARTS

if TYPE_CHECKING:
    pass

LAKE_GROUP = pytest.mark.xdist_group("situation_lake")


@pytest.fixture(scope="session")
def situation_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of a lake holding an 800-resident demo city and its marts."""
    from citybrain.marts import build_marts_task
    from feeds.demo_city import GenerateParams, generate

    root = tmp_path_factory.mktemp("situation")
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("CITYBRAIN_"):
                mp.delenv(key)
        mp.setenv("CITYBRAIN_HOME", str(root / "home"))
        settings = Settings()
        city = root / "city"
        generate(GenerateParams(residents=800, days=1, seed=7, out=city))
        ingest_demo_city(settings, city)
        build_marts_task(settings)
    _add_person_alert(settings)
    return settings


def _add_person_alert(settings: Settings) -> None:
    # Alerts about people are rare in a small city (a few per 100k residents); one about a
    # real resident of the lake makes the masking of the page's alert list testable.
    from warehouse.lake import attach

    con = attach(settings)
    try:
        con.execute(
            "INSERT INTO lake.mart.alerts "
            "SELECT 'deceased_holds_licence', 'high', id_number, name, 'person', "
            "residence_region_code, 'TEST-CERTIFICATE-1', '测试：已故人员仍持有效证照', "
            "now()::TIMESTAMP FROM lake.core.person ORDER BY id_number LIMIT 1"
        )
    finally:
        con.close()


@pytest.fixture(scope="session")
def marts(situation_settings: Settings) -> dict[str, pl.DataFrame]:
    """Every mart as a frame, read straight from the lake (no policy): the expectations."""
    from sqlglot import exp

    from warehouse.lake import attach

    lake = situation_settings.lake_name
    con = attach(situation_settings, read_only=True)
    try:
        return {
            name: con.execute(
                exp.select("*").from_(exp.table_(name, db="mart", catalog=lake)).sql("duckdb")
            ).pl()
            for name in MARTS
        }
    finally:
        con.close()


@pytest.fixture(scope="session")
def district_areas(situation_settings: Settings) -> dict[str, str]:
    """Every district polygon of ``core.area``: code -> name (the map draws each)."""
    from warehouse.lake import attach

    con = attach(situation_settings, read_only=True)
    try:
        rows = con.execute(
            "SELECT area_code, name FROM lake.core.area WHERE level = 'district'"
        ).fetchall()
    finally:
        con.close()
    return dict(rows)


running = serving  # the name these tests use


def rows_where(frame: pl.DataFrame, **equal: Any) -> pl.DataFrame:
    for column, value in equal.items():
        frame = frame.filter(pl.col(column).is_null() if value is None else pl.col(column) == value)
    return frame


def busiest_district(marts: dict[str, pl.DataFrame]) -> str:
    """The district with the most alerts, then residents: a filter to it changes every panel."""
    alerts = marts["alerts"].group_by("district_code").agg(pl.len().alias("alerts"))
    districts = (
        rows_where(marts["population_by_area"], area_level="district")
        .join(alerts, left_on="area_code", right_on="district_code", how="left")
        .with_columns(pl.col("alerts").fill_null(0))
    )
    ranked = districts.sort(["alerts", "total", "area_code"], descending=[True, True, False])
    return ranked["area_code"][0]


def scoped(frame: pl.DataFrame, district: str | None) -> pl.DataFrame:
    return frame if district is None else frame.filter(pl.col("district_code") == district)


def expected_tiles(
    marts: dict[str, pl.DataFrame], district: str | None, first: date, last: date
) -> dict[str, float]:
    population = scoped(rows_where(marts["population_by_area"], area_level="district"), district)
    entities = scoped(rows_where(marts["entities_by_area"], area_level="district"), district)
    licences = scoped(rows_where(marts["licences_by_area"], area_level="district"), district)
    penalties = scoped(marts["penalties_monthly"], district)
    month = rows_where(penalties, month=last)
    in_range = penalties.filter(pl.col("month").is_between(first, last))
    alerts = scoped(marts["alerts"], district).filter(
        (pl.col("detected_at") >= datetime.combine(first, datetime.min.time()))
        & (pl.col("detected_at") < datetime.combine(_next_month(last), datetime.min.time()))
    )
    return {
        "population": population["total"].sum(),
        "registered": population["registered"].sum(),
        "floating": population["floating"].sum(),
        "active_entities": rows_where(entities, status="ACTIVE")["entities"].sum(),
        "valid_licences": licences["valid"].sum(),
        "expiring_30d": licences["expiring_30d"].sum(),
        "penalties_month": month["penalties"].sum(),
        "fines_month_yuan": float(month["fines_yuan"].sum() or 0),
        "penalties_range": in_range["penalties"].sum(),
        "fines_range_yuan": float(in_range["fines_yuan"].sum() or 0),
        "open_alerts": alerts.height,
    }


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)
