"""A load is all or nothing, whenever the process dies; concurrent writers both land.

The loader runs in a child process killed with SIGKILL at a random moment of its load;
re-running the same batch must then give exactly the lake an uninterrupted run gives
(core, history, quarantine, ledger, watermark; clock columns aside).
"""

from __future__ import annotations

import importlib.util
import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from schemas.settings import Settings
from warehouse.lake import init_lake
from warehouse.load import load_batch

if TYPE_CHECKING:
    from types import ModuleType

    from transforms.staged import StagedBatch


def support() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "load_support", Path(__file__).with_name("test_load_support.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


S = support()

# The child: imports and attaches first, says "ready", then loads the batch it was given.
# Given a ``go`` file it waits for it before loading, and its first attempt waits inside
# the open transaction, after writing and before COMMIT, until the other child is there
# too: both transactions then overlap whatever the machine's speed.
CHILD = """
import logging, os, sys, time
from pathlib import Path
logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
from schemas.settings import get_settings
from transforms.staged import StagedBatch
import warehouse.load.batch as batch
from warehouse.lake import attach
from warehouse.load import load_batch
staged = StagedBatch.model_validate_json(Path(sys.argv[1]).read_text())
settings = get_settings()
attach(settings).close()  # warm: extension files and catalog pages in the OS cache
go = Path(sys.argv[2]) if len(sys.argv) > 2 else None
if go is not None:
    apply_batch, waited = batch.apply_batch, []
    def meet_before_commit(*args, **kwargs):
        result = apply_batch(*args, **kwargs)
        if not waited:
            waited.append(1)
            go.with_name(f"{go.name}.{os.getpid()}").touch()
            deadline = time.monotonic() + 60
            while len(list(go.parent.glob(go.name + ".*"))) < 2 and time.monotonic() < deadline:
                time.sleep(0.005)
        return result
    batch.apply_batch = meet_before_commit
print("ready", flush=True)
while go is not None and not go.exists():
    time.sleep(0.005)
print(load_batch(settings, staged).model_dump_json(), flush=True)
"""

ROOT = Path(__file__).resolve().parents[2]
BASE_ROWS = int(os.environ.get("CITYBRAIN_TEST_KILL_BASE_ROWS", "100000"))
BATCH_ROWS = int(os.environ.get("CITYBRAIN_TEST_KILL_ROWS", "200000"))


def _home(tmp_path: Path, name: str) -> Settings:
    settings = Settings(home=tmp_path / name)
    init_lake(settings)
    return settings


def _child(settings: Settings, staged: StagedBatch, folder: Path, go: Path | None = None):
    pointer = folder / f"{staged.batch_id}.json"
    pointer.write_text(staged.model_dump_json())
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYBRAIN_")}
    env["CITYBRAIN_HOME"] = str(settings.home)
    args = [sys.executable, "-c", CHILD, str(pointer)] + ([str(go)] if go else [])
    return subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_ready(child: subprocess.Popen) -> None:
    line = child.stdout.readline()
    if line.strip() != "ready":
        _, err = child.communicate(timeout=30)
        pytest.fail(f"the child did not start: {err}")


def _batch(seed: int, folder: Path) -> StagedBatch:
    """About BATCH_ROWS rows in: updates, new keys, identical and older re-sends, rejects."""
    quarter = BATCH_ROWS // 4
    day = datetime(2026, 1, 2 + seed, 8, 0)
    updated = range(seed * quarter // 2, seed * quarter // 2 + quarter)  # overlaps across seeds
    new = range(10_000_000 * (seed + 1), 10_000_000 * (seed + 1) + quarter)
    identical = range(BASE_ROWS - quarter // 2, BASE_ROWS)  # never updated: still as loaded
    older = range(BASE_ROWS - quarter, BASE_ROWS - quarter // 2)
    valid = pl.concat(
        [
            S.persons(updated, name=pl.concat_str(pl.lit(f"v{seed}-"), pl.col("k")), updated=day),
            S.persons(new, name="新生"),
            S.persons(identical),
            S.persons(older, name="旧", updated=datetime(2025, 6, 1)),
        ]
    )
    rejects = [
        (50_000_000 + i, {"GMSFHM": str(i), "XM": "某"}, ["id_number.checksum"])
        for i in range(quarter // 10)
    ]
    return S.stage(
        folder,
        f"kill{seed}",
        valid,
        rejected_rows=S.rejected(rejects),
        duplicate_rows=S.duplicates(list(range(60_000_000, 60_000_000 + quarter // 10))),
        cursor_max=day.isoformat(sep=" "),
    )


def _assert_same_lake(got: Settings, want: Settings) -> None:
    ours, theirs = S.lake_state(got), S.lake_state(want)
    for name, frame in theirs.items():
        assert_frame_equal(ours[name], frame)


@pytest.mark.slow
def test_sigkill_at_random_points_then_rerun_equals_an_uninterrupted_load(
    tmp_path: Path,
) -> None:
    killed, reference = _home(tmp_path, "killed"), _home(tmp_path, "reference")
    staging = tmp_path / "staged"
    base = S.stage(staging, "base", S.persons(range(BASE_ROWS)), cursor_max="2026-01-01 09:30:00")
    load_batch(killed, base)
    load_batch(reference, base)

    outcomes = []
    for seed in range(3):
        rng = random.Random(seed)
        staged = _batch(seed, staging)
        clock = time.perf_counter()
        expected = load_batch(reference, staged)  # uninterrupted; also times the load
        duration = time.perf_counter() - clock
        assert expected.status == "loaded" and expected.reconciles()

        child = _child(killed, staged, tmp_path)
        _wait_ready(child)
        time.sleep(rng.uniform(0.0, duration))
        child.send_signal(signal.SIGKILL)
        _, err = child.communicate(timeout=30)  # also closes the pipes
        assert child.returncode in (-signal.SIGKILL, 0), err

        rerun = load_batch(killed, staged)
        outcomes.append(rerun.status)
        if rerun.status == "loaded":  # killed before COMMIT: nothing of it had landed
            assert rerun.model_dump(exclude={"snapshot_id", "seconds"}) == expected.model_dump(
                exclude={"snapshot_id", "seconds"}
            )

    # Compared once, at the end: history, quarantine and the ledger keep every batch's
    # rows, so anything a kill had left half-written would still show here.
    _assert_same_lake(killed, reference)

    # At least one kill must have hit an open transaction, or the test proved nothing.
    assert "loaded" in outcomes, outcomes


@pytest.mark.slow
def test_two_processes_loading_at_once_both_land_thanks_to_the_retry(tmp_path: Path) -> None:
    lake, reference = _home(tmp_path, "shared"), _home(tmp_path, "reference")
    staging = tmp_path / "staged"
    rows = 50_000
    first = S.stage(staging, "p1", S.persons(range(rows)))
    second = S.stage(
        staging, "p2", S.persons(range(rows, 2 * rows), name="李四"), cursor_max="2026-01-01"
    )
    go = tmp_path / "go"
    children = [_child(lake, staged, tmp_path, go) for staged in (first, second)]
    for child in children:
        _wait_ready(child)
    go.touch()
    outputs = [child.communicate(timeout=120) for child in children]

    for child, (out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
        assert '"status":"loaded"' in out, out
    # Both had written before either committed (the child's meeting point): the later
    # COMMIT met a busy catalog and the whole attempt ran again.
    logs = "".join(err for _, err in outputs)
    assert "catalog busy" in logs, logs

    for staged in (first, second):
        load_batch(reference, staged)
    _assert_same_lake(lake, reference)
