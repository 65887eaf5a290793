"""The demo city's feed server: the population and credit APIs on loopback (feeds.md §1, §4).

It serves what the simulator delivered, exactly as the departments' APIs would, faults
included, so the pipeline's HTTP connectors meet a real server in the demo and in tests.
It binds to 127.0.0.1 only: government networks are isolated, and nothing here should
ever be reachable from another machine.

CLI (``citybrain demo-city serve`` calls :func:`run`):

    --data DIR      the simulator's output folder; serves
                    DIR/deliveries/population_api/persons.jsonl and
                    DIR/deliveries/credit_api/{penalties,permits,lists}.jsonl
                    (a missing file serves an empty list)
    --port P        port on 127.0.0.1 (default DEFAULT_PORT, 8765, the port of the
                    pipeline's default URL DEMO_API_URL; 0 picks a free port)
    --faults SPEC   none (default) | demo | a JSON file | inline JSON of Faults fields,
                    e.g. '{"rate_429": 0.2, "retry_after_seconds": 0}'  (load_faults)
    --seed S        the faults' seed (faults.model_copy(update={"seed": S}))

    run(data_dir, port=port, faults=load_faults(spec))

Credentials (the pipeline's defaults, from ``schemas.settings``): ``Authorization: Bearer
<DEMO_POPULATION_TOKEN>`` for population and for ``/_admin/faults``; ``X-Api-Key:
<DEMO_CREDIT_API_KEY>`` for credit. Without them: 401 with a JSON body (and
``WWW-Authenticate`` for the bearer).

Endpoints and their semantics
- ``GET /api/v1/population/persons?updated_since=&page=&page_size=`` pages numbered from
  1, ``page_size`` 1..1000 (default 100); a page past the end has no records.
- ``GET /api/credit/{penalties|permits|lists}?since=&cursor=&limit=``: ``limit`` 1..1000
  (default 100); ``next_cursor`` is null on the last page.
- ``updated_since``/``since`` are inclusive (``updated_at >= since``). A pipeline asks
  from its watermark, the newest update time it has seen; records sharing that instant
  may not all have reached it, and excluding them would lose them for good. The price is
  that the records at the watermark come again, which the pipeline dedups by business key
  and update time anyway (records repeat across deliveries, feeds.md). Omitted or empty
  means from the beginning. Times without an offset are Beijing time (GXSJ is local);
  times with one are converted (percent-encode ``+`` as ``%2B``).
- Order is stable: update time, then the delivery file's order.
- A cursor is opaque and stable: url-safe base64 of ``<offset>:<checksum>``, where the
  offset counts items into the filtered list and the checksum binds it to the endpoint and
  ``since``. The same query always yields the same cursors, also after a restart on the
  same data, so a client that saves its last cursor resumes without repeating a page. A
  cursor that is malformed, tampered with, or from another endpoint or ``since`` → 400.
- Bad or unknown parameters → 400 with a JSON error naming the parameter.
- ``GET /healthz`` (no credentials) → ``{"status": "ok"}``.
- ``GET``/``POST /_admin/faults`` (bearer): read or replace the faults (body: Faults
  fields as JSON; omitted fields take their defaults, so ``{}`` turns faults off).

Faults (:class:`~feeds.demo_city.server_faults.Faults`) are decided after credentials and
parameters are checked, so a 401 or 400 is never masked. A truncated body is sent with a
matching Content-Length: the HTTP exchange is sound, the JSON is not.

Every request logs one line on ``feeds.demo_city.server`` at INFO: method, target,
status, milliseconds, and the fault injected if any.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import contextlib
import hashlib
import hmac
import json
import logging
import signal
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from operator import itemgetter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import ValidationError

from feeds.demo_city.server_faults import PROFILES, Fault, FaultPlan, Faults, load_faults
from schemas.errors import ConfigError, ContractViolation
from schemas.settings import DEMO_API_URL, DEMO_CREDIT_API_KEY, DEMO_POPULATION_TOKEN

__all__ = [
    "CREDIT_ENDPOINTS",
    "DEFAULT_PORT",
    "DEMO_API_URL",
    "DEMO_CREDIT_API_KEY",
    "DEMO_POPULATION_TOKEN",
    "LOOPBACK",
    "PROFILES",
    "Faults",
    "FeedServer",
    "load_faults",
    "run",
    "serve",
]

logger = logging.getLogger(__name__)

# The demo credentials and URL are the pipeline's defaults (schemas.settings), so the
# demo needs no set-up; they are re-exported here for the CLI and tests.
LOOPBACK = "127.0.0.1"
DEFAULT_PORT = urlsplit(DEMO_API_URL).port or 80
CREDIT_ENDPOINTS = ("penalties", "permits", "lists")
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

POPULATION_PATH = "/api/v1/population/persons"
CREDIT_PREFIX = "/api/credit/"
ADMIN_FAULTS_PATH = "/_admin/faults"
HEALTH_PATH = "/healthz"

# Where the simulator puts each API's records, under DATA/deliveries/.
SOURCES: dict[str, Path] = {
    "persons": Path("population_api/persons.jsonl"),
    **{name: Path("credit_api") / f"{name}.jsonl" for name in CREDIT_ENDPOINTS},
}

# China has one time zone and no daylight saving: a fixed offset needs no tz database.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

THREAD_PREFIX = "demo-feed-server"
# Chinese stays readable UTF-8 on the wire, as the departments send it.
_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_MAX_ADMIN_BODY = 64 * 1024
# Only proves a cursor was issued by this server for this query; not a secret.
_CURSOR_KEY = b"citybrain-demo-cursor-v1"
_BUSY_MSG = "系统繁忙，请稍后重试"
_GATEWAY_503 = (
    b"<html><head><title>503 Service Temporarily Unavailable</title></head><body>"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center><hr>"
    b"<center>nginx</center></body></html>"
)


# ---------------------------------------------------------------------------------------
# Data


def parse_when(value: str) -> datetime:
    """An ISO-8601 date or datetime as naive Beijing time, the contract's local clock.

    >>> parse_when("2024-03-01 08:00:00")
    datetime.datetime(2024, 3, 1, 8, 0)
    >>> parse_when("2024-03-01T00:00:00Z")
    datetime.datetime(2024, 3, 1, 8, 0)
    """
    when = datetime.fromisoformat(value.strip())
    if when.tzinfo is not None:
        when = when.astimezone(BEIJING).replace(tzinfo=None)
    return when


@dataclass(frozen=True)
class _Records:
    """One endpoint's records as compact UTF-8 JSON, ordered by update time.

    Kept as encoded bytes, not dicts: records are only ever copied into responses, and
    bytes take a fraction of a dict's memory (and half a str's for Chinese text).
    """

    times: list[datetime] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.bodies)

    def first_at_or_after(self, since: datetime | None) -> int:
        return 0 if since is None else bisect.bisect_left(self.times, since)


def _load_records(path: Path, feed: str) -> _Records:
    if not path.is_file():
        return _Records()
    rows: list[tuple[datetime, bytes]] = []
    expected = 'a JSON line {"updated_at": "<ISO-8601>", "record": {...}}'
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
                updated_at, record = row["updated_at"], row["record"]
            except (ValueError, KeyError, TypeError) as exc:
                raise ContractViolation(feed, None, line[:120], f"{expected} ({where})") from exc
            if not isinstance(record, dict):
                raise ContractViolation(feed, "record", record, f"a JSON object ({where})")
            try:
                when = parse_when(updated_at)
            except (ValueError, TypeError, AttributeError) as exc:
                raise ContractViolation(
                    feed, "updated_at", updated_at, f"an ISO-8601 datetime ({where})"
                ) from exc
            rows.append((when, _compact(record).encode()))
    rows.sort(key=itemgetter(0))  # stable: equal times keep the file's order
    return _Records([t for t, _ in rows], [b for _, b in rows])


def load_deliveries(data_dir: Path) -> dict[str, _Records]:
    """Every API's records from ``data_dir/deliveries``; a missing file is an empty list."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ConfigError("--data", str(data_dir), "the demo city's data folder (it must exist)")
    root = data_dir / "deliveries"
    loaded = {name: _load_records(root / rel, name) for name, rel in SOURCES.items()}
    if not any((root / rel).is_file() for rel in SOURCES.values()):
        logger.warning("no API deliveries under %s: serving empty lists", root)
    return loaded


