"""Maintenance compacts what daily increments leave behind and expires old snapshots."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from schemas.settings import Settings
from warehouse.lake import attach, init_lake
from warehouse.maintenance import maintain


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("CITYBRAIN_HOME", str(tmp_path))
    s = Settings()
    init_lake(s)
    return s


def _daily_increments(settings: Settings, days: int, rows: int) -> None:
    # Above the inlining limit each insert writes its own Parquet file, like a daily load.
    con = attach(settings)
    try:
        for day in range(days):
            frame = pl.DataFrame(
                {
                    "feed": [f"f{day}-{i}" for i in range(rows)],
                    "cursor_field": "GXSJ",
                    "cursor_value": "2026-01-01",
                    "batch_id": f"b{day}",
                    "updated_at": datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None),
                    "resource": "persons",
                }
            )
            con.register("increment", frame)
            con.execute("INSERT INTO lake.meta.watermarks SELECT * FROM increment")
            con.unregister("increment")
    finally:
        con.close()


def test_maintenance_merges_small_files_and_keeps_every_row(settings: Settings) -> None:
    _daily_increments(settings, days=12, rows=200)
    report = maintain(settings, retention_days=30)
    assert report.files_before >= 12
    assert report.files_after < report.files_before
    con = attach(settings, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM lake.meta.watermarks").fetchone() == (12 * 200,)
    finally:
        con.close()


def test_zero_retention_expires_old_snapshots(settings: Settings) -> None:
    _daily_increments(settings, days=5, rows=200)
    report = maintain(settings, retention_days=0)
    assert report.snapshots_after < report.snapshots_before
    # Running it again has nothing left to do.
    again = maintain(settings, retention_days=0)
    assert again.files_after == report.files_after
