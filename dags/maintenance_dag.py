"""Daily lake maintenance: compact small files, expire old snapshots (wiring only)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import dag, task

from citybrain.tasks import LAKE_WRITER_POOL


@dag(
    dag_id="lake_maintenance",
    description="Flush inlined rows, merge small Parquet files, expire snapshots past retention",
    schedule="0 1 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    tags=["citybrain", "maintenance"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
)
def lake_maintenance() -> None:
    @task(pool=LAKE_WRITER_POOL)
    def maintain() -> dict[str, Any]:
        from citybrain.tasks import maintain_lake

        return maintain_lake()

    maintain()


lake_maintenance()
