"""`citybrain up` / `make up`: Airflow on loopback with citybrain's DAGs and the demo's runs,
the situation page (`citybrain serve`) and, after `make demo`, the demo city's feed server.

Starts Airflow's API server (UI, REST API and the execution API the workers call) first,
and the scheduler, DAG processor and triggerer only once it answers: ``airflow
standalone`` starts all four at once, and on a busy machine the scheduler's first tasks
called the execution API before it listened and failed ("connection refused"). The login
is printed once the UI answers. Each component logs to ``$AIRFLOW_HOME/logs/up/``.

Ctrl-C or SIGTERM stops every component; if one of them dies, the others are stopped too
and the command fails with the last lines of its log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from rich.console import Console

from citybrain import airflow_env
from schemas.settings import DEMO_API_URL, Settings, get_settings

if TYPE_CHECKING:
    from pathlib import Path
    from types import FrameType

#: Started after the API server answers, in this order.
BACKGROUND = ("scheduler", "dag-processor", "triggerer")
#: How long the API server may take to answer (a cold start on a loaded 2-core machine
#: took over a minute).
READY_TIMEOUT_SECONDS = 600.0
STOP_TIMEOUT_SECONDS = 30.0
HEALTH_PATH = "/api/v2/monitor/health"

# Loopback only: never through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class _Stop(Exception):
    """SIGTERM arrived: stop like on Ctrl-C."""


@dataclass
class _Component:
    name: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    log_path: Path


def answers(url: str, timeout: float = 5.0) -> bool:
    """Whether ``url`` answers HTTP 200 now.

    >>> answers("http://127.0.0.1:9/")  # the discard port: nobody listens there
    False
    """
    try:
        with _OPENER.open(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _start(name: str, env: dict[str, str], logs: Path, argv: list[str] | None = None) -> _Component:
    log_path = logs / f"{name}.log"
    log = log_path.open("ab")
    process = subprocess.Popen(
        argv or [airflow_env.airflow_bin(), name],
        env=env,
        cwd=airflow_env.REPO,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return _Component(name, process, log, log_path)


def _tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _processes() -> dict[int, tuple[int, int, str]]:
    """Every process from ``/proc``: pid -> (parent pid, process group, start time)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ... starttime (22nd field): comm may hold spaces, so
        # split after its ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":
            found[int(entry.name)] = (int(fields[1]), int(fields[2]), fields[19])
    return found


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group, from ``/proc``."""
    return [pid for pid, (_, group, _) in _processes().items() if group == pgid]


def descendants(pids: list[int]) -> dict[int, str]:
    """The live descendants of ``pids``: pid -> start time (to tell a reused pid apart)."""
    processes = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    found: dict[int, str] = {}
    todo = list(pids)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found[child] = processes[child][2]
                todo.append(child)
    return found


def _stop_until_gone(alive: Callable[[], list[int]], deadline: float) -> None:
    """SIGTERM every process ``alive()`` lists, then SIGKILL the ones left at ``deadline``."""
    for signal_number in (signal.SIGTERM, signal.SIGKILL):
        for pid in alive():
            with suppress(ProcessLookupError):
                os.kill(pid, signal_number)
        while alive():
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        else:
            return
        deadline = time.monotonic() + 5


def _stop_stragglers(deadline: float) -> None:
    """When ``citybrain up`` leads its process group, wait for the rest of it to go.

    The components' own children (the scheduler's task processes, the API server's
    workers) outlive them by a moment, or keep running when a component was killed: they
    get SIGTERM, then SIGKILL at the deadline, so "Airflow stopped." means no process is
    left. Under ``make up`` the group is make's: :func:`_stop_orphans` finds them there.
    """
    me = os.getpid()
    if os.getpgrp() != me:
        return
    _stop_until_gone(lambda: [p for p in group_members(me) if p != me], deadline)


def _stop_orphans(family: dict[int, str], deadline: float) -> None:
    """Stop what is left of the components' children once the components are gone.

    The scheduler's LocalExecutor workers ignore SIGTERM and wait on their parent's queue
    for ever once it is gone: left alone, every stopped ``make up`` left them behind, idle.
    """

    def alive() -> list[int]:
        now = _processes()
        return [pid for pid, started in family.items() if pid in now and now[pid][2] == started]

    _stop_until_gone(alive, deadline)


def _stop(components: list[_Component]) -> None:
    family = descendants([c.process.pid for c in components])
    for c in components:
        if c.process.poll() is None:
            c.process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for c in components:
        try:
            c.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            c.process.kill()
            c.process.wait()
        c.log.close()
    _stop_stragglers(deadline)
    _stop_orphans(family, deadline)


def _dead(components: list[_Component]) -> _Component | None:
    return next((c for c in components if c.process.poll() is not None), None)


def _wait_for_api(url: str, components: list[_Component]) -> _Component | None:
    """Wait until the API server answers; the component that died meanwhile, if one did."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not answers(url + HEALTH_PATH):
        if dead := _dead(components):
            return dead
        if time.monotonic() > deadline:
            msg = (
                f"the Airflow API server did not answer on {url} within "
                f"{READY_TIMEOUT_SECONDS:.0f} s; see {components[0].log_path}"
            )
            raise TimeoutError(msg)
        time.sleep(1.0)
    return None


