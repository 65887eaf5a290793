"""HTTP pulls against the demo city's feed server on loopback, its faults switched on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

from feeds.connectors.http import RetryPolicy, pull_http
from feeds.connectors.read import read_delivery
from feeds.delivery import RawDelivery
from feeds.demo_city.server import Faults, FeedServer
from feeds.raw_zone import RawZone
from feeds.spec import FEEDS, HttpCursorTransport, HttpPageTransport
from schemas.errors import ConfigError, ContractViolation, SourceUnavailable
from schemas.settings import Settings

pytestmark = pytest.mark.integration

POPULATION = FEEDS["population"]
PERSONS_RES = POPULATION.resources[0]
CREDIT = FEEDS["credit"]
PENALTIES_RES = CREDIT.resources[0]
# Small pages so a handful of records makes several pages: 25 persons -> 5 pages (the
# last one full, so the pull must stop on `total`), 17 penalties -> 4 pages.
PAGES = next(t for t in PERSONS_RES.transports if isinstance(t, HttpPageTransport)).model_copy(
    update={"page_size": 5}
)
CURSOR = next(t for t in PENALTIES_RES.transports if isinstance(t, HttpCursorTransport)).model_copy(
    update={"limit": 5}
)
N_PAGES = {"persons": 5, "penalties": 4}


def _pull(
    kind: str,
    settings: Settings,
    *,
    sleeps: Callable[[float], None] | None = None,
    client: httpx.Client | None = None,
    since: str | None = None,
) -> RawDelivery:
    spec, res, transport, url = (
        (POPULATION, PERSONS_RES, PAGES, settings.population_api_url)
        if kind == "persons"
        else (CREDIT, PENALTIES_RES, CURSOR, settings.credit_api_url)
    )
    return pull_http(
        spec,
        res,
        transport,
        url,
        since=since,
        settings=settings,
        zone=RawZone(settings.raw_dir),
        client=client,
        sleep=sleeps if sleeps is not None else (lambda _: None),
        rng=lambda: 0.5,  # jitter fixed so the waits can be asserted exactly
    )


@pytest.fixture(scope="module")
def clean(
    feed_server: FeedServer,
    tmp_path_factory: pytest.TempPathFactory,
    settings_for: Callable[..., Settings],
) -> dict[str, str]:
    """The sha256 of a fault-free, uninterrupted pull of each resource."""
    feed_server.set_faults(Faults())
    home = tmp_path_factory.mktemp("clean")
    settings = settings_for(
        home, population_api_url=feed_server.url, credit_api_url=feed_server.url
    )
    return {kind: _pull(kind, settings).sha256 for kind in N_PAGES}


def _inflight(settings: Settings, feed: str, resource: str) -> list[Path]:
    root = settings.raw_dir / feed / resource / "_inflight"
    return [p for p in root.iterdir() if p.is_dir()] if root.exists() else []


def test_page_pull_keeps_every_record_once_with_page_provenance(
    records: Any, server: FeedServer, settings: Settings
) -> None:
    raw = _pull("persons", settings)
    assert raw.format == "json_pages"
    assert len(raw.raw_paths) == 5
    assert raw.rows_hint == len(records.persons) == 25
    frame = read_delivery(raw).collect()
    assert frame["GMSFHM"].to_list() == [p["GMSFHM"] for p in records.persons]
    assert frame["_source_row"].to_list() == list(range(1, 26))
    assert frame.schema["MZDM"] == pl.String
    assert set(frame["MZDM"]) == {"01"}  # leading zero kept
    pages = frame["_source"].to_list()
    assert pages[0].startswith(f"{server.url}/api/v1/population/persons?")
    assert "page=1&" in pages[0] and "page=5&" in pages[-1]
    # Dirty and future GXSJ values are seen but never become the watermark.
    assert raw.cursor_max == records.max_valid_gxsj
    assert any("1 in the future" in n and "1 not ISO" in n for n in raw.notes)
    assert _inflight(settings, "population", "persons") == []


def test_cursor_pull_reads_numbers_as_the_text_sent(
    records: Any, server: FeedServer, settings: Settings
) -> None:
    raw = _pull("penalties", settings)
    frame = read_delivery(raw).collect()
    assert len(raw.raw_paths) == 4
    assert frame["CF_WSH"].to_list() == [p["CF_WSH"] for p in records.penalties]
    assert frame["CF_NR_FK"].to_list() == [str(p["CF_NR_FK"]) for p in records.penalties]
    assert raw.cursor_max is None  # penalties have no cursor field in the spec


def test_pulling_the_same_content_twice_is_one_delivery(
    server: FeedServer, settings: Settings
) -> None:
    first = _pull("persons", settings)
    again = _pull("persons", settings)
    assert again == first
    stored = [p for p in (settings.raw_dir / "population" / "persons").iterdir()]
    assert [p.name for p in stored if not p.name.startswith("_")] == [first.sha256]


def test_since_is_sent_and_named_in_the_source(server: FeedServer, settings: Settings) -> None:
    raw = _pull("persons", settings, since="2024-03-01 08:20:00")
    assert raw.rows_hint == 5  # persons 20..24; the server's since is inclusive
    assert (
        raw.source
        == f"{server.url}/api/v1/population/persons?updated_since=2024-03-01+08%3A20%3A00"
    )


def _recorded_pull(
    kind: str, settings: Settings, sleeps: Any, wire: Any
) -> tuple[RawDelivery, list[tuple[str, int | str, str | None]]]:
    """Pull through a recorder; returns the delivery and the failed exchanges seen."""
    recorder = wire.Recording()
    with httpx.Client(transport=recorder) as client:
        raw = _pull(kind, settings, sleeps=sleeps, client=client)
    transport = PAGES if kind == "persons" else CURSOR
    failures = recorder.failures(transport.ok_path, transport.ok_value)
    assert failures, "no fault fired: this test would prove nothing"
    return raw, failures


def _fault_settings(
    settings_for: Callable[..., Settings], server: FeedServer, home: Path, **overrides: object
) -> Settings:
    # Rates below 1 leave every page a way through; ten attempts make that certain.
    return settings_for(
        home,
        population_api_url=server.url,
        credit_api_url=server.url,
        http_attempts=10,
        **overrides,
    )


@pytest.mark.parametrize("kind", ["persons", "penalties"])
def test_429_waits_exactly_what_retry_after_asks(
    wire: Any,
    settings_for: Callable[..., Settings],
    kind: str,
    server: FeedServer,
    tmp_path: Path,
    sleeps: Any,
    clean: dict[str, str],
) -> None:
    server.set_faults(Faults(seed=1, rate_429=0.5, retry_after_seconds=7))
    raw, failures = _recorded_pull(
        kind, _fault_settings(settings_for, server, tmp_path), sleeps, wire
    )
    assert {(status, after) for _, status, after in failures} == {(429, "7")}
    assert sleeps.calls == [7.0] * len(failures)
    assert raw.sha256 == clean[kind]


def test_retry_after_beyond_the_cap_is_capped(
    wire: Any,
    settings_for: Callable[..., Settings],
    server: FeedServer,
    tmp_path: Path,
    sleeps: Any,
    clean: dict[str, str],
) -> None:
    settings = _fault_settings(settings_for, server, tmp_path, http_retry_after_cap_seconds=60)
    server.set_faults(Faults(seed=1, rate_429=0.5, retry_after_seconds=3600))
    raw, failures = _recorded_pull("penalties", settings, sleeps, wire)
    assert sleeps.calls == [60.0] * len(failures)
    assert raw.sha256 == clean["penalties"]


@pytest.mark.parametrize(
    ("faults", "what"),
    [
        pytest.param(Faults(seed=1, rate_503=0.5), 503, id="503"),
        pytest.param(Faults(seed=1, rate_error_body=0.5), "error body", id="error-dressed-as-200"),
        pytest.param(Faults(seed=1, rate_truncated=0.5), "invalid json", id="truncated-json"),
    ],
)
@pytest.mark.parametrize("kind", ["persons", "penalties"])
def test_faulty_pages_are_retried_with_backoff_and_never_stored(
    wire: Any,
    settings_for: Callable[..., Settings],
    kind: str,
    faults: Faults,
    what: object,
    server: FeedServer,
    tmp_path: Path,
    sleeps: Any,
    clean: dict[str, str],
) -> None:
    server.set_faults(faults)
    raw, failures = _recorded_pull(
        kind, _fault_settings(settings_for, server, tmp_path), sleeps, wire
    )
    assert {status for _, status, _ in failures} == {what}
    # The n-th failure of a page waits backoff(n): 0.5 s doubling, equal jitter at rng 0.5.
    policy = RetryPolicy(backoff=0.5, backoff_max=8.0)
    streak: dict[str, int] = {}
    expected = []
    for query, _, _ in failures:
        streak[query] = streak.get(query, 0) + 1
        expected.append(policy.backoff_delay(streak[query], lambda: 0.5))
    assert sleeps.calls == expected
    # Only good pages were kept: the bytes equal those of a pull that met no fault.
    assert raw.sha256 == clean[kind]
    for path in raw.raw_paths:
        json.loads(path.read_bytes())


def test_a_page_that_times_out_is_retried(
    wire: Any,
    settings_for: Callable[..., Settings],
    server: FeedServer,
    tmp_path: Path,
    sleeps: Any,
    clean: dict[str, str],
) -> None:
    settings = _fault_settings(settings_for, server, tmp_path, http_timeout_seconds=0.3)
    server.set_faults(Faults(seed=1, rate_slow=0.5, slow_seconds=5))
    raw, failures = _recorded_pull("penalties", settings, sleeps, wire)
    assert {status for _, status, _ in failures} == {"timeout"}
    assert len(sleeps.calls) == len(failures)
    assert raw.sha256 == clean["penalties"]


def test_duplicate_items_across_pages_are_passed_through(
    records: Any, server: FeedServer, settings: Settings
) -> None:
    server.set_faults(Faults(rate_duplicate_item=1.0))
    raw = _pull("penalties", settings)
    frame = read_delivery(raw).collect()
    # Each page after the first starts with the last item of the page before it.
    assert frame.height == len(records.penalties) + 3 == raw.rows_hint
    assert frame["CF_WSH"].n_unique() == len(records.penalties)
    repeated = frame.filter(pl.col("CF_WSH").is_duplicated())
    assert repeated["CF_WSH"].unique().sort().to_list() == [
        records.penalties[i]["CF_WSH"] for i in (4, 8, 12)
    ]
    # Both copies keep their own page as provenance.
    assert repeated.group_by("CF_WSH").agg(pl.col("_source").n_unique())["_source"].to_list() == [
        2,
        2,
        2,
    ]


def test_exhausted_attempts_name_feed_url_page_status_and_what_to_do(
    settings_for: Callable[..., Settings], server: FeedServer, tmp_path: Path, sleeps: Any
) -> None:
    settings = settings_for(tmp_path, population_api_url=server.url, http_attempts=3)
    server.set_faults(Faults(rate_503=1.0, max_faults_per_page=10))
    with pytest.raises(SourceUnavailable) as caught:
        _pull("persons", settings, sleeps=sleeps)
    message = str(caught.value)
    for part in ("feed population", "/api/v1/population/persons", "page 1", "HTTP 503", "resumes"):
        assert part in message
    assert len(sleeps.calls) == 2  # 3 attempts, 2 waits between them


@pytest.mark.parametrize(
    ("setting", "override", "kind"),
    [
        ("CITYBRAIN_POPULATION_TOKEN", {"population_token": "wrong-token"}, "persons"),
        ("CITYBRAIN_CREDIT_API_KEY", {"credit_api_key": "wrong-token"}, "penalties"),
    ],
)
def test_401_is_terminal_and_names_the_setting_without_the_secret(
    settings_for: Callable[..., Settings],
    server: FeedServer,
    tmp_path: Path,
    sleeps: Any,
    setting: str,
    override: dict,
    kind: str,
) -> None:
    settings = settings_for(
        tmp_path, population_api_url=server.url, credit_api_url=server.url, **override
    )
    with pytest.raises(ConfigError, match=setting) as caught:
        _pull(kind, settings, sleeps=sleeps)
    assert "wrong-token" not in str(caught.value)
    assert "401" in str(caught.value)
    assert sleeps.calls == []  # no retry: only a new credential helps


def test_a_refused_request_is_a_contract_violation(server: FeedServer, settings: Settings) -> None:
    with pytest.raises(ContractViolation, match="HTTP 400"):
        _pull("persons", settings, since="yesterday")


@pytest.mark.parametrize(
    ("kind", "crash_at"), [("persons", 1), ("persons", 3), ("persons", 5), ("penalties", 3)]
)
def test_a_crash_mid_pull_resumes_without_fetching_a_page_twice(
    records: Any,
    wire: Any,
    kind: str,
    crash_at: int,
    server: FeedServer,
    settings: Settings,
    clean: dict[str, str],
) -> None:
    crashing = wire.Counting(crash_at=crash_at)
    with pytest.raises(wire.Crash), httpx.Client(transport=crashing) as client:
        _pull(kind, settings, client=client)
    feed = "population" if kind == "persons" else "credit"
    assert len(_inflight(settings, feed, kind)) == 1

    counting = wire.Counting()
    with httpx.Client(transport=counting) as client:
        raw = _pull(kind, settings, client=client)
    # Pages 1..crash_at-1 were kept; only the rest is asked for.
    assert len(counting.requests) == N_PAGES[kind] - (crash_at - 1)
    assert raw.sha256 == clean[kind]
    frame = read_delivery(raw).collect()
    key = "GMSFHM" if kind == "persons" else "CF_WSH"
    expected = records.persons if kind == "persons" else records.penalties
    assert frame[key].to_list() == [r[key] for r in expected]
    assert _inflight(settings, feed, kind) == []


def test_a_crash_between_keeping_a_page_and_saving_the_state(
    records: Any,
    wire: Any,
    server: FeedServer,
    settings: Settings,
    clean: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from feeds.raw_zone import InFlight

    original = InFlight._write_state
    calls = []

    def dying(self: InFlight) -> None:
        calls.append(1)
        if len(calls) == 3:  # begin, page 1, then page 2's state: page 2 is on disk
            raise wire.Crash
        original(self)

    monkeypatch.setattr(InFlight, "_write_state", dying)
    with pytest.raises(wire.Crash):
        _pull("persons", settings)
    monkeypatch.setattr(InFlight, "_write_state", original)

    counting = wire.Counting()
    with httpx.Client(transport=counting) as client:
        raw = _pull("persons", settings, client=client)
    assert len(counting.requests) == 4  # page 2 again (the state never counted it), 3, 4, 5
    assert raw.sha256 == clean["persons"]
    assert (
        read_delivery(raw).collect()["GMSFHM"].n_unique() == len(records.persons) == raw.rows_hint
    )


def test_a_failed_pull_resumes_at_the_failed_page(
    wire: Any, server: FeedServer, settings: Settings, sleeps: Any, clean: dict[str, str]
) -> None:
    class Page3Down(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.params.get("page") == "3":
                return httpx.Response(503, text="down")
            return super().handle_request(request)

    with pytest.raises(SourceUnavailable, match="page 3"), httpx.Client(transport=Page3Down()) as c:
        _pull("persons", settings, client=c, sleeps=sleeps)
    counting = wire.Counting()
    with httpx.Client(transport=counting) as client:
        raw = _pull("persons", settings, client=client)
    assert [httpx.URL(u).params["page"] for u in counting.requests] == ["3", "4", "5"]
    assert raw.sha256 == clean["persons"]


def test_a_saved_cursor_the_server_refuses_starts_the_pull_over(
    wire: Any, server: FeedServer, settings: Settings, clean: dict[str, str]
) -> None:
    with pytest.raises(wire.Crash), httpx.Client(transport=wire.Counting(crash_at=3)) as client:
        _pull("penalties", settings, client=client)
    (flight,) = _inflight(settings, "credit", "penalties")
    state = json.loads((flight / "state.json").read_text())
    state["cursor"] = "expired"  # as a real API's cursor after some hours
    (flight / "state.json").write_text(json.dumps(state))

    counting = wire.Counting()
    with httpx.Client(transport=counting) as client:
        raw = _pull("penalties", settings, client=client)
    assert len(counting.requests) == 1 + N_PAGES["penalties"]  # the refusal, then all
    assert raw.sha256 == clean["penalties"]


_KILLED_PULL = textwrap.dedent(
    """
    import os, signal, sys
    import httpx
    from feeds.connectors.http import pull_http
    from feeds.raw_zone import RawZone
    from feeds.spec import FEEDS, HttpPageTransport
    from schemas.settings import Settings

    home, url, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])

    class Killer(httpx.HTTPTransport):
        seen = 0
        def handle_request(self, request):
            Killer.seen += 1
            if Killer.seen == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)  # no finally, no flush: a real crash
            return super().handle_request(request)

    spec = FEEDS["population"]
    res = spec.resources[0]
    pages = next(t for t in res.transports if isinstance(t, HttpPageTransport))
    settings = Settings(home=home, population_api_url=url)
    with httpx.Client(transport=Killer()) as client:
        pull_http(spec, res, pages.model_copy(update={"page_size": 5}), url, since=None,
                  settings=settings, zone=RawZone(settings.raw_dir), client=client,
                  sleep=lambda s: None)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", [2, 4])
def test_sigkill_mid_pull_then_a_new_pull_gives_the_uninterrupted_result(
    records: Any,
    wire: Any,
    kill_at: int,
    server: FeedServer,
    settings: Settings,
    clean: dict[str, str],
    tmp_path: Path,
) -> None:
    script = tmp_path / "killed_pull.py"
    script.write_text(_KILLED_PULL)
    result = subprocess.run(
        [sys.executable, str(script), str(settings.home), server.url, str(kill_at)],
        cwd=Path(__file__).resolve().parents[3],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()
    counting = wire.Counting()
    with httpx.Client(transport=counting) as client:
        raw = _pull("persons", settings, client=client)
    assert len(counting.requests) == N_PAGES["persons"] - (kill_at - 1)
    assert raw.sha256 == clean["persons"]
    assert read_delivery(raw).collect()["GMSFHM"].to_list() == [
        p["GMSFHM"] for p in records.persons
    ]


def test_retry_after_as_an_http_date() -> None:
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    wait = RetryPolicy(retry_after_cap=60).retry_after(when)
    assert wait is not None and 25 <= wait <= 30
