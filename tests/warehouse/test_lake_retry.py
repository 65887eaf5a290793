"""Commits retry on a busy catalog, and only then (DESIGN.md decision 6)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar

import duckdb
import pytest

from schemas.errors import LakeBusy
from schemas.records.base import CanonicalRecord
from schemas.standard import std
from warehouse.lake import attach, init_lake
from warehouse.retry import is_busy, transaction, with_retry

if TYPE_CHECKING:
    from schemas.settings import Settings


class Counter(CanonicalRecord):
    __table__: ClassVar[str] = "meta.counter"
    __business_key__: ClassVar[tuple[str, ...]] = ("name",)
    __label__: ClassVar[str] = "计数"
    __owner__: ClassVar[str] = "测试"

    name: str = std("名称", "Key.", business_key=True)


class Other(CanonicalRecord):
    __table__: ClassVar[str] = "meta.other"
    __business_key__: ClassVar[tuple[str, ...]] = ("name",)
    __label__: ClassVar[str] = "其他"
    __owner__: ClassVar[str] = "测试"

    name: str = std("名称", "Key.", business_key=True)


LOCKED = duckdb.TransactionException(
    "TransactionContext Error: Failed to commit: Failed to commit DuckLake transaction.\n"
    "Failed to flush changes into DuckLake: database is locked"
)


def test_busy_commit_is_retried_with_growing_jittered_delays() -> None:
    calls: list[int] = []
    delays: list[float] = []

    def commit() -> str:
        calls.append(1)
        if len(calls) < 4:
            raise LOCKED
        return "done"

    assert with_retry(commit, sleep=delays.append, base_delay=0.1, max_delay=0.3) == "done"
    assert len(calls) == 4
    # Full jitter within a cap that doubles, then stops at max_delay.
    assert [d <= cap for d, cap in zip(delays, (0.1, 0.2, 0.3), strict=True)] == [True] * 3
    assert all(d >= 0 for d in delays)


def test_other_errors_are_not_retried() -> None:
    calls: list[int] = []

    def commit() -> None:
        calls.append(1)
        raise duckdb.ConstraintException("NOT NULL constraint failed: person.name")

    with pytest.raises(duckdb.ConstraintException):
        with_retry(commit, sleep=lambda _: None)
    assert len(calls) == 1


def test_catalog_busy_for_good_becomes_lake_busy() -> None:
    def commit() -> None:
        raise LOCKED

    with pytest.raises(LakeBusy, match="still busy after 3 attempts") as caught:
        with_retry(commit, attempts=3, sleep=lambda _: None)
    assert caught.value.__cause__ is LOCKED


@pytest.mark.parametrize(
    ("message", "busy"),
    [
        ("Failed to commit: database is locked", True),
        ("Transaction conflict: cannot update table person", True),
        ("could not serialize access due to concurrent update", True),  # PostgreSQL catalog
        ("Catalog Error: Table with name person does not exist!", False),
        ("Constraint Error: NOT NULL constraint failed: person.name", False),
    ],
)
def test_is_busy_tells_transient_from_terminal(message: str, busy: bool) -> None:
    assert is_busy(duckdb.Error(message)) is busy


def _two_writers(settings: Settings) -> tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyConnection]:
    init_lake(settings, [Counter, Other])
    # Two DuckDB instances in one process behave like two processes on the SQLite file.
    return attach(settings), attach(settings)


def test_commit_after_another_writer_fails_without_retry(settings: Settings) -> None:
    # The control for the next test: this is the failure with_retry exists for.
    ours, theirs = _two_writers(settings)
    ours.begin()
    ours.execute("INSERT INTO lake.meta.counter VALUES ('a')")
    theirs.execute("INSERT INTO lake.meta.other VALUES ('b')")
    with pytest.raises(duckdb.Error) as caught:
        ours.commit()
    assert is_busy(caught.value)


def test_commit_after_another_writer_succeeds_with_retry(settings: Settings) -> None:
    ours, theirs = _two_writers(settings)
    attempts: list[int] = []

    def load() -> None:
        attempts.append(1)
        with transaction(ours):
            ours.execute("INSERT INTO lake.meta.counter VALUES ('a')")
            if len(attempts) == 1:
                theirs.execute("INSERT INTO lake.meta.other VALUES ('b')")

    with_retry(load)
    assert len(attempts) == 2
    assert ours.execute("SELECT count(*) FROM lake.meta.counter").fetchone() == (1,)
    assert ours.execute("SELECT count(*) FROM lake.meta.other").fetchone() == (1,)


def test_open_reader_does_not_block_a_writer(settings: Settings) -> None:
    # Without WAL on the SQLite catalog the commit below waits 5 s, then fails.
    reader, writer = _two_writers(settings)
    reader.begin()
    assert reader.execute("SELECT count(*) FROM lake.meta.counter").fetchone() == (0,)
    started = time.perf_counter()
    writer.execute("INSERT INTO lake.meta.counter VALUES ('a')")
    assert time.perf_counter() - started < 2
    # The reader keeps its snapshot until it ends its transaction.
    assert reader.execute("SELECT count(*) FROM lake.meta.counter").fetchone() == (0,)
    reader.commit()
    assert reader.execute("SELECT count(*) FROM lake.meta.counter").fetchone() == (1,)
