"""Keep the lake fast as daily increments pile up: flush, compact, expire, clean up.

Every load commits a snapshot and, above the inlining limit, new Parquet files; a month
of daily increments would otherwise leave thousands of small files behind every query.
The maintenance DAG runs :func:`maintain` daily, under the one-slot writer pool.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from warehouse.lake import attach
from warehouse.retry import with_retry
from warehouse.sql import load_sql

if TYPE_CHECKING:
    import duckdb

    from schemas.settings import Settings


ORPHAN_GRACE_HOURS = 24
"""Files the catalog does not know are deleted once this old: a load places its file in the
data path before its COMMIT, and one still running must keep it."""


class MaintenanceReport(BaseModel):
    """What a maintenance run changed, for the task log and the tests."""

    model_config = ConfigDict(frozen=True)

    files_before: int
    files_after: int
    snapshots_before: int
    snapshots_after: int
    seconds: float


def _counts(con: duckdb.DuckDBPyConnection, lake: str) -> tuple[int, int]:
    files = con.execute(load_sql("lake_files"), {"lake": lake}).fetchone()
    snapshots = con.execute(load_sql("lake_snapshots"), {"lake": lake}).fetchone()
    return int(files[0]) + int(files[2]), int(snapshots[0])  # type: ignore[index]


def maintain(
    settings: Settings, *, retention_days: int | None = None, grace_hours: int = 0
) -> MaintenanceReport:
    """Flush inlined rows, merge small files, expire old snapshots, delete unused files.

    Unused files are those the expired snapshots and merges left, and those a killed load
    left in the data path without committing them (after :data:`ORPHAN_GRACE_HOURS`).
    ``retention_days`` defaults to ``CITYBRAIN_SNAPSHOT_RETENTION_DAYS``: time travel
    reaches back that far and no further. ``grace_hours`` keeps files that long after they
    stop being used, for readers that started before the run.
    """
    started = time.perf_counter()
    lake = settings.lake_name
    days = settings.snapshot_retention_days if retention_days is None else retention_days
    con = attach(settings)
    try:
        files_before, snaps_before = _counts(con, lake)

        def run() -> None:
            con.execute(load_sql("maintain_flush_inlined"), {"lake": lake})
            con.execute(load_sql("maintain_merge_files"), {"lake": lake})
            con.execute(
                load_sql("maintain_expire_snapshots"), {"lake": lake, "retention_days": days}
            )
            con.execute(
                load_sql("maintain_cleanup_files"), {"lake": lake, "grace_hours": grace_hours}
            )
            con.execute(
                load_sql("maintain_delete_orphans"),
                {"lake": lake, "orphan_hours": max(grace_hours, ORPHAN_GRACE_HOURS)},
            )

        with_retry(run, what="lake maintenance")
        files_after, snaps_after = _counts(con, lake)
    finally:
        con.close()
    return MaintenanceReport(
        files_before=files_before,
        files_after=files_after,
        snapshots_before=snaps_before,
        snapshots_after=snaps_after,
        seconds=round(time.perf_counter() - started, 3),
    )
