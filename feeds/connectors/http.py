"""HTTP pulls: the departments' JSON APIs, page by page, into the raw zone.

Two paginations (feeds/spec.py): page numbers (``HttpPageTransport``: page 1, 2, ... until
a page holds fewer than ``page_size`` records or ``page * page_size >= total``) and
opaque cursors (``HttpCursorTransport``: follow ``next_cursor`` until it is null).

What the departments' APIs really do, and what the pull does about it (feeds.md):

- 429 with ``Retry-After``: wait as long as asked (capped by
  ``CITYBRAIN_HTTP_RETRY_AFTER_CAP_SECONDS``), then retry.
- 5xx, timeouts, dropped connections: retry with exponential backoff and jitter.
- HTTP 200 whose body says failure (``code != 0``, ``success: false``): an error dressed
  as success, retried like a 503.
- A truncated or otherwise invalid JSON body: detected by parsing, never trusted,
  retried.
- 401/403: terminal, naming the setting that holds the credential.
- An item repeated across pages is kept: dropping it here would hide what was sent; the
  transforms dedupe by business key and update time.

A pull is resumable without repeating a page: each good page is written to an in-flight
folder with a small state (next page or cursor) before the next is asked for, and a new
pull of the same feed, resource, URL and ``since`` continues from there (raw_zone.InFlight).
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from feeds.connectors.read import dig
from feeds.delivery import RawDelivery
from feeds.raw_zone import InFlight, RawZone
from feeds.spec import FeedSpec, HttpCursorTransport, HttpPageTransport, ResourceSpec
from schemas.errors import ConfigError, ContractViolation, SourceUnavailable
from schemas.settings import Settings

__all__ = ["RetryPolicy", "api_base_url", "pull_http"]

logger = logging.getLogger(__name__)

HttpTransport = HttpPageTransport | HttpCursorTransport

# China has one time zone; cursor fields such as GXSJ are Beijing wall-clock time.
_BEIJING = timezone(timedelta(hours=8))
# Cursor values that can become the next watermark: ISO dates and datetimes only. Any
# other spelling is dirt the transforms handle; it must not move the watermark.
_ISO_CURSOR = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?")
_RETRY_STATUS = {408, 429}


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one page. Defaults come from the ``CITYBRAIN_HTTP_*`` settings."""

    attempts: int = 5
    timeout: float = 30.0
    backoff: float = 1.0
    backoff_max: float = 30.0
    retry_after_cap: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            attempts=settings.http_attempts,
            timeout=settings.http_timeout_seconds,
            backoff=settings.http_backoff_seconds,
            backoff_max=settings.http_backoff_max_seconds,
            retry_after_cap=settings.http_retry_after_cap_seconds,
        )

    def backoff_delay(self, attempt: int, rng: Callable[[], float]) -> float:
        """Delay after the ``attempt``-th failure (from 1): doubling, with equal jitter.

        Half the delay is fixed and half random, so clients that failed together do not
        all come back at the same instant, yet none retries at once.

        >>> RetryPolicy(backoff=1, backoff_max=30).backoff_delay(3, lambda: 0.5)
        3.0
        """
        ceiling = min(self.backoff_max, self.backoff * 2 ** (attempt - 1))
        return ceiling / 2 + rng() * ceiling / 2

    def retry_after(self, header: str | None) -> float | None:
        """Seconds a ``Retry-After`` header asks for (delta-seconds or HTTP-date), capped.

        >>> RetryPolicy(retry_after_cap=60).retry_after("120")
        60.0
        >>> RetryPolicy().retry_after("soon") is None
        True
        """
        if header is None or not header.strip():
            return None
        text = header.strip()
        if text.isdigit():
            seconds = float(text)
        else:
            try:
                when = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            seconds = max(0.0, (when - datetime.now(UTC)).total_seconds())
        return float(min(seconds, self.retry_after_cap))


def _setting(settings: Settings, name: str) -> Any:
    if name not in type(settings).model_fields:
        raise ConfigError(
            f"CITYBRAIN_{name.upper()}",
            None,
            "a setting of schemas/settings.py (an HTTP feed needs its URL and credential)",
        )
    return getattr(settings, name)


def api_base_url(settings: Settings, feed: str) -> str:
    """The configured base URL of a feed's API (``CITYBRAIN_<FEED>_API_URL``)."""
    return str(_setting(settings, f"{feed}_api_url"))


