"""`citybrain up` / `make up`: the Airflow UI on loopback, with the demo's runs visible."""

from __future__ import annotations

import subprocess

from rich.console import Console

from citybrain import airflow_env
from schemas.settings import get_settings


def run_up(port: int) -> None:
    settings = get_settings()
    console = Console()
    env = airflow_env.environment(settings, port=port)
    with console.status("Preparing Airflow (metadata database, lake_writer pool)..."):
        airflow_env.prepare(settings, env=env)
    password = airflow_env.admin_password(settings)
    console.print(
        f"Airflow UI: [bold]http://127.0.0.1:{port}[/]  login [bold]{airflow_env.ADMIN_USER}[/] / "
        f"[bold]{password}[/]  (Ctrl-C stops it)"
    )
    try:
        subprocess.run(
            [airflow_env.airflow_bin(), "standalone"], env=env, cwd=airflow_env.REPO, check=False
        )
    except KeyboardInterrupt:
        console.print("Airflow stopped.")
