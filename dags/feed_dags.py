"""One DAG per feed, generated from the FeedSpec registry: pull → normalize → load.

Wiring only: every task body calls one function of ``citybrain.tasks``, imported inside
the task so the scheduler's parse of this file stays cheap. XCom carries deliveries and
staged batches as small dicts of paths and counts.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, Param, dag, task

from citybrain.tasks import LAKE_WRITER_POOL, asset_uri
from feeds.spec import FEEDS, FeedSpec


def feed_asset(spec: FeedSpec) -> Asset:
    """The Asset a feed's DAG updates; the marts DAG is scheduled on these."""
    return Asset(name=f"citybrain.feed.{spec.name}", uri=asset_uri(spec.name))


def build_feed_dag(spec: FeedSpec) -> Any:
    @dag(
        dag_id=f"feed_{spec.name}",
        description=f"{spec.label} — {spec.owner}: pull, normalize, load into the lake",
        schedule=spec.schedule,
        start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
        catchup=False,
        max_active_runs=1,
        tags=["citybrain", "feed", spec.name],
        default_args={
            "owner": spec.owner,
            "retries": 2,
            "retry_delay": timedelta(minutes=1),
            "retry_exponential_backoff": True,
        },
        params={
            "source": Param(
                None,
                type=["null", "string"],
                description="Folder, file or API base URL; empty: the configured source.",
            ),
            "since": Param(
                None,
                type=["null", "string"],
                description="ISO date or datetime to pull from; empty: the feed's watermark.",
            ),
        },
        doc_md=f"**{spec.label}** ({spec.owner}) → {', '.join(spec.tables)}. "
        f"Freshness SLA: {spec.freshness_sla}.",
    )
    def feed_dag() -> None:
        @task
        def pull(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
            from citybrain.tasks import pull_feed

            params = params or {}
            return pull_feed(spec.name, params.get("source"), since=params.get("since"))

        @task
        def normalize(delivery: dict[str, Any]) -> dict[str, Any]:
            from citybrain.tasks import stage_delivery

            return stage_delivery(delivery)

        @task(pool=LAKE_WRITER_POOL, outlets=[feed_asset(spec)])
        def load(staged: list[dict[str, Any]]) -> list[dict[str, Any]]:
            from citybrain.tasks import load_all

            return load_all(list(staged))

        load(normalize.expand(delivery=pull()))

    return feed_dag()


for _spec in FEEDS.values():
    globals()[f"feed_{_spec.name}"] = build_feed_dag(_spec)
