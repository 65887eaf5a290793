"""Maintenance compacts what daily increments leave behind and expires old snapshots."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from schemas.settings import Settings
from tests.warehouse import test_load_support as S
from warehouse.lake import attach, init_lake
from warehouse.load import load_batch
from warehouse.maintenance import ORPHAN_GRACE_HOURS, maintain


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


def test_files_a_killed_load_left_go_after_a_day_and_a_running_loads_stay(
    settings: Settings,
) -> None:
    # A load places its versions file in the data path before COMMIT: killed in between,
    # the file is an orphan. A fresh one may belong to a load still running.
    folder = Path(settings.data_path) / "core" / "person"
    folder.mkdir(parents=True, exist_ok=True)
    stale, fresh = folder / "killed-load.parquet", folder / "running-load.parquet"
    for path in (stale, fresh):
        path.write_bytes(b"PAR1")
    day_and_a_bit = time.time() - (ORPHAN_GRACE_HOURS + 1) * 3600
    os.utime(stale, (day_and_a_bit, day_and_a_bit))
    maintain(settings, retention_days=30)
    assert not stale.exists()
    assert fresh.exists()


def test_compacting_and_expiring_keep_what_loads_registered(
    settings: Settings, tmp_path: Path
) -> None:
    # Loads register one hard-linked file in core and in history; merging and deleting one
    # table's files must leave the other whole.
    for day in range(4):
        rows = S.persons(range(day * 50, day * 50 + 100), name=f"v{day}")
        load_batch(settings, S.stage(tmp_path, f"d{day}", rows))
    before = S.lake_state(settings)
    report = maintain(settings, retention_days=0)
    assert report.files_after < report.files_before
    after = S.lake_state(settings)
    for name, frame in before.items():
        assert_frame_equal(after[name], frame)
    con = attach(settings, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM lake.core.person").fetchone() == (250,)
        assert con.execute(
            "SELECT count(*), count(*) FILTER (WHERE _is_current) FROM lake.core.person_history"
        ).fetchone() == (400, 250)
    finally:
        con.close()
