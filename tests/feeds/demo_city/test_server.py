"""The demo feed server, spoken to over real HTTP on a loopback port."""

from __future__ import annotations

import itertools
import json
import logging
import ssl
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from feeds.demo_city.server import (
    DEMO_CREDIT_API_KEY,
    DEMO_POPULATION_TOKEN,
    PROFILES,
    THREAD_PREFIX,
    Faults,
    FeedServer,
    load_faults,
    serve,
)
from schemas.errors import ConfigError, ContractViolation

pytestmark = pytest.mark.integration

PERSONS = "/api/v1/population/persons"
BASE = datetime(2024, 3, 1, 8, 0, 0)
BEARER = {"Authorization": f"Bearer {DEMO_POPULATION_TOKEN}"}
API_KEY = {"X-Api-Key": DEMO_CREDIT_API_KEY}


# ---------------------------------------------------------------------------------------
# Tiny deliveries: out of order in the file, with ties in update time, so the server's
# ordering (time, then file order) is actually exercised.


def _person(i: int) -> tuple[datetime, dict]:
    when = BASE + timedelta(hours=(i * 5) % 7)
    return when, {
        "GMSFHM": f"44010619900101{i:04d}",
        "XM": f"张 {i}",
        "XBDM": "1",
        "CSRQ": "1990-01-01",
        "MZDM": "01",
        "HJDZ_XZQHDM": "440106",
        "HJDZ": "广州市天河区",
        "JZDZ_XZQHDM": "440106001001",
        "JZDZ": "广州市天河区某街",
        "RKLX": "1",
        "LXDH": "+86 138-0013-8000",
        "SWBS": "0",
        "GXSJ": when.strftime("%Y-%m-%d %H:%M:%S"),
    }


def _penalty(i: int) -> tuple[datetime, dict]:
    when = BASE + timedelta(minutes=30 * ((i * 3) % 5))
    return when, {"CF_WSH": f"穗罚[2024]{i}号", "CF_CFJGDM": "11440100MB2C12345X", "CF_NR_FK": i}


def _permit(i: int) -> tuple[datetime, dict]:
    return BASE + timedelta(days=i), {"XK_WSH": f"穗许[2024]{i}号", "XK_XKJGDM": "11440100X"}


PERSON_ROWS = [_person(i) for i in range(23)]
PENALTY_ROWS = [_penalty(i) for i in range(17)]
PERMIT_ROWS = [_permit(i) for i in range(3)]


def _in_order(rows: list[tuple[datetime, dict]], since: datetime | None = None) -> list[dict]:
    ordered = sorted(enumerate(rows), key=lambda r: (r[1][0], r[0]))
    return [rec for _, (when, rec) in ordered if since is None or when >= since]


