"""A small demo city through every feed, then the marts task: non-empty and reconciled.

The same path as the marts DAG and `citybrain marts build`: ``build_marts_task`` records
the SLAs of the feed registry, scores the batches the feeds loaded and rebuilds the marts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from feeds.spec import FEEDS
from tests.support import ingest_demo_city
from warehouse.lake import attach, use_lake
from warehouse.marts import city_date

if TYPE_CHECKING:
    from pathlib import Path

    from schemas.settings import Settings


ALIVE_BY_DISTRICT = """
SELECT coalesce(residence_region_code, hukou_region_code) AS district, count(*)
FROM core.person
WHERE NOT is_deceased AND birth_date <= $as_of
GROUP BY ALL
"""
DISTRICT_TOTALS = """
SELECT area_code, total FROM mart.population_by_area WHERE area_level = 'district'
"""
CURRENT_MONTH = """
SELECT district_code, total FROM mart.population_monthly
WHERE month = date_trunc('month', $as_of::DATE) AND total > 0
"""
ENTITIES = """
SELECT (SELECT sum(entities) FROM mart.entities_by_area),
       (SELECT count(*) FROM core.legal_entity WHERE region_code IS NOT NULL)
"""
LOADED_BATCHES = "SELECT batch_id FROM meta.batches WHERE status = 'loaded'"
SCORECARD = """
SELECT s.batch_id, any_value(b.rows_in) > 0, count(*), min(s.overall), max(s.overall)
FROM mart.quality_scorecard AS s JOIN meta.batches AS b USING (batch_id)
GROUP BY s.batch_id
"""
FRESHNESS = "SELECT feed, department, is_stale FROM mart.feed_freshness ORDER BY feed"
ALERT_KINDS = "SELECT DISTINCT subject_kind FROM mart.alerts"


@pytest.mark.slow
@pytest.mark.integration
def test_marts_of_a_demo_city_are_filled_and_reconcile_with_core(
    tmp_path: Path, settings: Settings
) -> None:
    from citybrain.marts import build_marts_task
    from feeds.demo_city import GenerateParams, generate

    city = tmp_path / "city"
    generate(GenerateParams(residents=600, days=1, seed=3, out=city))
    ingest_demo_city(settings, city)

    first = build_marts_task(settings)
    empty = [name for name, rows in first["marts"].items() if rows == 0]
    # Alerts depend on what the city's dirt happens to join; every other mart has rows.
    assert set(empty) <= {"mart.alerts"}, first
    assert sorted(first["slas_changed"]) == sorted(FEEDS)

    con = attach(settings, read_only=True)
    try:
        con.execute(use_lake(settings))
        as_of = {"as_of": city_date(_now())}
        alive = dict(con.execute(ALIVE_BY_DISTRICT, as_of).fetchall())
        assert sum(alive.values()) > 400
        assert dict(con.execute(DISTRICT_TOTALS).fetchall()) == alive
        assert dict(con.execute(CURRENT_MONTH, as_of).fetchall()) == alive
        mart_entities, core_entities = con.execute(ENTITIES).fetchone()
        assert mart_entities == core_entities > 0

        loaded = {row[0] for row in con.execute(LOADED_BATCHES).fetchall()}
        card = con.execute(SCORECARD).fetchall()
        assert first["batches_scored"] == len(loaded) == len(card)
        assert {row[0] for row in card} == loaded
        # Six GB/T 36344 dimensions per batch with rows; an empty delivery is judged on
        # timeliness and accessibility only. Scores within 0-100.
        assert {(has_rows, n) for _, has_rows, n, _, _ in card} <= {(True, 6), (False, 2)}
        assert all(0 <= low <= high <= 100 for *_, low, high in card)

        assert con.execute(FRESHNESS).fetchall() == [
            (name, FEEDS[name].owner, False) for name in sorted(FEEDS)
        ]
        assert {r[0] for r in con.execute(ALERT_KINDS).fetchall()} <= {"entity", "person"}
    finally:
        con.close()

    # Again: nothing new to score, no SLA changed, the same rows.
    again = build_marts_task(settings)
    assert again["batches_scored"] == 0
    assert again["slas_changed"] == []
    assert again["marts"] == first["marts"]


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC).replace(tzinfo=None)