# ---------------------------------------------------------------------------------------
# Requests and responses


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    fault: str | None = None
    delay: float = 0.0


class _Reject(Exception):
    def __init__(self, response: _Response) -> None:
        super().__init__(response.status)
        self.response = response


def _json(status: int, payload: Any, **kwargs: Any) -> _Response:
    return _Response(status, _compact(payload).encode(), **kwargs)


# Each API spells its errors its own way, as the real ones do.
def _population_error(status: int, msg: str, *, code: int | None = None, **kw: Any) -> _Response:
    return _json(status, {"code": code or status, "msg": msg, "data": None}, **kw)


def _credit_error(status: int, msg: str, *, code: str | None = None, **kw: Any) -> _Response:
    code = code or {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 429: "RATE_LIMITED"}.get(
        status, "ERROR"
    )
    return _json(status, {"success": False, "code": code, "msg": msg, "result": None}, **kw)


_ErrorFn = Callable[..., _Response]


def _params(query: str, allowed: tuple[str, ...], error: _ErrorFn) -> dict[str, str]:
    try:
        parsed = parse_qs(query, keep_blank_values=True, max_num_fields=20)
    except ValueError as exc:
        raise _Reject(error(400, f"query string: {exc}")) from exc
    unknown = sorted(set(parsed) - set(allowed))
    if unknown:
        msg = f"unknown parameter {unknown[0]!r}; expected only {', '.join(allowed)}"
        raise _Reject(error(400, msg))
    repeated = sorted(k for k, v in parsed.items() if len(v) > 1)
    if repeated:
        raise _Reject(error(400, f"parameter {repeated[0]!r} given more than once"))
    # An empty value means "not given": clients often send ``cursor=`` on the first page.
    return {k: v[0].strip() for k, v in parsed.items() if v[0].strip()}


