"""Commits that survive a busy catalog (DESIGN.md decision 6).

With a SQLite catalog, a writer whose transaction has already read the catalog fails at
COMMIT with ``database is locked`` when another process became the pending writer:
SQLite skips its busy handler there because waiting could deadlock, so DuckLake's busy
timeout never applies (duckdb/ducklake#1309). Two writers of the same table in different
processes get a transaction conflict instead. Both succeed when the whole transaction is
run again a moment later, which is what :func:`with_retry` does.
"""

from __future__ import annotations

import logging
import random
import time
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, TypeVar

import duckdb

from schemas.errors import LakeBusy

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

T = TypeVar("T")
log = logging.getLogger(__name__)

# Lower-case fragments of the messages a retry can fix: SQLite's lock (rollback journal
# and WAL), DuckLake's own write-write conflict, and PostgreSQL's serialization failures.
BUSY_MESSAGES = (
    "database is locked",
    "database table is locked",
    "transaction conflict",
    "could not serialize access",
    "deadlock detected",
)


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` is a catalog lock or commit conflict that a retry may clear.

    >>> is_busy(duckdb.TransactionException("Failed to commit: database is locked"))
    True
    >>> is_busy(duckdb.CatalogException("Table with name person does not exist!"))
    False
    """
    if isinstance(exc, LakeBusy):
        return True
    if not isinstance(exc, duckdb.Error):
        return False
    text = str(exc).lower()
    return any(fragment in text for fragment in BUSY_MESSAGES)


def with_retry(
    fn: Callable[[], T],
    *,
    what: str = "lake commit",
    attempts: int = 6,
    base_delay: float = 0.05,
    max_delay: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``fn`` and run it again, after a jittered backoff, while the catalog is busy.

    ``fn`` must be the whole transaction (begin ... commit), so each attempt starts from a
    fresh snapshot. Any other error propagates at once; after ``attempts`` busy failures
    a :class:`~schemas.errors.LakeBusy` is raised from the last one.

    >>> calls = []
    >>> def commit():
    ...     calls.append(1)
    ...     if len(calls) < 3:
    ...         raise duckdb.TransactionException("database is locked")
    ...     return "committed"
    >>> with_retry(commit, sleep=lambda s: None), len(calls)
    ('committed', 3)
    """
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except (duckdb.Error, LakeBusy) as exc:
            if not is_busy(exc):
                raise
            if attempt == attempts:
                msg = (
                    f"{what}: the lake catalog was still busy after {attempts} attempts "
                    f"({exc}). Another process is writing; the run can be retried."
                )
                raise LakeBusy(msg) from exc
            # Full jitter: two writers that collided do not retry in step.
            delay = random.uniform(0, min(max_delay, base_delay * 2 ** (attempt - 1)))
            log.warning("%s: catalog busy (%s); attempt %d in %.2fs", what, exc, attempt + 1, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    # A failed COMMIT has already ended the transaction: nothing left to roll back.
    with suppress(duckdb.TransactionException):
        con.rollback()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One DuckLake transaction: committed when the block ends, rolled back if it raises.

    Wrap the block in a function and hand it to :func:`with_retry`.
    """
    con.begin()
    try:
        yield con
    except BaseException:
        _rollback(con)
        raise
    con.commit()
