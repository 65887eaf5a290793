"""Run Airflow for citybrain without importing it: environment, metadata DB, pool, runs.

citybrain drives Airflow through its own CLI (``airflow dags test``, ``airflow
standalone``), so the runs the demo makes are real Airflow runs, recorded in Airflow's
metadata database and visible in its UI — and only ``dags/`` imports ``airflow``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Mapping
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


#: The auth manager citybrain's login (``admin`` and its password file) is made for.
SIMPLE_AUTH_MANAGER = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
)


def api_url(port: int) -> str:
    """Where the API server (UI, REST API, execution API) listens: loopback only."""
    return f"http://127.0.0.1:{port}"


def airflow_options(settings: Settings, *, port: int = 8080) -> dict[tuple[str, str], str]:
    """Airflow's configuration for this citybrain home, as ``(section, key) -> value``.

    Set as ``AIRFLOW__SECTION__KEY`` variables for the processes citybrain starts and written
    into ``airflow.cfg`` (:func:`write_config`), so a bare ``airflow`` command run later
    with the same ``AIRFLOW_HOME`` sees the same API server.

    >>> from schemas.settings import Settings
    >>> opts = airflow_options(Settings(home="/srv/cb"), port=9090)
    >>> opts["core", "execution_api_server_url"], opts["api", "port"]
    ('http://127.0.0.1:9090/execution/', '9090')
    """
    url = api_url(port)
    return {
        ("core", "dags_folder"): str(REPO / "dags"),
        ("core", "load_examples"): "False",
        ("core", "dags_are_paused_at_creation"): "False",
        ("core", "executor"): "LocalExecutor",
        # Each LocalExecutor slot is a forked worker process: 32 (the default) idle workers
        # weigh on a small machine, and loads are serialized by the lake_writer pool anyway.
        ("core", "parallelism"): "4",
        ("core", "auth_manager"): SIMPLE_AUTH_MANAGER,
        ("core", "simple_auth_manager_users"): f"{ADMIN_USER}:admin",
        ("core", "simple_auth_manager_passwords_file"): str(password_file(settings)),
        # Loopback only, and the workers must call the API server on the port it really
        # listens on: the execution API URL follows the port.
        ("api", "host"): "127.0.0.1",
        ("api", "port"): str(port),
        ("api", "base_url"): url,
        ("core", "execution_api_server_url"): f"{url}/execution/",
        ("logging", "logging_level"): "WARNING",
    }


def environment(
    settings: Settings, *, port: int = 8080, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment Airflow runs in for this citybrain home."""
    env = dict(os.environ)
    env.update(
        {
            "CITYBRAIN_HOME": str(settings.home),
            "AIRFLOW_HOME": str(airflow_home(settings)),
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    env.update(
        {
            f"AIRFLOW__{section.upper()}__{key.upper()}": value
            for (section, key), value in airflow_options(settings, port=port).items()
        }
    )
    env.update(extra or {})
    return env


_OPTION = re.compile(r"^\s*(#\s*)?([A-Za-z0-9_]+)\s*=")
_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")


def set_options(text: str, options: Mapping[tuple[str, str], str]) -> str:
    """``airflow.cfg`` text with ``options`` set, its comments and other options kept.

    An option already set is replaced in place, else the commented-out default of its
    section is, else it is added at the end of its section (a new section at the end).

    >>> cfg = "[core]\\n# dags_folder = /x\\nload_examples = True\\n\\n[api]\\n# Port\\nport = 8080\\n"
    >>> print(set_options(cfg, {("core", "load_examples"): "False", ("api", "port"): "9000",
    ...                         ("core", "dags_folder"): "/d", ("api", "host"): "127.0.0.1",
    ...                         ("logging", "logging_level"): "WARNING"}))
    [core]
    dags_folder = /d
    load_examples = False
    <BLANKLINE>
    [api]
    # Port
    port = 9000
    host = 127.0.0.1
    <BLANKLINE>
    [logging]
    logging_level = WARNING
    <BLANKLINE>
    """
    lines = text.splitlines()
    where: dict[tuple[str, str], tuple[int, bool]] = {}  # option -> (line, commented)
    section_end: dict[str, int] = {}  # section -> index after its last non-blank line
    section = ""
    for i, line in enumerate(lines):
        if m := _SECTION.match(line):
            section = m.group(1).strip().lower()
            section_end[section] = i + 1
            continue
        if line.strip():
            section_end[section] = i + 1
        if (m := _OPTION.match(line)) and (section, m.group(2).lower()) in options:
            key, commented = (section, m.group(2).lower()), bool(m.group(1))
            if key not in where or (where[key][1] and not commented):
                where[key] = (i, commented)
    for (section, key), value in options.items():
        if (section, key) in where:
            lines[where[section, key][0]] = f"{key} = {value}"
    added: dict[str, list[str]] = {}
    for (section, key), value in options.items():
        if (section, key) not in where:
            added.setdefault(section, []).append(f"{key} = {value}")
    # Insert from the bottom up so the indexes of the sections above stay valid.
    for section in sorted(
        (s for s in added if s in section_end), key=section_end.__getitem__, reverse=True
    ):
        at = section_end[section]
        lines[at:at] = added[section]
    for section, new in added.items():
        if section not in section_end:
            lines += ["", f"[{section}]", *new]
    return "\n".join(lines).lstrip("\n") + "\n"


def config_file(settings: Settings) -> Path:
    return airflow_home(settings) / "airflow.cfg"


def write_config(settings: Settings, *, port: int = 8080) -> Path:
    """Write :func:`airflow_options` into ``$AIRFLOW_HOME/airflow.cfg`` (created if absent)."""
    path = config_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    updated = set_options(text, airflow_options(settings, port=port))
    if updated != text:
        tmp = path.with_suffix(".cfg.tmp")
        tmp.write_text(updated, encoding="utf-8")
        tmp.replace(path)
    return path


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
    """Create Airflow's metadata database (idempotent) and the one-slot writer pool, and
    write the configuration of ``env`` (its port) into ``airflow.cfg``."""
    airflow_home(settings).mkdir(parents=True, exist_ok=True)
    admin_password(settings)
    airflow(settings, "db", "migrate", env=env)
    # After the migration: Airflow writes its default airflow.cfg on first use.
    port = int((env or {}).get("AIRFLOW__API__PORT", "8080"))
    write_config(settings, port=port)
    airflow(
        settings,
        "pools",
        "set",
        LAKE_WRITER_POOL,
        "1",
        "One lake writer at a time (DESIGN.md decision 6)",
        env=env,
    )
