"""Deterministic, switchable faults for the demo feed server.

Real department APIs rate-limit, fall over, dress errors as successes, cut bodies short,
stall and repeat items across pages (feeds.md §1, §4). The pipeline must survive all of
that, and its tests must be able to reproduce each case, so a fault is never random in
the ordinary sense: whether a request faults depends only on
``(seed, endpoint, page, attempt)``, where *page* is the normalized query (filter, page or
cursor position, size) and *attempt* counts how often that page was asked for since the
faults were last set. The same walk over the same data therefore meets the same faults,
and a page that faulted succeeds once it has been retried ``max_faults_per_page`` times,
so a client with that many retries always finishes.

At most one of 429/503/error body/truncated/slow hits a request. A duplicated credit
item is different: it changes which items a page holds, so it depends on the page alone
(not the attempt) and a retried or resumed cursor always returns the same items.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas.errors import ConfigError

Fault = Literal["429", "503", "error_body", "truncated", "slow"]

_RATE = {"ge": 0.0, "le": 1.0}


class Faults(BaseModel):
    """Which faults the demo feed server injects, and how often.

    >>> Faults().active
    False
    >>> Faults(rate_429=0.6, rate_503=0.6)
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for Faults
    ...
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(0, description="Same seed, same faults on the same walk.")
    rate_429: float = Field(0.0, **_RATE, description="HTTP 429 with Retry-After.")
    retry_after_seconds: int = Field(1, ge=0, le=3600, description="Retry-After of a 429.")
    rate_503: float = Field(0.0, **_RATE, description="HTTP 503 with a gateway's HTML page.")
    rate_error_body: float = Field(
        0.0,
        **_RATE,
        description="HTTP 200 whose body says failure: code != 0 (population), "
        "success: false (credit), with a msg.",
    )
    rate_truncated: float = Field(
        0.0, **_RATE, description="HTTP 200 whose JSON body is cut in the middle."
    )
    rate_slow: float = Field(0.0, **_RATE, description="The page answers after slow_seconds.")
    slow_seconds: float = Field(5.0, ge=0.0, le=600.0, description="Delay of a slow page.")
    rate_duplicate_item: float = Field(
        0.0,
        **_RATE,
        description="Credit only: a page starts with the last item of the page before it.",
    )
    max_faults_per_page: int = Field(
        3,
        ge=1,
        description="Attempts of one page that may fault; the next attempt of that page "
        "never does, so a client retrying this many times always gets through.",
    )

    @model_validator(mode="after")
    def _one_fault_per_request(self) -> Faults:
        total = sum(rate for _, rate in self.exclusive_rates())
        if total > 1.0:
            msg = (
                f"rate_429 + rate_503 + rate_error_body + rate_truncated + rate_slow is "
                f"{total:g}; expected at most 1 (a request meets at most one of them)"
            )
            raise ValueError(msg)
        return self

    def exclusive_rates(self) -> tuple[tuple[Fault, float], ...]:
        """The faults of which at most one hits a request, in the order they are drawn."""
        return (
            ("429", self.rate_429),
            ("503", self.rate_503),
            ("error_body", self.rate_error_body),
            ("truncated", self.rate_truncated),
            ("slow", self.rate_slow),
        )

    @property
    def active(self) -> bool:
        return self.rate_duplicate_item > 0 or any(r > 0 for _, r in self.exclusive_rates())


PROFILES: dict[str, Faults] = {
    "none": Faults(),
    # Modest rates: a demo walk over a day's increments meets each kind a few times, and
    # three retries per page (max_faults_per_page) always get it through.
    "demo": Faults(
        rate_429=0.05,
        retry_after_seconds=1,
        rate_503=0.03,
        rate_error_body=0.02,
        rate_truncated=0.02,
        rate_slow=0.01,
        slow_seconds=5.0,
        rate_duplicate_item=0.05,
    ),
}


def load_faults(spec: str | None) -> Faults:
    """Faults from a CLI value: a profile name, inline JSON, or a JSON file's path.

    >>> load_faults("demo").rate_429
    0.05
    >>> load_faults('{"rate_503": 0.5, "seed": 7}').seed
    7
    >>> load_faults(None) == Faults()
    True
    """
    if spec is None or not spec.strip():
        return Faults()
    spec = spec.strip()
    if spec in PROFILES:
        return PROFILES[spec]
    expected = f"a profile ({', '.join(PROFILES)}), inline JSON of Faults fields, or a JSON file"
    try:
        text = spec if spec.startswith("{") else Path(spec).read_text(encoding="utf-8")
        return Faults.model_validate_json(text)
    except (OSError, ValidationError) as exc:
        raise ConfigError("--faults", spec, expected, hint=str(exc)) from exc


def draw(seed: int, *parts: object) -> float:
    """A uniform number in [0, 1) fixed by its inputs (no process-salted ``hash()``).

    >>> draw(1, "persons", "p1") == draw(1, "persons", "p1") != draw(2, "persons", "p1")
    True
    """
    key = "\x1f".join(map(str, (seed, *parts))).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") / 2**64


def pick_fault(faults: Faults, endpoint: str, page: str, attempt: int) -> Fault | None:
    """The fault, if any, for the ``attempt``-th request (from 0) of one page."""
    if attempt >= faults.max_faults_per_page:
        return None
    u = draw(faults.seed, "fault", endpoint, page, attempt)
    for fault, rate in faults.exclusive_rates():
        if u < rate:
            return fault
        u -= rate
    return None


class FaultPlan:
    """The faults in force and how often each page has been asked for (thread-safe)."""

    # A long demo run asks for ever new pages (each run's watermark differs); forgetting
    # old attempt counts only lets a very old page fault once more.
    _MAX_TRACKED_PAGES = 100_000

    def __init__(self, faults: Faults) -> None:
        self._lock = threading.Lock()
        self._faults = faults
        self._attempts: dict[tuple[str, str], int] = {}

    @property
    def faults(self) -> Faults:
        return self._faults

    def replace(self, faults: Faults) -> None:
        """Put new faults in force; attempt counts start again so tests can reproduce."""
        with self._lock:
            self._faults = faults
            self._attempts.clear()

    def next_request(self, endpoint: str, page: str) -> tuple[Faults, Fault | None]:
        """Count one request of ``page`` and say which fault, if any, it meets."""
        with self._lock:
            faults = self._faults
            if not faults.active:
                return faults, None
            if len(self._attempts) >= self._MAX_TRACKED_PAGES:
                self._attempts.clear()
            attempt = self._attempts.get((endpoint, page), 0)
            self._attempts[endpoint, page] = attempt + 1
        return faults, pick_fault(faults, endpoint, page, attempt)

    @staticmethod
    def duplicates_item(faults: Faults, endpoint: str, page: str) -> bool:
        """Whether ``page`` repeats the previous page's last item; never depends on attempts."""
        return draw(faults.seed, "duplicate", endpoint, page) < faults.rate_duplicate_item
