"""The situation marts, rebuilt whenever any feed lands new data (wiring only)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, AssetAny, dag, task

from citybrain.tasks import LAKE_WRITER_POOL, asset_uri
from feeds.spec import FEEDS

# Name and URI exactly as the feed DAGs' outlets (dags/feed_dags.py): Airflow identifies an
# asset by both.
FEED_ASSETS = [Asset(name=f"citybrain.feed.{name}", uri=asset_uri(name)) for name in FEEDS]
MARTS_ASSET = Asset(name="citybrain.marts", uri="citybrain://lake/marts")


@dag(
    dag_id="citybrain_marts",
    description="Score new batches (GB/T 36344) and rebuild the situation marts",
    # Any one feed's update is enough: the marts show what the lake holds now.
    schedule=AssetAny(*FEED_ASSETS),
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    tags=["citybrain", "marts"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    doc_md="Rebuilds every `mart.*` table in one DuckLake transaction; see warehouse/marts/.",
)
def citybrain_marts() -> None:
    @task(pool=LAKE_WRITER_POOL, outlets=[MARTS_ASSET])
    def build_marts() -> dict[str, Any]:
        from citybrain.marts import build_marts_task

        return build_marts_task()

    build_marts()


citybrain_marts()