def _credential(settings: Settings, feed: str, auth: str) -> tuple[str, dict[str, str]]:
    name = f"{feed}_token" if auth == "bearer" else f"{feed}_api_key"
    secret = _setting(settings, name)
    value = secret.get_secret_value() if secret is not None else ""
    setting = f"CITYBRAIN_{name.upper()}"
    if not value:
        raise ConfigError(setting, "", f"the {feed} API's {'token' if auth == 'bearer' else 'key'}")
    header = {"Authorization": f"Bearer {value}"} if auth == "bearer" else {"X-Api-Key": value}
    return setting, header


def _endpoint(base_url: str, path: str) -> str:
    """``base_url`` + the transport's path, unless the URL already ends with it."""
    if urlsplit(base_url).path.rstrip("/").endswith(path.rstrip("/")):
        return base_url.rstrip("/")
    return base_url.rstrip("/") + "/" + path.lstrip("/")


@dataclass(frozen=True)
class _Page:
    body: bytes  # exactly as received: what the raw zone keeps
    document: Any  # the parsed body, to navigate (never stored)
    url: str  # with its query: the provenance of every row on the page


class _Fetcher:
    """GET one page until it is good, as the module docstring describes."""

    def __init__(
        self,
        client: httpx.Client,
        headers: dict[str, str],
        *,
        feed: str,
        setting: str,
        transport: HttpTransport,
        policy: RetryPolicy,
        sleep: Callable[[float], None],
        rng: Callable[[], float],
    ) -> None:
        self.client, self.headers, self.feed, self.setting = client, headers, feed, setting
        self.transport, self.policy, self.sleep, self.rng = transport, policy, sleep, rng

    def get(self, url: str, params: dict[str, Any], where: str) -> _Page:
        shown = f"{url}?{urlencode(params)}"
        last = "no answer"
        for attempt in range(1, self.policy.attempts + 1):
            wait: float | None = None
            try:
                response = self.client.get(
                    url, params=params, headers=self.headers, timeout=self.policy.timeout
                )
            except httpx.TimeoutException:
                last = f"no answer within {self.policy.timeout:g} s (timeout)"
            except httpx.TransportError as exc:
                last = f"connection failed: {type(exc).__name__}: {exc}"
            else:
                page, last, wait = self._judge(response, shown)
                if page is not None:
                    return page
            if attempt == self.policy.attempts:
                break
            if wait is None:
                wait = self.policy.backoff_delay(attempt, self.rng)
            logger.warning(
                "%s: GET %s (%s) attempt %d/%d: %s; retrying in %.1f s",
                self.feed,
                shown,
                where,
                attempt,
                self.policy.attempts,
                last,
                wait,
            )
            self.sleep(wait)
        raise SourceUnavailable(
            self.feed,
            None,
            f"{last} — GET {shown} ({where}), {self.policy.attempts} attempts",
            "a good JSON page; the API kept failing. Check the department's service is up, "
            "then run the pull again: it resumes at this page without fetching the earlier "
            "ones again (more patience: CITYBRAIN_HTTP_ATTEMPTS, CITYBRAIN_HTTP_TIMEOUT_SECONDS)",
        )

    def _judge(
        self, response: httpx.Response, shown: str
    ) -> tuple[_Page | None, str, float | None]:
        """(good page, or None with what was wrong and how long the server asked to wait)."""
        status = response.status_code
        if status in (401, 403):
            raise ConfigError(
                self.setting,
                "**********",
                f"a credential the {self.feed} API accepts (HTTP {status} from GET {shown}: "
                f"{_message(response.content)})",
                hint=f"Set {self.setting} to the credential the department issued.",
            )
        if status in _RETRY_STATUS or status >= 500:
            wait = self.policy.retry_after(response.headers.get("Retry-After"))
            asked = f", Retry-After {response.headers['Retry-After']}" if wait is not None else ""
            return None, f"HTTP {status}{asked}: {_message(response.content)}", wait
        if status != 200:
            raise ContractViolation(
                self.feed,
                None,
                f"HTTP {status} from GET {shown}: {_message(response.content)}",
                "HTTP 200 with a JSON page (the request itself was refused: check since and "
                "the transport's parameters in feeds/spec.py)",
            )
        body = response.content
        try:
            document = json.loads(body)
        except ValueError as exc:
            # A body cut short parses as invalid JSON: this is how truncation shows.
            return None, f"HTTP 200 with invalid JSON ({len(body)} bytes; truncated?): {exc}", None
        ok = dig(document, self.transport.ok_path)
        expected = self.transport.ok_value
        if ok != expected or isinstance(ok, bool) != isinstance(expected, bool):
            field = ".".join(self.transport.ok_path)
            return None, f"HTTP 200 but {field}={ok!r}: {_message(body)}", None
        return _Page(body, document, str(response.url)), "ok", None


