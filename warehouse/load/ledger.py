"""The ledger side of a load: meta.batches, meta.quarantine, meta.watermarks, meta.deliveries.

Thin wrappers over the static statements in ``warehouse/sql/load/``, run in the caller's
transaction (the batch's own); :func:`record_failure` and :func:`register_delivery` open a
small transaction of their own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from warehouse.lake import attach, lake_exists
from warehouse.load.staging import batch_prefix, now, utc_naive
from warehouse.load.statements import statement
from warehouse.retry import transaction, with_retry

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    import duckdb

    from schemas.settings import Settings
    from transforms.staged import StagedBatch
    from warehouse.load.result import BatchRef

AUTHOR = "citybrain loader"
MESSAGE_LIMIT = 4000  # a failure message is for people; the full traceback is in the task log


@dataclass(frozen=True)
class LedgerRow:
    """One row of ``meta.batches`` for a batch."""

    status: str
    rows_in: int
    rows_loaded: int
    rows_quarantined: int
    rows_duplicate: int
    finished_at: datetime | None
    message: str | None


def resource_of(feed: str, batch_id: str) -> str | None:
    """The resource a batch id names (``<feed>-<resource>-...``, RawDelivery.batch_id).

    For writers that do not pass the resource they write; None when the id is shaped
    otherwise (the column then stays NULL rather than guessed).

    >>> resource_of("credit", "credit-penalties-0a1b2c3d4e5f6a7b")
    'penalties'
    >>> resource_of("population", "population-persons-replay-0a1b2c3d4e5f6a7b")
    'persons'
    >>> resource_of("credit", "population-persons-0a1b2c3d4e5f6a7b") is None
    True
    """
    if not batch_id.startswith(f"{feed}-"):
        return None
    resource, found, _ = batch_id.removeprefix(f"{feed}-").partition("-")
    return resource if found and resource else None


def _run(con: duckdb.DuckDBPyConnection, lake: str, name: str, **params: Any) -> list[tuple]:
    return con.execute(statement("load", name, lake), params).fetchall()


def batch_rows(con: duckdb.DuckDBPyConnection, lake: str, batch_id: str) -> list[LedgerRow]:
    """Every ledger row of ``batch_id`` (at most one ``loaded``, earlier ``failed`` ones)."""
    return [LedgerRow(*row) for row in _run(con, lake, "batch_status", batch_id=batch_id)]


def loaded_row(rows: list[LedgerRow]) -> LedgerRow | None:
    """The ``loaded`` row among a batch's ledger rows (:func:`batch_rows`), if it loaded."""
    return next((r for r in rows if r.status == "loaded"), None)


def record_loaded(
    con: duckdb.DuckDBPyConnection,
    lake: str,
    *,
    batch_id: str,
    feed: str,
    source: str,
    counts: dict[str, int],
    started_at: datetime,
    finished_at: datetime,
    message: str | None,
    resource: str | None = None,
    failed_before: bool = True,
) -> None:
    """Replace any failed attempts of the batch by its ``loaded`` row.

    ``resource`` defaults to the one the batch id names (:func:`resource_of`).
    ``failed_before=False``: the transaction read the batch's ledger rows and found no
    failed attempt, so nothing is deleted (a DELETE that finds nothing still took 0.06 s).
    """
    if failed_before:
        _run(con, lake, "batch_clear_attempts", batch_id=batch_id)
    _run(
        con,
        lake,
        "batch_insert",
        batch_id=batch_id,
        feed=feed,
        resource=resource or resource_of(feed, batch_id),
        source=source,
        started_at=started_at,
        finished_at=finished_at,
        message=message,
        **counts,
    )


def record_failed(
    con: duckdb.DuckDBPyConnection,
    lake: str,
    *,
    batch_id: str,
    feed: str,
    source: str,
    started_at: datetime,
    finished_at: datetime,
    message: str,
    resource: str | None = None,
) -> bool:
    """Replace any earlier failed attempt by this one; never touches a loaded batch."""
    _run(con, lake, "batch_clear_attempts", batch_id=batch_id)
    inserted = _run(
        con,
        lake,
        "batch_failure_insert",
        batch_id=batch_id,
        feed=feed,
        resource=resource or resource_of(feed, batch_id),
        source=source,
        started_at=started_at,
        finished_at=finished_at,
        message=message,
    )
    return bool(inserted and inserted[0][0])


def quarantine(
    con: duckdb.DuckDBPyConnection,
    lake: str,
    *,
    rejected_path: Path,
    feed: str,
    batch_id: str,
    quarantined_at: datetime,
    resource: str | None = None,
) -> int:
    """Insert the rejected rows with their raw record and reasons; rows inserted.

    ``resource`` defaults to the one the batch id names (:func:`resource_of`).
    """
    rows = _run(
        con,
        lake,
        "quarantine_insert",
        rejected_path=str(rejected_path),
        feed=feed,
        resource=resource or resource_of(feed, batch_id),
        batch_id=batch_id,
        quarantined_at=quarantined_at,
    )
    return int(rows[0][0]) if rows else 0


