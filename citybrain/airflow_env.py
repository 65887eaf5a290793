"""Run Airflow for citybrain without importing it: environment, metadata DB, pool, runs.

citybrain drives Airflow through its own CLI (``airflow dags test``, ``airflow
standalone``), so the runs the demo makes are real Airflow runs, recorded in Airflow's
metadata database and visible in its UI — and only ``dags/`` imports ``airflow``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from citybrain.tasks import LAKE_WRITER_POOL
from schemas.settings import Settings

REPO = Path(__file__).resolve().parent.parent
ADMIN_USER = "admin"


def airflow_home(settings: Settings) -> Path:
    return settings.home / "airflow"


def airflow_bin() -> str:
    # The airflow script of the environment running us (uv's venv), not one on PATH.
    local = Path(sys.executable).parent / "airflow"
    return str(local) if local.exists() else (shutil.which("airflow") or "airflow")


def password_file(settings: Settings) -> Path:
    return airflow_home(settings) / "simple_auth_manager_passwords.json"


def admin_password(settings: Settings) -> str:
    """The UI password of ``admin``: created once, kept beside Airflow's database."""
    path = password_file(settings)
    if path.exists():
        return json.loads(path.read_text())[ADMIN_USER]
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    path.write_text(json.dumps({ADMIN_USER: password}))
    path.chmod(0o600)
    return password


def environment(
    settings: Settings, *, port: int = 8080, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment Airflow runs in for this citybrain home."""
    home = airflow_home(settings)
    env = dict(os.environ)
    env.update(
        {
            "CITYBRAIN_HOME": str(settings.home),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file(settings)),
            # Loopback only, and the workers must call the API server on the port it
            # really listens on: the execution API URL follows the port.
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    env.update(extra or {})
    return env


def airflow(
    settings: Settings,
    *args: str,
    env: dict[str, str] | None = None,
    check: bool = True,
    capture: bool = True,
    timeout: float | None = 1800,
) -> subprocess.CompletedProcess[str]:
    """Run one ``airflow`` CLI command for this citybrain home."""
    return subprocess.run(
        [airflow_bin(), *args],
        env=env or environment(settings),
        cwd=REPO,
        check=check,
        capture_output=capture,
        text=True,
        timeout=timeout,
    )


def prepare(settings: Settings, env: dict[str, str] | None = None) -> None:
    """Create Airflow's metadata database (idempotent) and the one-slot writer pool."""
    airflow_home(settings).mkdir(parents=True, exist_ok=True)
    admin_password(settings)
    airflow(settings, "db", "migrate", env=env)
    airflow(
        settings,
        "pools",
        "set",
        LAKE_WRITER_POOL,
        "1",
        "One lake writer at a time (DESIGN.md decision 6)",
        env=env,
    )