def _message(body: bytes) -> str:
    """The server's own words about an error, short."""
    try:
        document = json.loads(body)
    except ValueError:
        text = body.decode("utf-8", "replace")
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).strip()[:160] or "(empty body)"
    if isinstance(document, dict):
        for key in ("msg", "message", "error", "detail"):
            if document.get(key):
                return str(document[key])[:160]
    return json.dumps(document, ensure_ascii=False)[:160]


def _cursor_candidate(value: Any, horizon: str) -> tuple[str | None, str]:
    """(normalized cursor value or None, why not): only ISO values, never in the future."""
    if not isinstance(value, str):
        return None, "missing"
    match = _ISO_CURSOR.match(value.strip())
    if match is None:
        return None, "not ISO"
    normalized = match.group(0).replace("T", " ")
    if normalized > horizon:
        return None, "in the future"
    return normalized, ""


def pull_http(
    spec: FeedSpec,
    resource: ResourceSpec,
    transport: HttpTransport,
    base_url: str,
    *,
    since: str | None,
    settings: Settings,
    zone: RawZone,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
) -> RawDelivery:
    """Pull every page of one resource from its API into the raw zone.

    Args:
        spec, resource, transport: what to pull and how it is paged.
        base_url: the API's base URL (``http://127.0.0.1:8765``) or the full endpoint.
        since: the watermark (ISO-8601), sent as the transport's ``since_param``; None
            pulls everything.
        settings: credentials and HTTP behaviour (``CITYBRAIN_*``).
        zone: the raw zone.
        client: an httpx client to use (tests inject transports); one is made otherwise.
        sleep, rng: how to wait and jitter (tests inject them so nothing really waits).

    Returns:
        One ``json_pages`` delivery: its pages in order, the sha256 over their hashes,
        the item count and ``cursor_max`` (the largest ISO value of the resource's
        ``cursor_field``, the next watermark).

    Raises:
        ConfigError: 401/403 (names the credential's setting), or a missing setting.
        ContractViolation: the API refused the request (4xx) or broke the page shape.
        SourceUnavailable: a page failed ``CITYBRAIN_HTTP_ATTEMPTS`` times; rerun to resume.
    """
    policy = RetryPolicy.from_settings(settings)
    setting, headers = _credential(settings, spec.name, transport.auth)
    url = _endpoint(base_url, transport.path)
    size = transport.page_size if isinstance(transport, HttpPageTransport) else transport.limit
    key = [spec.name, resource.name, url, since or "", transport.kind, size]
    own_client = client is None
    http = client or httpx.Client(timeout=policy.timeout, follow_redirects=False)
    fetcher = _Fetcher(
        http,
        {**headers, "Accept": "application/json"},
        feed=spec.name,
        setting=setting,
        transport=transport,
        policy=policy,
        sleep=sleep,
        rng=rng,
    )
    source = f"{url}?{urlencode({transport.since_param: since})}" if since else url
    try:
        with zone.inflight(spec.name, resource.name, key) as flight:
            if (finished := flight.completed()) is not None:
                return finished
            if flight.state is None:
                flight.begin(_initial_state())
            elif flight.resumed:
                logger.info(
                    "%s/%s: resuming %s after %d saved pages (%d items)",
                    spec.name,
                    resource.name,
                    source,
                    flight.state["pages"],
                    flight.state["items"],
                )
            _walk(
                flight,
                fetcher,
                transport=transport,
                resource=resource,
                url=url,
                since=since,
                size=size,
            )
            state = flight.state
            assert state is not None  # _walk ends with the state of the last page
            return flight.finish(
                lambda sha, paths: _delivery(
                    spec, resource, state, source=source, sha=sha, paths=paths
                )
            )
    finally:
        if own_client:
            http.close()


def _initial_state() -> dict[str, Any]:
    return {
        "page": 1,
        "cursor": None,
        "done": False,
        "items": 0,
        "cursor_max": None,
        "ignored_cursor_values": {},
        "last_sha256": None,
        "started_at": datetime.now(UTC).isoformat(),
    }


