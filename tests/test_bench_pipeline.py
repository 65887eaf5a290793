"""benchmarks/bench_pipeline.py: medians of several runs, each run's own ratio."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_pipeline.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_pipeline", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _result(approach: str, run: int, seconds: float, peak: int = 1) -> dict:
    return {
        "feed": "population",
        "approach": approach,
        "run": run,
        "rows": 1000,
        "seconds": seconds,
        "peak_rss": peak,
        "stages": {"stage": seconds / 2},
        "detail": {},
    }


def test_the_median_run_and_each_runs_ratio_against_its_own_floor() -> None:
    bench = _bench()
    results = [
        _result("floor", 0, 1.0),
        _result("citybrain", 0, 2.0, peak=5),
        _result("floor", 1, 2.0),  # a slow moment of the machine: both slower
        _result("citybrain", 1, 5.0, peak=9),
        _result("floor", 2, 1.0),
        _result("citybrain", 2, 4.0, peak=7),
    ]
    floor, citybrain = bench.summarize(results)
    assert (floor["seconds"], citybrain["seconds"]) == (1.0, 4.0)
    assert citybrain["stages"] == {"stage": 2.0}  # the median run's own stages
    assert citybrain["peak_rss"] == 9  # the largest, not the median run's
    assert citybrain["x_floor"] == 0.25
    assert citybrain["x_floor_runs"] == [0.5, 0.4, 0.25]  # run by run, in run order
    assert citybrain["runs"] == 3 and citybrain["errors"] == []


def test_a_failed_run_is_reported_not_dropped() -> None:
    bench = _bench()
    results = [
        _result("floor", 0, 1.0),
        {"feed": "population", "approach": "citybrain", "run": 0, "error": "exit status 9"},
        _result("floor", 1, 1.0),
        _result("citybrain", 1, 2.0),
    ]
    citybrain = bench.summarize(results)[1]
    assert citybrain["runs"] == 1
    assert citybrain["errors"] == ["exit status 9"]
    only_failures = bench.summarize([results[1]])
    assert only_failures == [
        {"feed": "population", "approach": "citybrain", "error": "exit status 9"}
    ]


@pytest.mark.slow
def test_the_script_runs_each_approach_several_times(tmp_path) -> None:
    out = tmp_path / "results.json"
    cmd = [sys.executable, str(SCRIPT), "--residents", "2000", "--out", str(tmp_path / "city")]
    cmd += ["--feeds", "legal_entity", "--approaches", "floor,citybrain", "--runs", "2"]
    cmd += ["--work", str(tmp_path), "--json", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "run by run" in done.stdout and "run 2/2 citybrain" in done.stdout
    assert "CPU s" in done.stdout
    saved = json.loads(out.read_text(encoding="utf-8"))
    # Each run's CPU seconds, every thread's: the engines' threads make them more than 0,
    # and no more than every core busy all the time.
    for run in saved["runs"]:
        assert 0 < run["cpu"] <= run["seconds"] * (os.cpu_count() or 1) + 0.5
    assert sorted((r["approach"], r["run"]) for r in saved["runs"]) == [
        ("citybrain", 0),
        ("citybrain", 1),
        ("floor", 0),
        ("floor", 1),
    ]
    citybrain = next(r for r in saved["summary"] if r["approach"] == "citybrain")
    assert citybrain["runs"] == 2 and len(citybrain["x_floor_runs"]) == 2
    assert "error" not in citybrain