def _citybrain(*args: str) -> list[str]:
    return [sys.executable, "-m", "citybrain.cli", *args]


def _citybrain_services(
    settings: Settings, env: dict[str, str], logs: Path, console: Console
) -> list[_Component]:
    """The situation page, and the demo city's feed server when the demo city is here.

    With the feed server up, the scheduled feed runs Airflow starts pull from it (the
    settings' default API URL is the demo server's) instead of failing on a dead port.
    """
    from citybrain.serve_cli import page_url

    started = [_start("situation-page", env, logs, _citybrain("serve"))]
    console.print(f"Situation page 态势感知: [bold]{page_url(settings.serve_port)}[/]")
    demo_city = settings.home / "demo_city"
    api = urllib.parse.urlsplit(settings.population_api_url)
    if (demo_city / "manifest.json").exists() and settings.population_api_url == DEMO_API_URL:
        argv = _citybrain("demo-city", "serve", "--data", str(demo_city), "--port", str(api.port))
        started.append(_start("demo-feed-server", env, logs, argv))
        console.print(f"Demo city feed server: [bold]{DEMO_API_URL}[/] (population, credit APIs)")
    return started


def run_up(port: int) -> None:
    """Start Airflow on ``127.0.0.1:port`` and keep it running until Ctrl-C or SIGTERM."""
    settings = get_settings()
    console = Console(soft_wrap=True)  # the URL and password stay on one line each
    env = airflow_env.environment(settings, port=port)
    url = airflow_env.api_url(port)
    with console.status("Preparing Airflow (metadata database, lake_writer pool)..."):
        airflow_env.prepare(settings, env=env)
    password = airflow_env.admin_password(settings)
    logs = airflow_env.airflow_home(settings) / "logs" / "up"
    logs.mkdir(parents=True, exist_ok=True)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        # One is enough: `uv run` forwards the group's SIGTERM again, and a second one
        # raised inside the shutdown would leave the components running.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise _Stop

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    components: list[_Component] = []
    failed: _Component | None = None
    try:
        components.append(_start("api-server", env, logs))
        with console.status(f"Starting the Airflow API server on {url} ..."):
            failed = _wait_for_api(url, components)
        if failed is None:
            # The workers call the execution API from their first task on: start the
            # scheduler (and the rest) only now that it answers.
            components += [_start(name, env, logs) for name in BACKGROUND]
            components += _citybrain_services(settings, env, logs, console)
            console.print(f"Airflow UI: [bold]{url}[/]")
            console.print(
                f"Login: [bold]{airflow_env.ADMIN_USER}[/] / [bold]{password}[/]  (Ctrl-C stops it)"
            )
            console.print(f"[dim]Logs of each component: {logs}[/]")
            while (failed := _dead(components)) is None:
                time.sleep(1.0)
    except (KeyboardInterrupt, _Stop):
        console.print("Stopping Airflow...")
    finally:
        # Nothing cuts the shutdown short (a second Ctrl-C, a forwarded SIGTERM): it ends
        # with SIGKILL at its own deadline anyway.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            _stop(components)
        finally:
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, previous_int)
    if failed is not None:
        console.print(
            f"[red]Airflow's {failed.name} exited ({failed.process.returncode}); "
            f"the last lines of {failed.log_path}:[/]\n{_tail(failed.log_path)}"
        )
        raise SystemExit(1)
    console.print("Airflow stopped.")