def _walk(
    flight: InFlight,
    fetcher: _Fetcher,
    *,
    transport: HttpTransport,
    resource: ResourceSpec,
    url: str,
    since: str | None,
    size: int,
) -> None:
    resumed = flight.resumed
    horizon = (datetime.now(_BEIJING) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    while not flight.state["done"]:
        state = flight.state
        params, where = _params(transport, state, since, size)
        try:
            page = fetcher.get(url, params, where)
        except ContractViolation:
            if not resumed:
                raise
            # The saved position may have expired on the server (cursors often do):
            # start this query again rather than stay stuck on a stale state.
            logger.warning("%s: saved position refused by the server; starting over", url)
            flight.abandon()
            flight.begin(_initial_state())
            resumed = False
            continue
        resumed = False
        records = dig(page.document, transport.records_path)
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ContractViolation(
                fetcher.feed,
                ".".join(transport.records_path),
                f"{type(records).__name__} in GET {page.url}",
                "a JSON list of record objects",
            )
        sha = hashlib.sha256(page.body).hexdigest()
        if records and sha == state["last_sha256"]:
            raise ContractViolation(
                fetcher.feed,
                None,
                f"the same page twice in a row at {page.url}",
                f"a new page each time (does the API honour {where.split()[0]}?)",
            )
        update = _advance(state, transport, page, records, size=size, feed=fetcher.feed)
        update["items"] = state["items"] + len(records)
        update["last_sha256"] = sha
        if resource.cursor_field:
            update |= _track_cursor(state, records, resource.cursor_field, horizon)
        flight.add_page(page.body, {"url": page.url, "items": len(records)}, update)


def _params(
    transport: HttpTransport, state: dict[str, Any], since: str | None, size: int
) -> tuple[dict[str, Any], str]:
    """The query of the next page, and how to name that page in messages."""
    params: dict[str, Any] = {}
    if since:
        params[transport.since_param] = since
    if isinstance(transport, HttpPageTransport):
        params[transport.page_param] = state["page"]
        params[transport.page_size_param] = size
        return params, f"page {state['page']}"
    if state["cursor"]:
        params[transport.cursor_param] = state["cursor"]
    params[transport.limit_param] = size
    return params, f"cursor {state['cursor']!r}" if state["cursor"] else "first page"


def _track_cursor(
    state: dict[str, Any], records: list[dict[str, Any]], field: str, horizon: str
) -> dict[str, Any]:
    cursor_max, ignored = state["cursor_max"], dict(state["ignored_cursor_values"])
    for record in records:
        value, why = _cursor_candidate(record.get(field), horizon)
        if value is None:
            ignored[why] = ignored.get(why, 0) + 1
        elif cursor_max is None or value > cursor_max:
            cursor_max = value
    return {"cursor_max": cursor_max, "ignored_cursor_values": ignored}


def _advance(
    state: dict[str, Any],
    transport: HttpTransport,
    page: _Page,
    records: list[Any],
    *,
    size: int,
    feed: str,
) -> dict[str, Any]:
    if isinstance(transport, HttpPageTransport):
        # The total sits beside the records ({"data": {"total": T, "records": [...]}}).
        total = dig(page.document, (*transport.records_path[:-1], "total"))
        seen = state["page"] * size
        done = len(records) < size or (isinstance(total, int) and seen >= total)
        return {"page": state["page"] + 1, "done": done}
    cursor = dig(page.document, transport.next_cursor_path)
    if cursor in (None, ""):
        return {"cursor": None, "done": True}
    if cursor == state["cursor"]:
        raise ContractViolation(
            feed,
            ".".join(transport.next_cursor_path),
            f"{cursor!r} again at {page.url}",
            "a next cursor that moves on (the API would loop forever)",
        )
    return {"cursor": str(cursor), "done": False}


def _delivery(
    spec: FeedSpec,
    resource: ResourceSpec,
    state: dict[str, Any],
    *,
    source: str,
    sha: str,
    paths: tuple[Path, ...],
) -> RawDelivery:
    notes = []
    ignored = {why: n for why, n in state["ignored_cursor_values"].items() if n}
    if ignored and resource.cursor_field:
        detail = ", ".join(f"{n} {why}" for why, n in sorted(ignored.items()))
        notes.append(f"{resource.cursor_field} values not used for the watermark: {detail}")
    delivery = RawDelivery(
        feed=spec.name,
        resource=resource.name,
        sha256=sha,
        source=source,
        raw_paths=paths,
        format="json_pages",
        encoding="utf-8",
        received_at=datetime.fromisoformat(state["started_at"]),
        rows_hint=state["items"],
        cursor_max=state["cursor_max"],
        notes=tuple(notes),
    )
    logger.info(
        "%s/%s: pulled %d items in %d pages from %s as %s (cursor_max %s)",
        spec.name,
        resource.name,
        delivery.rows_hint,
        len(paths),
        source,
        delivery.batch_id,
        delivery.cursor_max,
    )
    return delivery