def _write(path: Path, rows: list[tuple[datetime, dict]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps({"updated_at": w.isoformat(), "record": r}, ensure_ascii=False) for w, r in rows
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo_city")
    _write(root / "deliveries/population_api/persons.jsonl", PERSON_ROWS)
    _write(root / "deliveries/credit_api/penalties.jsonl", PENALTY_ROWS)
    _write(root / "deliveries/credit_api/permits.jsonl", PERMIT_ROWS)
    # lists.jsonl deliberately missing: the endpoint must serve an empty list.
    return root


@pytest.fixture
def server(data_dir: Path):
    with serve(data_dir) as srv:
        yield srv


# Plain HTTP only; sharing one context spares every client loading the CA bundle.
_TLS = ssl.create_default_context()


def _client(srv: FeedServer, headers: dict[str, str], timeout: float = 5.0) -> httpx.Client:
    return httpx.Client(base_url=srv.url, headers=headers, timeout=timeout, verify=_TLS)


@pytest.fixture
def pop(server: FeedServer):
    with _client(server, BEARER) as client:
        yield client


@pytest.fixture
def credit(server: FeedServer):
    with _client(server, API_KEY) as client:
        yield client


# Every walk is bounded, so a server that never ends a walk fails a test, not hangs it.
MAX_PAGES = 100


def _numbered_pages(fetch: Callable[[dict], dict], page_size: int, **params: str) -> list[dict]:
    """Each page's ``data`` up to the first empty one; ``fetch`` maps a query to ``data``."""
    pages = []
    for page in range(1, MAX_PAGES):
        data = fetch({**params, "page": page, "page_size": page_size})
        assert (data["page"], data["page_size"]) == (page, page_size)
        if not data["records"]:
            return pages
        pages.append(data)
    pytest.fail(f"page walk did not end within {MAX_PAGES} pages")


def _cursor_pages(
    fetch: Callable[[dict], dict], limit: int, cursor: str | None = None, **params: str
) -> list[dict]:
    """Each page's ``result`` up to ``next_cursor: null``; ``fetch`` maps a query to it."""
    pages = []
    for _ in range(MAX_PAGES):
        result = fetch({**params, "limit": limit, **({"cursor": cursor} if cursor else {})})
        pages.append(result)
        if (cursor := result["next_cursor"]) is None:
            return pages
    pytest.fail(f"cursor walk did not end within {MAX_PAGES} pages")


def _walk_pages(client: httpx.Client, page_size: int, **params: str) -> tuple[list[dict], set[int]]:
    def fetch(query: dict) -> dict:
        resp = client.get(PERSONS, params=query)
        resp.raise_for_status()
        data = resp.json()["data"]
        totals.add(data["total"])
        return data

    totals: set[int] = set()
    pages = _numbered_pages(fetch, page_size, **params)
    return [r for data in pages for r in data["records"]], totals


def _walk_cursor(
    client: httpx.Client, endpoint: str, limit: int, cursor: str | None = None, **params: str
) -> tuple[list[dict], list[str]]:
    def fetch(query: dict) -> dict:
        resp = client.get(f"/api/credit/{endpoint}", params=query)
        resp.raise_for_status()
        body = resp.json()
        assert body["success"] is True
        return body["result"]

    pages = _cursor_pages(fetch, limit, cursor, **params)
    return [i for result in pages for i in result["items"]], [r["next_cursor"] for r in pages[:-1]]


def _outcome(resp: httpx.Response) -> str:
    if resp.status_code != 200:
        return str(resp.status_code)
    try:
        body = resp.json()
    except ValueError:
        return "truncated"
    return "ok" if body.get("code") == 0 or body.get("success") is True else "error_body"


def _admin(srv: FeedServer, payload: dict, headers: dict[str, str] = BEARER) -> httpx.Response:
    return httpx.post(f"{srv.url}/_admin/faults", json=payload, headers=headers, timeout=5)


# ---------------------------------------------------------------------------------------
# Credentials


def test_healthz_needs_no_credentials(server: FeedServer) -> None:
    resp = httpx.get(f"{server.url}/healthz", timeout=5)
    assert (resp.status_code, resp.json()) == (200, {"status": "ok"})


@pytest.mark.parametrize(
    ("headers", "challenge_error"),
    [
        ({}, False),
        ({"Authorization": "Bearer wrong-token"}, True),
        ({"Authorization": f"Basic {DEMO_POPULATION_TOKEN}"}, True),
    ],
    ids=["missing", "wrong-token", "wrong-scheme"],
)
def test_population_refuses_missing_or_wrong_bearer(
    server: FeedServer, headers: dict, challenge_error: bool
) -> None:
    # Faults on: a 401 must never be masked by an injected fault.
    server.set_faults(Faults(rate_503=1.0))
    resp = httpx.get(f"{server.url}{PERSONS}", headers=headers, timeout=5)
    assert resp.status_code == 401
    assert resp.json()["code"] == 401 and resp.json()["msg"]
    challenge = resp.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert ('error="invalid_token"' in challenge) is challenge_error


@pytest.mark.parametrize("headers", [{}, {"X-Api-Key": "wrong"}, BEARER], ids=str)
def test_credit_refuses_missing_or_wrong_api_key(server: FeedServer, headers: dict) -> None:
    resp = httpx.get(f"{server.url}/api/credit/penalties", headers=headers, timeout=5)
    assert resp.status_code == 401
    assert resp.json()["success"] is False and resp.json()["msg"]


# ---------------------------------------------------------------------------------------
# Population: page numbers and updated_since


def test_pages_walk_every_record_once_in_update_order(pop: httpx.Client) -> None:
    records, totals = _walk_pages(pop, page_size=5)
    assert records == _in_order(PERSON_ROWS)
    assert totals == {len(PERSON_ROWS)}
    # Ties in update time keep the delivery file's order.
    assert [r["GMSFHM"] for r in records[:2]] == ["440106199001010000", "440106199001010007"]


def test_updated_since_is_inclusive_and_offset_aware(pop: httpx.Client) -> None:
    since = BASE + timedelta(hours=3)
    expected = _in_order(PERSON_ROWS, since)
    assert 0 < len(expected) < len(PERSON_ROWS)
    assert any(r["GXSJ"] == "2024-03-01 11:00:00" for r in expected), "the boundary is included"
    for spelling in ("2024-03-01T11:00:00", "2024-03-01 11:00:00", "2024-03-01T03:00:00Z"):
        records, totals = _walk_pages(pop, page_size=4, updated_since=spelling)
        assert (records, totals) == (expected, {len(expected)}), spelling


def test_page_past_the_end_and_since_past_the_last_update_are_empty(pop: httpx.Client) -> None:
    data = pop.get(PERSONS, params={"page": 99, "page_size": 10}).json()["data"]
    assert (data["total"], data["records"]) == (len(PERSON_ROWS), [])
    data = pop.get(PERSONS, params={"updated_since": "2030-01-01T00:00:00"}).json()["data"]
    assert (data["total"], data["records"], data["page"], data["page_size"]) == (0, [], 1, 100)


@pytest.mark.parametrize(
    "params",
    [
        {"page": "0"},
        {"page": "-1"},
        {"page": "one"},
        {"page_size": "1001"},
        {"page_size": "0"},
        {"updated_since": "yesterday"},
        {"updated_since": "2024-03-01T00:00:00 08:00"},  # '+' sent unencoded
        {"updatedSince": "2024-03-01"},
    ],
    ids=str,
)
def test_population_bad_parameters_are_400_with_json(pop: httpx.Client, params: dict) -> None:
    resp = pop.get(PERSONS, params=params)
    assert resp.status_code == 400
    body = resp.json()
    assert body["code"] != 0 and next(iter(params)) in body["msg"]


def test_page_size_is_capped_at_1000(pop: httpx.Client) -> None:
    assert pop.get(PERSONS, params={"page_size": 1000}).status_code == 200


# ---------------------------------------------------------------------------------------
# Credit: cursors and since


@pytest.mark.parametrize(
    ("endpoint", "rows"), [("penalties", PENALTY_ROWS), ("permits", PERMIT_ROWS)]
)
def test_cursor_walk_yields_every_item_once(
    credit: httpx.Client, endpoint: str, rows: list
) -> None:
    items, cursors = _walk_cursor(credit, endpoint, limit=4)
    assert items == _in_order(rows)
    # Stable cursors: the same query walks the same tokens.
    assert _walk_cursor(credit, endpoint, limit=4)[1] == cursors


def test_missing_delivery_serves_an_empty_list(credit: httpx.Client) -> None:
    body = credit.get("/api/credit/lists").json()
    assert body == {"success": True, "result": {"items": [], "next_cursor": None}}


def test_since_filters_credit_items_inclusively(credit: httpx.Client) -> None:
    since = BASE + timedelta(minutes=60)
    items, _ = _walk_cursor(credit, "penalties", limit=3, since=since.isoformat())
    assert items == _in_order(PENALTY_ROWS, since)
    assert 0 < len(items) < len(PENALTY_ROWS)


def test_foreign_or_forged_cursors_are_400(credit: httpx.Client) -> None:
    first = credit.get("/api/credit/penalties", params={"limit": 3}).json()
    cursor = first["result"]["next_cursor"]
    forged = cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")
    attempts = [
        ("/api/credit/penalties", {"cursor": "not-a-cursor"}),
        ("/api/credit/penalties", {"cursor": forged}),
        ("/api/credit/permits", {"cursor": cursor}),  # another endpoint's cursor
        ("/api/credit/penalties", {"cursor": cursor, "since": "2024-03-01T09:00:00"}),
    ]
    for path, params in attempts:
        resp = credit.get(path, params={"limit": 3, **params})
        assert resp.status_code == 400, params
        assert resp.json()["success"] is False and "cursor" in resp.json()["msg"]
    # The genuine one still works, with a different limit too.
    assert credit.get("/api/credit/penalties", params={"cursor": cursor, "limit": 5}).is_success


def test_duplicate_items_are_injected_detectably_and_nothing_is_lost(
    server: FeedServer, credit: httpx.Client
) -> None:
    server.set_faults(Faults(rate_duplicate_item=1.0))
    results = _cursor_pages(
        lambda query: credit.get("/api/credit/penalties", params=query).json()["result"], limit=4
    )
    pages = [result["items"] for result in results]
    items = [item for page in pages for item in page]
    unique = [
        json.loads(s) for s in dict.fromkeys(json.dumps(i, ensure_ascii=False) for i in items)
    ]
    assert unique == _in_order(PENALTY_ROWS)
    # Each later page opens with the item that closed the one before it.
    assert len(items) - len(unique) == len(pages) - 1 > 0
    for before, after in itertools.pairwise(pages):
        assert after[0] == before[-1]
    assert all(len(page) <= 4 for page in pages)


def test_a_cursor_page_holds_the_same_items_on_every_request(
    server: FeedServer, credit: httpx.Client
) -> None:
    # Otherwise a retried page could skip or repeat items the first attempt did not.
    server.set_faults(Faults(rate_duplicate_item=0.5, seed=4))
    items, cursors = _walk_cursor(credit, "penalties", limit=3)
    assert len(items) > len(PENALTY_ROWS), "this seed must inject some duplicates"
    for cursor in [None, *cursors]:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        bodies = {credit.get("/api/credit/penalties", params=params).text for _ in range(3)}
        assert len(bodies) == 1, cursor


def test_wrong_method_is_405_and_unknown_path_is_404(pop: httpx.Client) -> None:
    resp = pop.delete(PERSONS)
    assert (resp.status_code, resp.headers["Allow"]) == (405, "GET")
    resp = pop.put("/api/credit/penalties", content=b"{}")
    assert resp.status_code == 405 and resp.json()["success"] is False
    resp = pop.get("/api/v2/population/persons")
    assert resp.status_code == 404 and PERSONS in resp.json()["msg"]


# ---------------------------------------------------------------------------------------
# Faults


def test_429_carries_retry_after_and_the_same_page_then_succeeds(
    server: FeedServer, pop: httpx.Client
) -> None:
    params = {"page": 2, "page_size": 5}
    clean = pop.get(PERSONS, params=params).json()
    server.set_faults(Faults(rate_429=1.0, retry_after_seconds=7, max_faults_per_page=2))
    for _ in range(2):
        resp = pop.get(PERSONS, params=params)
        assert (resp.status_code, resp.headers["Retry-After"]) == (429, "7")
        assert resp.json()["code"] != 0
    assert pop.get(PERSONS, params=params).json() == clean


def test_503_on_both_apis(server: FeedServer, pop: httpx.Client, credit: httpx.Client) -> None:
    server.set_faults(Faults(rate_503=1.0))
    assert pop.get(PERSONS).status_code == 503
    assert credit.get("/api/credit/permits").status_code == 503


def test_errors_dressed_as_success(
    server: FeedServer, pop: httpx.Client, credit: httpx.Client
) -> None:
    server.set_faults(Faults(rate_error_body=1.0))
    resp = pop.get(PERSONS)
    assert resp.status_code == 200
    assert resp.json()["code"] != 0 and resp.json()["msg"] and resp.json()["data"] is None
    resp = credit.get("/api/credit/penalties")
    assert resp.status_code == 200
    assert resp.json()["success"] is False and resp.json()["msg"]


def test_truncated_body_is_detectably_invalid_json(server: FeedServer, pop: httpx.Client) -> None:
    clean = pop.get(PERSONS, params={"page_size": 7}).content
    server.set_faults(Faults(rate_truncated=1.0))
    resp = pop.get(PERSONS, params={"page_size": 7})
    assert resp.status_code == 200
    assert 0 < len(resp.content) < len(clean) and clean.startswith(resp.content)
    with pytest.raises(ValueError):
        json.loads(resp.content)


def test_slow_page_exceeds_a_client_timeout_and_its_retry_is_fast(server: FeedServer) -> None:
    server.set_faults(Faults(rate_slow=1.0, slow_seconds=3.0, max_faults_per_page=1))
    with _client(server, BEARER, timeout=0.3) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get(PERSONS)
        started = time.monotonic()
        assert client.get(PERSONS).status_code == 200
        assert time.monotonic() - started < 2.0  # well under slow_seconds


def _fault_trace(srv: FeedServer) -> list[str]:
    trace = []
    with _client(srv, BEARER) as client:
        for page in range(1, 9):
            for _ in range(3):
                resp = client.get(PERSONS, params={"page": page, "page_size": 3})
                trace.append(_outcome(resp))
    return trace


def test_faults_are_deterministic_for_a_seed(server: FeedServer, data_dir: Path) -> None:
    faults = Faults(
        seed=11, rate_429=0.2, retry_after_seconds=0, rate_503=0.2, rate_error_body=0.2,
        rate_truncated=0.2,
    )  # fmt: skip
    server.set_faults(faults)
    trace = _fault_trace(server)
    assert {"429", "503", "error_body", "truncated", "ok"} <= set(trace), trace
    server.set_faults(faults)  # attempts count from zero again
    assert _fault_trace(server) == trace
    with serve(data_dir, faults=faults) as fresh:
        assert _fault_trace(fresh) == trace
    server.set_faults(faults.model_copy(update={"seed": 12}))
    assert _fault_trace(server) != trace


def _retrying_get(client: httpx.Client, url: str, params: dict, tries: int) -> httpx.Response:
    for _ in range(tries):
        try:
            resp = client.get(url, params=params)
        except httpx.TimeoutException:
            continue
        if _outcome(resp) == "ok":
            return resp
        time.sleep(float(resp.headers.get("Retry-After", 0)))
    pytest.fail(f"{url} {params} still failing after {tries} tries")


def test_a_retrying_client_gets_everything_through_the_demo_profile(
    server: FeedServer, pop: httpx.Client, credit: httpx.Client
) -> None:
    demo = PROFILES["demo"].model_copy(update={"retry_after_seconds": 0, "slow_seconds": 0.0})
    assert demo.active and demo.rate_429 <= 0.1
    server.set_faults(demo)
    tries = demo.max_faults_per_page + 1
    pages = _numbered_pages(
        lambda query: _retrying_get(pop, PERSONS, query, tries).json()["data"], page_size=2
    )
    assert [r for data in pages for r in data["records"]] == _in_order(PERSON_ROWS)

    results = _cursor_pages(
        lambda query: _retrying_get(credit, "/api/credit/penalties", query, tries).json()["result"],
        limit=2,
    )
    items: list[dict] = []
    for result in results:
        items.extend(i for i in result["items"] if i not in items)  # the pipeline dedups too
    assert items == _in_order(PENALTY_ROWS)


def test_resuming_from_a_saved_cursor_after_a_failure_repeats_no_page(
    server: FeedServer, data_dir: Path
) -> None:
    with _client(server, API_KEY) as client:
        reference, reference_cursors = _walk_cursor(client, "penalties", limit=3)
    # Every page fails on its first request: a client that crashes on the failure keeps
    # the last cursor it was given, and a new client resumes from it.
    server.set_faults(Faults(rate_503=1.0, max_faults_per_page=1))
    items, cursors, saved, crashes = [], [], None, 0
    for _ in range(MAX_PAGES):
        with _client(server, API_KEY) as client:
            params = {"limit": 3, **({"cursor": saved} if saved else {})}
            resp = client.get("/api/credit/penalties", params=params)
            if resp.status_code == 503:
                crashes += 1
                continue
            result = resp.json()["result"]
        items.extend(result["items"])
        if (saved := result["next_cursor"]) is None:
            break
        cursors.append(saved)
    else:
        pytest.fail(f"resumed walk did not end within {MAX_PAGES} requests")
    assert crashes == len(reference_cursors) + 1
    assert (items, cursors) == (reference, reference_cursors)


def test_a_saved_cursor_survives_a_server_restart(data_dir: Path) -> None:
    with serve(data_dir) as first, _client(first, API_KEY) as client:
        reference, _ = _walk_cursor(client, "penalties", limit=4)
        page = client.get("/api/credit/penalties", params={"limit": 4}).json()["result"]
    with serve(data_dir) as second, _client(second, API_KEY) as client:
        rest, _ = _walk_cursor(client, "penalties", limit=4, cursor=page["next_cursor"])
    assert page["items"] + rest == reference


def test_faults_switch_at_run_time_through_the_admin_endpoint(
    server: FeedServer, pop: httpx.Client
) -> None:
    assert _admin(server, {"rate_503": 1.0}, headers={}).status_code == 401
    assert pop.get(PERSONS).status_code == 200

    resp = _admin(server, {"rate_503": 1.0, "seed": 5})
    assert resp.status_code == 200 and resp.json()["rate_503"] == 1.0
    assert server.faults == Faults(rate_503=1.0, seed=5)
    assert pop.get(PERSONS).status_code == 503
    current = httpx.get(f"{server.url}/_admin/faults", headers=BEARER, timeout=5).json()
    assert current["seed"] == 5

    for bad in ({"rate_503": 2}, {"rate_429": 0.7, "rate_503": 0.7}, {"rate_teapot": 1}):
        resp = _admin(server, bad)
        assert resp.status_code == 400 and "faults" in resp.json()["msg"], bad
    huge = httpx.post(
        f"{server.url}/_admin/faults", content=b" " * 70_000, headers=BEARER, timeout=5
    )
    assert huge.status_code == 413
    assert server.faults.rate_503 == 1.0  # a refused update changes nothing

    assert _admin(server, {}).status_code == 200
    assert pop.get(PERSONS).status_code == 200


# ---------------------------------------------------------------------------------------
# Process: loopback only, clean stop, logging, loading


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "example.com", ""])
def test_refuses_to_bind_anything_but_loopback(data_dir: Path, host: str) -> None:
    with pytest.raises(ConfigError, match=r"127\.0\.0\.1.*loopback only"):
        serve(data_dir, host=host)


