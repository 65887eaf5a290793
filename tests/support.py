"""Helpers the test folders share: loopback ports, an app served in a thread, Chromium."""

from __future__ import annotations

import os
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fastapi import FastAPI

    from schemas.settings import Settings

#: Debian's Chromium (``scripts/ensure_system_packages.sh`` installs it); never a
#: browser downloaded by a test tool.
CHROMIUM = Path("/usr/bin/chromium")
#: Without the background-networking flags Chromium keeps calling Google's hosts, which a
#: closed network refuses many times a second.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(app: FastAPI, *, lifespan: bool = True) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yield its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on" if lifespan else "off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            msg = "uvicorn did not start within 20 s"
            raise RuntimeError(msg)
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def find_chromium(path: Path = CHROMIUM) -> Path:
    """Debian's Chromium; fails (or skips, with CITYBRAIN_SKIP_BROWSER=1) when missing."""
    if path.exists():
        return path
    if os.environ.get("CITYBRAIN_SKIP_BROWSER") == "1":
        pytest.skip("CITYBRAIN_SKIP_BROWSER=1: browser tests are skipped")
    pytest.fail(
        f"Chromium is not installed at {path}: run `scripts/ensure_system_packages.sh` "
        "as root (it installs Debian's chromium), or set CITYBRAIN_SKIP_BROWSER=1 to skip "
        "the browser tests.",
        pytrace=False,
    )


#: A demo city's feeds in the order the demo runs them: the full exports from the drop
#: folder first (boundaries before anything is placed on them), then the APIs over
#: loopback — population's increments, and credit last, since its older records name
#: authorities that the licence feed identifies by credit code.
FILE_FEEDS = ("geospatial", "population", "legal_entity", "licence")
API_FEEDS = ("population", "credit")


def ingest_demo_city(settings: Settings, city: Path) -> None:
    """Create the lake and ingest every feed of a generated demo city with the task
    functions the DAGs run (its APIs served on a free loopback port meanwhile)."""
    from citybrain import tasks
    from feeds.demo_city.server import serve
    from warehouse.lake import init_lake

    init_lake(settings)
    with serve(city, port=0) as server:
        for feed in FILE_FEEDS:
            tasks.ingest(feed, str(city / "deliveries" / feed), settings=settings)
        for feed in API_FEEDS:
            tasks.ingest(feed, server.url, settings=settings)
