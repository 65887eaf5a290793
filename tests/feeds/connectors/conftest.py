"""Fixtures of the connector tests: the demo feed server on loopback, settings in a
temporary home, an injected sleep, and HTTP transports that count, record or crash.

Helpers are handed out as fixtures (``records``, ``settings_for``, ``wire``) because tests
run with ``--import-mode=importlib``: a test module cannot import a sibling module.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from feeds.demo_city.server import Faults, FeedServer, serve
from schemas.settings import Settings

BASE = datetime(2024, 3, 1, 8, 0, 0)


def person(i: int) -> dict[str, Any]:
    return {
        "GMSFHM": f"4401061990010{i:05d}",
        "XM": f"张 {i}",
        "XBDM": "1",
        "MZDM": "01",  # a leading zero that must survive
        "GXSJ": (BASE + timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M:%S"),
    }


def penalty(i: int) -> dict[str, Any]:
    # CF_NR_FK is a JSON number: it must come back as its text, not a float repr.
    return {
        "CF_WSH": f"穗罚[2024]{i:03d}号",
        "CF_CFJGDM": "11440100MB2C12345X",
        "CF_NR_FK": 0.5 + i,
    }


# 23 persons with valid update times, then dirt in GXSJ: a non-ISO spelling and a date in
# the future; neither may become the watermark (the future one would skip real records).
PERSONS = [person(i) for i in range(23)]
PERSONS.append({**person(23), "GXSJ": "2024/3/9"})
PERSONS.append({**person(24), "GXSJ": "2099-01-01 00:00:00"})
PENALTIES = [penalty(i) for i in range(17)]
MAX_VALID_GXSJ = PERSONS[22]["GXSJ"]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps(
            {"updated_at": (BASE + timedelta(minutes=i)).isoformat(), "record": r},
            ensure_ascii=False,
        )
        for i, r in enumerate(records)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_settings(home: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "home": home,
        "http_timeout_seconds": 5.0,
        "http_attempts": 5,
        "http_backoff_seconds": 0.5,
        "http_backoff_max_seconds": 8.0,
        "http_retry_after_cap_seconds": 60.0,
    }
    return Settings(**(values | overrides))


class Sleeps:
    """An injected sleep: records what it was asked to wait and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class Crash(BaseException):
    """A process dying mid-pull: no retry logic may catch it (hence BaseException)."""


class CountingTransport(httpx.HTTPTransport):
    """Real HTTP, counting requests; optionally 'crashes' when request ``crash_at`` starts."""

    def __init__(self, crash_at: int | None = None) -> None:
        super().__init__()
        self.requests: list[str] = []
        self.crash_at = crash_at

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url))
        if self.crash_at is not None and len(self.requests) == self.crash_at:
            raise Crash(str(request.url))
        return super().handle_request(request)


class RecordingTransport(httpx.HTTPTransport):
    """Real HTTP, recording what came back for each request: the oracle of retry tests.

    Each entry is (page query, status or "timeout", Retry-After, body).
    """

    def __init__(self) -> None:
        super().__init__()
        self.exchanges: list[tuple[str, int | str, str | None, bytes]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        query = request.url.query.decode()
        try:
            response = super().handle_request(request)
            response.read()
        except httpx.TimeoutException:
            self.exchanges.append((query, "timeout", None, b""))
            raise
        retry_after = response.headers.get("Retry-After")
        self.exchanges.append((query, response.status_code, retry_after, response.content))
        return response

    def failures(
        self, ok_path: tuple[str, ...], ok_value: object
    ) -> list[tuple[str, int | str, str | None]]:
        """The exchanges a client must not accept: errors, bad JSON, errors dressed as 200."""
        bad = []
        for query, status, retry_after, body in self.exchanges:
            if status == 200:
                try:
                    document = json.loads(body)
                except ValueError:
                    bad.append((query, "invalid json", None))
                    continue
                value = document
                for step in ok_path:
                    value = value.get(step) if isinstance(value, dict) else None
                if value == ok_value and type(value) is type(ok_value):
                    continue
                bad.append((query, "error body", None))
            else:
                bad.append((query, status, retry_after))
        return bad


@dataclass(frozen=True)
class Records:
    """What the demo server serves, as the tests expect to read it back."""

    persons: list[dict[str, Any]]
    penalties: list[dict[str, Any]]
    max_valid_gxsj: str


@dataclass(frozen=True)
class Wire:
    """The HTTP test doubles: real requests, counted, recorded, or cut off."""

    Crash: type[Crash]
    Counting: type[CountingTransport]
    Recording: type[RecordingTransport]


@pytest.fixture(scope="session")
def records() -> Records:
    return Records(PERSONS, PENALTIES, MAX_VALID_GXSJ)


@pytest.fixture(scope="session")
def settings_for() -> Callable[..., Settings]:
    return make_settings


@pytest.fixture(scope="session")
def wire() -> Wire:
    return Wire(Crash, CountingTransport, RecordingTransport)


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo_city")
    write_jsonl(root / "deliveries/population_api/persons.jsonl", PERSONS)
    write_jsonl(root / "deliveries/credit_api/penalties.jsonl", PENALTIES)
    return root


@pytest.fixture(scope="module")
def feed_server(demo_data: Path) -> Iterator[FeedServer]:
    with serve(demo_data, port=0) as server:
        yield server


@pytest.fixture
def server(feed_server: FeedServer) -> Iterator[FeedServer]:
    """The module's server with faults off (and attempt counts reset) for each test."""
    feed_server.set_faults(Faults())
    yield feed_server
    feed_server.set_faults(Faults())


@pytest.fixture
def settings(tmp_path: Path, feed_server: FeedServer) -> Settings:
    return make_settings(
        tmp_path / "home",
        population_api_url=feed_server.url,
        credit_api_url=feed_server.url,
    )


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()