def _int_param(
    params: Mapping[str, str], name: str, default: int, high: int | None, error: _ErrorFn
) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    expected = f"an integer from 1 to {high}" if high else "an integer from 1"
    value = int(raw) if raw.isascii() and raw.isdigit() else 0
    if value < 1 or (high is not None and value > high):
        raise _Reject(error(400, f"parameter {name}: received {raw!r}; expected {expected}"))
    return value


def _since_param(params: Mapping[str, str], name: str, error: _ErrorFn) -> datetime | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        return parse_when(raw)
    except ValueError:
        msg = (
            f"parameter {name}: received {raw!r}; expected an ISO-8601 datetime such as "
            "2024-03-01T08:00:00 or 2024-03-01T00:00:00Z (percent-encode '+' as %2B)"
        )
        raise _Reject(error(400, msg)) from None


def _since_key(since: datetime | None) -> str:
    return "" if since is None else since.isoformat()


def _cursor_checksum(endpoint: str, since: datetime | None, offset: int) -> str:
    message = f"{endpoint}\x1f{_since_key(since)}\x1f{offset}".encode()
    return hashlib.blake2b(message, key=_CURSOR_KEY, digest_size=8).hexdigest()


def encode_cursor(endpoint: str, since: datetime | None, offset: int) -> str:
    """The opaque token for ``offset`` items into ``endpoint``'s list from ``since``."""
    token = f"{offset}:{_cursor_checksum(endpoint, since, offset)}".encode()
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def decode_cursor(token: str, endpoint: str, since: datetime | None) -> int | None:
    """The offset in ``token``, or None if this server never issued it for this query."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        offset_text, checksum = raw.split(":")
        offset = int(offset_text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if offset < 0 or not offset_text.isdigit():
        return None
    ok = hmac.compare_digest(checksum, _cursor_checksum(endpoint, since, offset))
    return offset if ok else None


class _FeedApp:
    """Routes a request to a response; knows nothing of sockets."""

    def __init__(
        self,
        records: dict[str, _Records],
        plan: FaultPlan,
        population_token: str,
        credit_api_key: str,
    ) -> None:
        self._records = records
        self._plan = plan
        self._token = population_token.encode()
        self._api_key = credit_api_key.encode()

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> _Response:
        url = urlsplit(target)
        path = url.path
        try:
            if path == HEALTH_PATH:
                self._method(method, "GET", _population_error)
                return _json(200, {"status": "ok"})
            if path == POPULATION_PATH:
                self._method(method, "GET", _population_error)
                return self._population(url.query, headers)
            if path.startswith(CREDIT_PREFIX) and path[len(CREDIT_PREFIX) :] in CREDIT_ENDPOINTS:
                self._method(method, "GET", _credit_error)
                return self._credit(path[len(CREDIT_PREFIX) :], url.query, headers)
            if path == ADMIN_FAULTS_PATH:
                return self._admin_faults(method, headers, body)
        except _Reject as reject:
            return reject.response
        known = [HEALTH_PATH, POPULATION_PATH, *(CREDIT_PREFIX + e for e in CREDIT_ENDPOINTS)]
        return _population_error(404, f"no such path {path!r}; known: {', '.join(known)}")

    @staticmethod
    def _method(method: str, allowed: str, error: _ErrorFn) -> None:
        if method != allowed:
            msg = f"method {method} not allowed; use {allowed}"
            raise _Reject(error(405, msg, headers=(("Allow", allowed),)))

    def _require_bearer(self, headers: Mapping[str, str]) -> None:
        value = headers.get("Authorization")
        if not value:
            challenge = 'Bearer realm="citybrain-demo"'
            msg = "missing credentials: send Authorization: Bearer <token>"
        else:
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(
                token.strip().encode(), self._token
            ):
                return
            challenge = 'Bearer realm="citybrain-demo", error="invalid_token"'
            msg = "invalid bearer token"
        raise _Reject(_population_error(401, msg, headers=(("WWW-Authenticate", challenge),)))

    def _require_api_key(self, headers: Mapping[str, str]) -> None:
        key = headers.get("X-Api-Key")
        if key and hmac.compare_digest(key.strip().encode(), self._api_key):
            return
        msg = "invalid API key" if key else "missing credentials: send X-Api-Key: <key>"
        raise _Reject(_credit_error(401, msg))

    def _population(self, query: str, headers: Mapping[str, str]) -> _Response:
        self._require_bearer(headers)
        error = _population_error
        params = _params(query, ("updated_since", "page", "page_size"), error)
        since = _since_param(params, "updated_since", error)
        page = _int_param(params, "page", 1, None, error)
        page_size = _int_param(params, "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, error)

        records = self._records["persons"]
        start = records.first_at_or_after(since)
        faults, fault = self._plan.next_request(
            "persons", f"{_since_key(since)}|{page}|{page_size}"
        )
        if fault in ("429", "503", "error_body"):
            return self._fault_response(fault, faults, population=True)
        low = start + (page - 1) * page_size
        head = (
            f'{{"code":0,"msg":"ok","data":{{"total":{len(records) - start},"page":{page},'
            f'"page_size":{page_size},"records":['
        )
        rows = b",".join(records.bodies[low : low + page_size])
        return self._deliver(b"".join((head.encode(), rows, b"]}}")), fault, faults)

    def _credit(self, endpoint: str, query: str, headers: Mapping[str, str]) -> _Response:
        self._require_api_key(headers)
        error = _credit_error
        params = _params(query, ("since", "cursor", "limit"), error)
        since = _since_param(params, "since", error)
        limit = _int_param(params, "limit", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, error)
        offset = 0
        if "cursor" in params:
            decoded = decode_cursor(params["cursor"], endpoint, since)
            if decoded is None:
                msg = (
                    f"parameter cursor: received {params['cursor']!r}; expected a next_cursor "
                    f"this server returned for /api/credit/{endpoint} with the same since"
                )
                raise _Reject(error(400, msg, code="INVALID_CURSOR"))
            offset = decoded

        records = self._records[endpoint]
        start = records.first_at_or_after(since)
        available = len(records) - start
        page = f"{_since_key(since)}|{offset}|{limit}"
        faults, fault = self._plan.next_request(endpoint, page)
        if fault in ("429", "503", "error_body"):
            return self._fault_response(fault, faults, population=False)
        first = offset
        # A duplicate is an offset that slipped back by one, as when a row moves under a
        # paging query; with limit 1 that would never advance, so it is not injected then.
        duplicate = offset > 0 and limit > 1 and self._plan.duplicates_item(faults, endpoint, page)
        if duplicate:
            first = offset - 1
        rows = records.bodies[start + first : start + first + limit]
        end = first + len(rows)
        next_cursor = json.dumps(encode_cursor(endpoint, since, end)) if end < available else "null"
        tail = f'],"next_cursor":{next_cursor}}}}}'.encode()
        body = b"".join((b'{"success":true,"result":{"items":[', b",".join(rows), tail))
        if duplicate and fault is None:
            fault = "duplicate_item"
        return self._deliver(body, fault, faults)

    @staticmethod
    def _fault_response(fault: Fault, faults: Faults, *, population: bool) -> _Response:
        error = _population_error if population else _credit_error
        if fault == "429":
            wait = faults.retry_after_seconds
            headers = (("Retry-After", str(wait)),)
            return error(
                429, f"too many requests; retry after {wait} s", headers=headers, fault=fault
            )
        if fault == "503":
            return _Response(503, _GATEWAY_503, "text/html; charset=utf-8", fault=fault)
        # HTTP 200 that means failure: the error dressed as success (feeds.md §1).
        if population:
            return _population_error(200, _BUSY_MSG, code=50001, fault=fault)
        return _credit_error(200, _BUSY_MSG, code="INTERNAL_ERROR", fault=fault)

    @staticmethod
    def _deliver(body: bytes, fault: str | None, faults: Faults) -> _Response:
        if fault == "truncated":
            return _Response(200, body[: len(body) // 2], fault=fault)
        if fault == "slow":
            return _Response(200, body, fault=fault, delay=faults.slow_seconds)
        return _Response(200, body, fault=fault)

    def _admin_faults(self, method: str, headers: Mapping[str, str], body: bytes) -> _Response:
        self._require_bearer(headers)
        if method == "POST":
            try:
                self._plan.replace(Faults.model_validate_json(body or b"{}"))
            except ValidationError as exc:
                return _population_error(400, f"faults: {exc}")
            logger.info("faults now %s", self._plan.faults.model_dump_json())
        elif method != "GET":
            return _population_error(405, "use GET or POST", headers=(("Allow", "GET, POST"),))
        return _json(200, self._plan.faults.model_dump(mode="json"))


# ---------------------------------------------------------------------------------------
# HTTP


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a pipeline's connection pool expects
    server_version = "citybrain-demo-feeds/1"
    # An idle keep-alive connection holds a thread; it goes after this, or at stop().
    timeout = 30
    # Headers and body go out in two writes; with Nagle on, the second waits for the
    # client's delayed ACK and every keep-alive request costs ~40 ms.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def version_string(self) -> str:
        return self.server_version  # no Python version in the Server header

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        started = time.perf_counter()
        declared = self.headers.get("Content-Length") or "0"
        length = int(declared) if declared.isascii() and declared.isdigit() else -1
        if not 0 <= length <= _MAX_ADMIN_BODY:
            msg = f"Content-Length {declared!r}: expected 0 to {_MAX_ADMIN_BODY} bytes"
            response = _population_error(400 if length < 0 else 413, msg)
            self.close_connection = True  # the unread body would desynchronize the stream
        else:
            body = self.rfile.read(length) if length > 0 else b""
            try:
                response = self.server.app.handle(method, self.path, self.headers, body)
            except Exception:
                logger.exception("%s %s failed", method, self.path)
                response = _population_error(500, "internal error of the demo feed server")
        if response.delay:
            # Wakes at stop(), so a slow page never holds up a shutdown.
            self.server.stopping.wait(response.delay)
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response.body)
        except (ConnectionError, TimeoutError):
            # The client gave up first, typically on a slow page; that is the point of it.
            self.close_connection = True
        elapsed = (time.perf_counter() - started) * 1000
        fault = f" fault={response.fault}" if response.fault else ""
        logger.info("%s %s %d %.1fms%s", method, self.path, response.status, elapsed, fault)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: :meth:`_serve` logs one line per request itself."""

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - " + format, self.address_string(), *args)


