"""The linter holds the architecture (DESIGN.md "Rooms"): prove the rules bite."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# (room, import line that breaks the rules)
VIOLATIONS = [
    ("schemas", "import warehouse"),
    ("schemas", "from feeds import demo_city"),
    ("transforms", "from warehouse import lake"),
    ("feeds", "import transforms"),
    ("warehouse", "import feeds"),
    ("warehouse", "from airflow.sdk import dag"),
    ("transforms", "import dags"),
    ("schemas", "from citybrain import cli"),
]


def _ruff(path: Path) -> subprocess.CompletedProcess[str]:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or "ruff"
    return subprocess.run(
        [ruff, "check", "--no-cache", "--select", "TID", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(("room", "line"), VIOLATIONS)
def test_forbidden_import_is_caught(room: str, line: str) -> None:
    # One probe file per case: tests run in parallel workers.
    probe = ROOT / room / f"_architecture_probe_{VIOLATIONS.index((room, line))}.py"
    probe.write_text(f'"""probe"""\n\n{line}\n', encoding="utf-8")
    try:
        result = _ruff(probe)
    finally:
        probe.unlink()
    assert result.returncode != 0, f"ruff let `{line}` into {room}/"
    assert "TID251" in result.stdout


def test_dags_may_import_airflow_but_not_polars_at_module_level() -> None:
    probe = ROOT / "dags" / "_architecture_probe.py"
    probe.write_text(
        '"""probe"""\n\nimport polars\nfrom airflow.sdk import dag\n', encoding="utf-8"
    )
    try:
        result = _ruff(probe)
    finally:
        probe.unlink()
    assert "TID253" in result.stdout  # polars at module level in a DAG file
    assert "TID251" not in result.stdout  # airflow is allowed here
