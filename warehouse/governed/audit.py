"""``meta.query_audit``: every governed query, allowed or refused, one row each.

The service reads through a read-only attach it cannot write with, so audit rows go
through a separate read-write attach, each in a short transaction of its own with the
loader's retry (:func:`warehouse.retry.with_retry`): a load committing at the same moment
makes the audit wait a little, never lose its row. An audit that cannot be written fails
the query (fail closed): nothing is answered that is not on record.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb

from schemas.errors import LakeError
from warehouse.governed.sql import load_sql
from warehouse.lake import attach, lake_exists, redact, use_lake
from warehouse.retry import transaction, with_retry

if TYPE_CHECKING:
    from schemas.settings import Settings


@dataclass(frozen=True)
class AuditRecord:
    """One row of ``meta.query_audit``."""

    principal: str
    role: str
    sql: str
    allowed: bool
    tables: tuple[str, ...] = ()
    sensitive_columns: tuple[str, ...] = ()
    rows_returned: int | None = None
    reason: str | None = None
    query_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    # Naive UTC, like every timestamp the lake keeps (_loaded_at ...).
    at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))


class _Writers:
    """One read-write attach per lake, kept open: attaching costs more than the insert."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cons: dict[tuple[str, str, str], duckdb.DuckDBPyConnection] = {}

    def write(self, settings: Settings, record: AuditRecord) -> None:
        key = (settings.catalog, settings.data_path, settings.lake_name)
        params = {
            "query_id": record.query_id,
            "at": record.at,
            "principal": record.principal,
            "role": record.role,
            "sql": record.sql,
            "tables": list(record.tables),
            "sensitive_columns": list(record.sensitive_columns),
            "rows_returned": record.rows_returned,
            "allowed": record.allowed,
            "reason": record.reason,
        }
        if lake_exists(settings) is False:
            # Attaching read-write would create an empty lake just to fail the insert.
            msg = (
                f"there is no lake at {redact(settings.catalog)} to audit the query in: run "
                "`citybrain lake init` (or `make demo`) first"
            )
            raise LakeError(msg)
        # One writer per process at a time: DuckLake would conflict them with each other.
        with self.lock:
            con = self.cons.get(key)
            if con is None:
                con = attach(settings)
                con.execute(use_lake(settings))
                self.cons[key] = con

            def insert() -> None:
                with transaction(con):
                    con.execute(load_sql("insert_query_audit"), params)

            try:
                with_retry(insert, what="query audit")
            except duckdb.Error as exc:
                self.cons.pop(key, None)
                con.close()
                msg = (
                    f"the query audit could not be written to meta.query_audit on catalog "
                    f"{redact(settings.catalog)} ({redact(str(exc))}), so the query was not "
                    "answered; run `citybrain lake init` if the table is missing"
                )
                raise LakeError(msg) from exc

    def close(self) -> None:
        with self.lock:
            for con in self.cons.values():
                con.close()
            self.cons.clear()


_WRITERS = _Writers()


def write_audit(settings: Settings, record: AuditRecord) -> None:
    """Append ``record`` to ``meta.query_audit`` in its own transaction."""
    _WRITERS.write(settings, record)


def close_audit_connections() -> None:
    """Close the kept read-write attaches (tests, shutdown)."""
    _WRITERS.close()