def test_localhost_means_127_0_0_1(data_dir: Path) -> None:
    with serve(data_dir, host="localhost") as srv:
        assert srv.url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{srv.url}/healthz", timeout=5).status_code == 200


def _our_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]


def test_stops_promptly_with_open_connections_and_a_slow_page_in_flight(data_dir: Path) -> None:
    srv = serve(data_dir, faults=Faults(rate_slow=1.0, slow_seconds=60.0))
    with _client(srv, BEARER, timeout=0.3) as idle, _client(srv, BEARER, timeout=0.3) as slow:
        assert idle.get("/healthz").status_code == 200  # leaves a kept-alive connection
        with pytest.raises(httpx.ReadTimeout):
            slow.get(PERSONS)  # its server thread now waits out 60 s
        assert len(_our_threads()) >= 3
        started = time.monotonic()
        srv.stop(timeout=5.0)
        assert time.monotonic() - started < 3.0  # the slow page alone would take 60 s
        assert _our_threads() == []
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{srv.url}/healthz", timeout=1)
    srv.stop()  # idempotent
    with pytest.raises(RuntimeError, match="cannot start again"):
        srv.start()


def test_logs_one_line_per_request(server: FeedServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="feeds.demo_city.server"):
        httpx.get(f"{server.url}/healthz", timeout=5)
        httpx.get(f"{server.url}{PERSONS}", timeout=5)
        deadline = time.monotonic() + 2
        # The line is written after the response is sent, so it may trail the client.
        while len(caplog.records) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0].startswith("GET /healthz 200 ") and lines[0].endswith("ms")
    assert lines[1].startswith(f"GET {PERSONS} 401 ")


def test_a_bad_delivery_line_names_its_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "deliveries/credit_api/permits.jsonl"
    _write(path, PERMIT_ROWS)
    with path.open("a", encoding="utf-8") as f:
        f.write('{"updated_at": "not a time", "record": {}}\n')
    with pytest.raises(ContractViolation, match=r"permits\.jsonl:4"):
        serve(tmp_path)


def test_a_missing_data_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--data"):
        serve(tmp_path / "nowhere")


def test_faults_from_cli_values(tmp_path: Path) -> None:
    spec = tmp_path / "faults.json"
    spec.write_text('{"rate_429": 0.25, "seed": 3}', encoding="utf-8")
    assert load_faults(str(spec)) == Faults(rate_429=0.25, seed=3)
    assert load_faults("demo") == PROFILES["demo"]
    assert load_faults("none") == Faults() == load_faults(None)
    for bad in ("chaos", '{"rate_429": 3}', str(tmp_path / "missing.json")):
        with pytest.raises(ConfigError, match="--faults"):
            load_faults(bad)