def move_watermark(
    con: duckdb.DuckDBPyConnection,
    lake: str,
    *,
    feed: str,
    resource: str,
    cursor_field: str,
    cursor_value: str,
    batch_id: str,
    updated_at: datetime,
) -> bool:
    """Move the resource's cursor forward to ``cursor_value``; False when it was ahead."""
    rows = _run(
        con,
        lake,
        "watermark_upsert",
        batch_prefix=batch_prefix(feed, resource),
        feed=feed,
        resource=resource,
        cursor_field=cursor_field,
        cursor_value=cursor_value,
        batch_id=batch_id,
        updated_at=updated_at,
    )
    return bool(rows and rows[0][0])


def register(
    con: duckdb.DuckDBPyConnection,
    lake: str,
    *,
    sha256: str,
    feed: str,
    resource: str,
    source: str,
    raw_path: str,
    size_bytes: int,
    received_at: datetime,
) -> bool:
    """Record a delivery once per sha256; False when it was already recorded."""
    rows = _run(
        con,
        lake,
        "delivery_register",
        sha256=sha256,
        feed=feed,
        resource=resource,
        source=source,
        raw_path=raw_path,
        size_bytes=size_bytes,
        received_at=received_at,
    )
    return bool(rows and rows[0][0])


def label_snapshot(
    con: duckdb.DuckDBPyConnection, lake: str, message: str, extra: dict[str, Any]
) -> None:
    """Name the snapshot the transaction will commit (a no-op if it writes nothing)."""
    _run(
        con,
        lake,
        "commit_message",
        author=AUTHOR,
        message=message,
        extra_info=json.dumps(extra, sort_keys=True, default=str),
    )


def last_snapshot(con: duckdb.DuckDBPyConnection, lake: str) -> int | None:
    """The snapshot this connection committed last."""
    rows = _run(con, lake, "last_snapshot")
    return rows[0][0] if rows else None


# --- small transactions of their own --------------------------------------------------


def record_failure(
    settings: Settings,
    batch: StagedBatch | BatchRef,
    error: BaseException | str,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
) -> bool:
    """Record a failed load in ``meta.batches`` in a small transaction of its own.

    The ledger (and the situation page) then shows the failure until a later attempt loads
    the batch, which replaces the row. A batch that already loaded is left alone (the
    error came from a later step). Counts are 0 so the row reconciles; the message gives
    the error and how many rows were waiting.

    Returns:
        True when a failed row was written, False when the batch had already loaded.
    """
    rows_in = batch.rows_in
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    waiting = f" ({rows_in:,} rows waiting; none loaded)" if rows_in is not None else ""
    message = (text + waiting)[:MESSAGE_LIMIT]
    at = now()
    own = con is None
    con = con or attach(settings)

    def attempt() -> bool:
        with transaction(con):
            return record_failed(
                con,
                settings.lake_name,
                batch_id=batch.batch_id,
                feed=batch.feed,
                resource=getattr(batch, "resource", None),
                source=batch.source,
                started_at=at,
                finished_at=at,
                message=message,
            )

    try:
        return with_retry(attempt, what=f"record failure of {batch.batch_id}")
    finally:
        if own:
            con.close()


def register_delivery(
    settings: Settings,
    *,
    sha256: str,
    feed: str,
    resource: str,
    source: str,
    raw_path: str | Path,
    size_bytes: int,
    received_at: datetime,
    con: duckdb.DuckDBPyConnection | None = None,
) -> bool:
    """Record a delivery of the raw zone in ``meta.deliveries``, once per sha256.

    Called right after the pull stored the bytes, in its own small transaction, not in the
    load's: a delivery that never normalizes (a broken file) must still be on record,
    which is the point of "raw first" (DESIGN.md decision 3).

    Returns:
        True when recorded now, False when that content was already recorded.
    """
    own = con is None
    con = con or attach(settings)

    def attempt() -> bool:
        with transaction(con):
            return register(
                con,
                settings.lake_name,
                sha256=sha256,
                feed=feed,
                resource=resource,
                source=source,
                raw_path=str(raw_path),
                size_bytes=size_bytes,
                received_at=utc_naive(received_at),
            )

    try:
        return with_retry(attempt, what=f"register delivery {sha256[:16]}")
    finally:
        if own:
            con.close()


def read_watermark(
    settings: Settings,
    feed: str,
    resource: str,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
) -> str | None:
    """The cursor a feed's resource has been loaded up to; None before its first batch.

    The next pull asks the department for records updated since then. Reads through a
    read-only attach of its own, so it runs beside a loader, or through ``con`` (a lake
    the caller attached already: attaching costs more than the read); None too while
    there is no lake yet.
    """
    if con is None and lake_exists(settings) is False:
        return None
    own = con is None
    con = con or attach(settings, read_only=True)
    try:
        rows = _run(
            con,
            settings.lake_name,
            "watermark_read",
            feed=feed,
            resource=resource,
            batch_prefix=batch_prefix(feed, resource),
        )
    finally:
        if own:
            con.close()
    return rows[0][0] if rows else None
