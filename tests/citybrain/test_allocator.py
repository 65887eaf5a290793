"""Importing citybrain before Polars gives Polars' allocator the batch-job setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from citybrain import ALLOCATOR_CONF

REPO = Path(__file__).resolve().parents[2]

# What Polars hands jemalloc, read back after the import (Polars rewrites the variable).
PROBE = "import citybrain, polars, os; print(os.environ['_RJEM_MALLOC_CONF'])"


def _conf_after_import(env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def _env_without_conf() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}


def test_polars_gets_the_batch_setting_after_its_own() -> None:
    conf = _conf_after_import(_env_without_conf())
    # jemalloc takes the last value of a repeated option: ours must come after Polars'.
    assert conf.endswith("," + ALLOCATOR_CONF), conf
    assert conf.startswith("dirty_decay_ms:"), "Polars no longer sets its own decay first"


def test_an_operators_own_setting_is_kept() -> None:
    env = {**_env_without_conf(), "_RJEM_MALLOC_CONF": "dirty_decay_ms:0"}
    conf = _conf_after_import(env)
    assert conf.endswith(",dirty_decay_ms:0") and ALLOCATOR_CONF not in conf, conf


def test_the_dag_files_import_citybrain_before_any_task_imports_polars() -> None:
    # The Airflow task process parses the DAG file first: that import must bring the
    # setting in, before the task body imports Polars.
    probe = (
        "import sys, os, dags.feed_dags; "
        "assert 'polars' not in sys.modules; print(os.environ['_RJEM_MALLOC_CONF'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env=_env_without_conf(),
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == ALLOCATOR_CONF