class _HTTPServer(ThreadingHTTPServer):
    """A threading server whose stop() closes open connections and joins their threads."""

    daemon_threads = True
    block_on_close = False  # joined in close_connections(), with a deadline

    def __init__(self, address: tuple[str, int], app: _FeedApp) -> None:
        self.app = app
        self.stopping = threading.Event()
        self._live: dict[threading.Thread, socket.socket] = {}
        self._live_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can stall on a machine
        # without DNS; the name is only used in CGI variables.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._connection,
            args=(request, client_address),
            name=f"{THREAD_PREFIX}-conn",
            daemon=True,
        )
        with self._live_lock:
            self._live[thread] = request
        thread.start()

    def _connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._live_lock:
                self._live.pop(threading.current_thread(), None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            logger.debug("connection from %s ended: %r", client_address, exc)
        else:
            logger.exception("unexpected error serving %s", client_address)

    def close_connections(self, deadline: float) -> list[threading.Thread]:
        """Hang up on every client and wait for its thread; return threads still alive."""
        with self._live_lock:
            live = dict(self._live)
        for conn in live.values():
            # OSError: its own thread closed it already.
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in live:
            thread.join(max(0.0, deadline - time.monotonic()))
        return [t for t in live if t.is_alive()]


def _check_loopback(host: str) -> str:
    if host in (LOOPBACK, "localhost"):
        return LOOPBACK
    raise ConfigError(
        "host",
        host,
        f"{LOOPBACK} (the demo feed server binds to loopback only)",
        hint="Government networks are isolated and this data must not leave the machine; "
        "reach it from elsewhere through your own, deliberate tunnel.",
    )


class FeedServer:
    """The demo feed server, started in a background thread.

    Use :func:`serve` to make one; as a context manager it stops on exit::

        with serve(data_dir) as server:
            httpx.get(f"{server.url}/healthz")
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        faults: Faults | None = None,
        population_token: str = DEMO_POPULATION_TOKEN,
        credit_api_key: str = DEMO_CREDIT_API_KEY,
    ) -> None:
        host = _check_loopback(host)
        records = load_deliveries(data_dir)
        self.counts = {name: len(recs) for name, recs in records.items()}
        self._plan = FaultPlan(faults if faults is not None else Faults())
        app = _FeedApp(records, self._plan, population_token, credit_api_key)
        self._httpd = _HTTPServer((host, port), app)
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8765`` (no trailing slash)."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def faults(self) -> Faults:
        return self._plan.faults

    def set_faults(self, faults: Faults) -> None:
        """Put ``faults`` in force; as ``POST /_admin/faults``, attempt counts restart."""
        self._plan.replace(faults)

    def start(self) -> FeedServer:
        if self._stopped:
            raise RuntimeError("a stopped FeedServer cannot start again; serve() a new one")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                # stop() waits for the loop to see its flag: a short poll keeps stops quick.
                kwargs={"poll_interval": 0.02},
                name=THREAD_PREFIX,
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, hang up on clients, and join every thread within ``timeout``."""
        if self._stopped:
            return
        self._stopped = True
        deadline = time.monotonic() + timeout
        self._httpd.stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(max(0.0, deadline - time.monotonic()))
        stuck = self._httpd.close_connections(deadline)
        self._httpd.server_close()
        if stuck or (self._thread is not None and self._thread.is_alive()):
            logger.warning("demo feed server: %d thread(s) did not stop in time", len(stuck))

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve(
    data_dir: Path,
    *,
    host: str = LOOPBACK,
    port: int = 0,
    faults: Faults | None = None,
    population_token: str = DEMO_POPULATION_TOKEN,
    credit_api_key: str = DEMO_CREDIT_API_KEY,
) -> FeedServer:
    """Load ``data_dir``'s API deliveries and serve them from a background thread.

    Args:
        data_dir: the simulator's output folder (holding ``deliveries/``).
        host: ``127.0.0.1`` (or ``localhost``); anything else raises ConfigError.
        port: 0 picks a free port; read it back from ``.port`` or ``.url``.
        faults: injected faults; None serves without any.
        population_token, credit_api_key: credentials to require (the demo's by default).

    Returns:
        The running server; stop it with ``.stop()`` or use it as a context manager.
    """
    return FeedServer(
        data_dir,
        host=host,
        port=port,
        faults=faults,
        population_token=population_token,
        credit_api_key=credit_api_key,
    ).start()


def run(
    data_dir: Path,
    *,
    host: str = LOOPBACK,
    port: int = DEFAULT_PORT,
    faults: Faults | None = None,
    population_token: str = DEMO_POPULATION_TOKEN,
    credit_api_key: str = DEMO_CREDIT_API_KEY,
) -> None:
    """Serve until Ctrl-C or SIGTERM (the CLI's ``demo-city serve``)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    done = threading.Event()
    # Only the main thread may install signal handlers; elsewhere SIGTERM keeps its default.
    on_main_thread = threading.current_thread() is threading.main_thread()
    if on_main_thread:
        previous = signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        with serve(
            data_dir,
            host=host,
            port=port,
            faults=faults,
            population_token=population_token,
            credit_api_key=credit_api_key,
        ) as server:
            counts = ", ".join(f"{name} {n}" for name, n in server.counts.items())
            logger.info("demo feed server at %s (%s)", server.url, counts)
            logger.info("population: %s%s", server.url, POPULATION_PATH)
            logger.info(
                "credit:     %s%s{%s}", server.url, CREDIT_PREFIX, ",".join(CREDIT_ENDPOINTS)
            )
            if population_token == DEMO_POPULATION_TOKEN and credit_api_key == DEMO_CREDIT_API_KEY:
                logger.info(
                    "demo credentials: Authorization: Bearer %s / X-Api-Key: %s",
                    DEMO_POPULATION_TOKEN,
                    DEMO_CREDIT_API_KEY,
                )
            logger.info("faults: %s", server.faults.model_dump_json())
            # A timed wait, so Ctrl-C is seen promptly on every platform.
            while not done.wait(0.5):
                pass
    except KeyboardInterrupt:
        pass
    finally:
        if on_main_thread:
            signal.signal(signal.SIGTERM, previous)
    logger.info("demo feed server stopped")
