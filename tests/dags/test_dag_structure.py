"""DAG files import cleanly, are generated from the FeedSpec registry, and only wire tasks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from feeds.spec import FEEDS

REPO = Path(__file__).resolve().parents[2]

# Snapshot of the graph: a change to the DAGs shows up in this diff.
EXPECTED = {
    **{
        f"feed_{name}": {"pull": {"normalize"}, "normalize": {"load"}, "load": set()}
        for name in FEEDS
    },
    "lake_maintenance": {"maintain": set()},
    "citybrain_marts": {"build_marts": set()},
}

_PROBE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    out["dags"][dag_id] = {
        "tasks": {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks},
        "pools": {t.task_id: t.pool for t in dag.tasks},
        "retries": {t.task_id: t.retries for t in dag.tasks},
        "params": sorted(dag.params.keys()),
        "tags": sorted(dag.tags),
        "outlets": {t.task_id: [getattr(o, "uri", None) for o in t.outlets] for t in dag.tasks},
        "schedule_kind": type(getattr(dag.timetable, "asset_condition", None)).__name__,
        "schedule": sorted(
            getattr(a, "uri", "") for a in getattr(dag.timetable, "asset_condition", None).objects
        ) if hasattr(getattr(dag.timetable, "asset_condition", None), "objects") else [],
    }
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory) -> dict:
    import json

    home = tmp_path_factory.mktemp("airflow")
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(REPO / "dags")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_dagbag_has_no_import_errors(dagbag: dict) -> None:
    assert dagbag["errors"] == {}


def test_one_dag_per_feed_spec_and_the_graph_snapshot(dagbag: dict) -> None:
    got = {
        dag_id: {t: set(d) for t, d in v["tasks"].items()} for dag_id, v in dagbag["dags"].items()
    }
    assert got == EXPECTED


@pytest.mark.parametrize("name", sorted(FEEDS))
def test_feed_dags_take_source_and_since_and_write_through_one_pool(
    dagbag: dict, name: str
) -> None:
    dag = dagbag["dags"][f"feed_{name}"]
    assert dag["params"] == ["since", "source"]
    assert dag["pools"]["load"] == "lake_writer"
    assert all(r >= 2 for r in dag["retries"].values())
    assert dag["outlets"]["load"] == [f"citybrain://lake/feeds/{name}"]
    assert name in dag["tags"]


def test_dag_files_parse_without_heavy_imports() -> None:
    # The scheduler parses DAG files every few seconds: polars/duckdb must not be imported.
    code = (
        "import sys, time; t = time.perf_counter(); import runpy; "
        f"runpy.run_path({str(REPO / 'dags' / 'feed_dags.py')!r}); "
        "print(time.perf_counter() - t); "
        "print(sorted(m for m in ('polars', 'duckdb', 'pyarrow', 'sqlglot') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        env={**os.environ, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"},
    ).stdout.splitlines()
    assert out[-1] == "[]", f"heavy modules imported at parse time: {out[-1]}"


def test_marts_rebuild_when_any_feed_lands_through_the_one_pool(dagbag: dict) -> None:
    dag = dagbag["dags"]["citybrain_marts"]
    # Any one feed (AssetAny), not all five (a list would wait for every feed).
    assert dag["schedule_kind"] == "AssetAny"
    assert dag["schedule"] == sorted(f"citybrain://lake/feeds/{name}" for name in FEEDS)
    assert dag["pools"]["build_marts"] == "lake_writer"
    assert dag["outlets"]["build_marts"] == ["citybrain://lake/marts"]
    assert all(r >= 2 for r in dag["retries"].values())
