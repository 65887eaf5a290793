"""The quarantine (隔离区): rows that could not be loaded, why, and their replay.

Every rejected source row sits in ``meta.quarantine`` with its raw record (as received, as
JSON) and its reason codes (DESIGN.md decision 5). From here a data engineer can:

- :func:`list_quarantine`: filter by feed, resource, reason, batch and unresolved, with
  counts by reason (what to fix first);
- :func:`show_quarantined`: one row, its raw record and each reason in plain language;
- :func:`replay`: re-normalize the unresolved rows of a feed's resource with the current
  code (after a mapping or standard fix) and load those that now pass, marking them
  resolved in the same transaction as their load. Rows that still fail stay, with the
  reasons the current code gives (so the list shows what is wrong *now*).

A replay (:mod:`warehouse.load.replay`) rebuilds the source rows from ``raw_record``
(all text, as read from the delivery), so it needs the resource's field mapping;
``warehouse`` may not import ``feeds``, so the caller (the CLI) passes it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from schemas.errors import TerminalError
from schemas.generate import table_columns
from warehouse.lake import attach
from warehouse.load.replay import ReplayResult, replay
from warehouse.load.staging import batch_prefix, core_model
from warehouse.load.statements import statement

if TYPE_CHECKING:
    from collections.abc import Mapping

    from schemas.settings import Settings

__all__ = [
    "QuarantineEntry",
    "QuarantineListing",
    "QuarantineRowNotFound",
    "QuarantinedRow",
    "ReasonCount",
    "ReasonExplained",
    "ReplayResult",
    "batch_prefix",
    "explain",
    "list_quarantine",
    "replay",
    "show_quarantined",
]

# Codes many checks share; a code type's own table (schemas.codes.REASONS) comes first.
GENERIC_REASONS: dict[str, str] = {
    "missing": "a required value is empty or its source field is absent",
    "unknown": "not one of the values the standard's code table allows",
    "format": "not written in a form the standard accepts",
    "mismatch_id": "contradicts what the citizen ID number encodes",
    "mismatch_code": "contradicts the code delivered beside it",
    "mismatch_content": "contradicts the content delivered beside it",
    "implausible": "outside the range a real value can take",
    "swapped": "longitude and latitude look swapped",
    "zero": "the coordinates are zero: the point was never placed",
    "out_of_city": "the point lies outside the city",
    "unsupported_type": "a geometry type the standard does not take",
    "type_mismatch": "the code is of another kind than its declared type",
    "before_valid_from": "ends before it starts",
    "valid_after_end": "starts after it ends",
    "not_prefix": "does not start with the code of the area it belongs to",
    "retired": "a retired code",
}


class QuarantineRowNotFound(TerminalError):
    """No quarantined row has that batch id and source row."""


class QuarantineEntry(BaseModel):
    """One quarantined row, as listed."""

    model_config = ConfigDict(frozen=True)

    feed: str
    batch_id: str
    source: str
    source_row: int
    reasons: tuple[str, ...]
    quarantined_at: datetime
    resolved_at: datetime | None = None
    resolved_batch_id: str | None = None
    resource: str | None = None  # NULL on rows quarantined before the column existed


class ReasonCount(BaseModel):
    """How many quarantined rows carry one reason code."""

    model_config = ConfigDict(frozen=True)

    reason: str
    rows: int
    unresolved: int
    explanation: str | None = None


class QuarantineListing(BaseModel):
    """Rows matching the filters (newest first, up to the limit) and counts by reason."""

    model_config = ConfigDict(frozen=True)

    rows: tuple[QuarantineEntry, ...]
    total: int  # matching rows, before the limit
    reasons: tuple[ReasonCount, ...]


class ReasonExplained(BaseModel):
    """A reason code with the field it concerns and what it means."""

    model_config = ConfigDict(frozen=True)

    code: str
    field: str
    explanation: str | None


class QuarantinedRow(QuarantineEntry):
    """One quarantined row in full: its raw record and explained reasons."""

    raw_record: dict[str, Any] | str  # parsed JSON; the text as stored if it is not JSON
    explained: tuple[ReasonExplained, ...]


# --- reasons in plain language -----------------------------------------------------------


def _field_kinds(field: str, table: str | None) -> list[str]:
    from schemas.records import TABLES

    models = [core_model(table)] if table else [m for m in TABLES if m.__history__]
    kinds: list[str] = []
    for model in models:
        for col in table_columns(model):
            if col.name != field:
                continue
            if col.standard.code:
                kinds.append(col.standard.code)
            if col.sql_type in ("DATE", "TIMESTAMP"):
                kinds.append("date")
            if col.sql_type.startswith("DECIMAL"):
                kinds.append("money")
    return list(dict.fromkeys(kinds))


def explain(reason: str, table: str | None = None) -> str | None:
    """What a reason code means, in plain language; None when nothing is known of it.

    The field's code type decides (``id_number`` is a ``citizen_id``, so
    ``id_number.checksum`` is the citizen ID's check character); dates and money have
    their parsers' tables; a few codes mean the same for any field. ``table`` narrows
    the field to one core table (otherwise every core table with that field is asked).

    >>> explain("id_number.checksum")
    'the check character does not match (ISO 7064 MOD 11-2)'
    >>> explain("birth_date.invalid_date")
    'the date does not exist in the calendar'
    >>> explain("name.missing")
    'a required value is empty or its source field is absent'
    >>> explain("nonsense") is None
    True
    """
    from schemas.codes import REASONS
    from schemas.codes import dates as date_codes
    from schemas.codes import money as money_codes

    field, _, code = reason.partition(".")
    if not code:
        return None
    tables: dict[str, Mapping[str, str]] = {
        **REASONS,
        "date": date_codes.REASONS,
        "money": money_codes.REASONS,
    }
    for kind in _field_kinds(field, table):
        text = tables.get(kind, {}).get(code)
        if text:
            return text
    return GENERIC_REASONS.get(code)


# --- list and show ------------------------------------------------------------------------


def _filters(
    feed: str | None,
    resource: str | None,
    reason: str | None,
    batch_id: str | None,
    unresolved_only: bool,
) -> dict[str, Any]:
    return {
        "feed": feed,
        "resource": resource,
        "reason": reason,
        "batch_id": batch_id,
        "unresolved_only": unresolved_only,
    }


def list_quarantine(
    settings: Settings,
    *,
    feed: str | None = None,
    reason: str | None = None,
    batch_id: str | None = None,
    unresolved_only: bool = True,
    limit: int = 50,
    table: str | None = None,
    resource: str | None = None,
) -> QuarantineListing:
    """Quarantined rows matching the filters, newest first, and their counts by reason.

    Args:
        feed: only this feed's rows.
        resource: only rows of this resource (``penalties``; with ``feed``, of that feed's).
        reason: a reason code (``id_number.checksum``) or a field (``id_number``: any of
            its codes).
        batch_id: only rows of this batch.
        unresolved_only: leave out rows a replay has loaded.
        limit: rows to return (the counts cover every matching row).
        table: the core table, to explain reasons more precisely.
    """
    params = _filters(feed, resource, reason, batch_id, unresolved_only)
    con = attach(settings, read_only=True)
    try:
        lake = settings.lake_name
        found = con.execute(statement("quarantine", "rows", lake), params | {"limit": limit})
        rows = found.fetchall()
        columns = [d[0] for d in found.description]
        counts = con.execute(statement("quarantine", "reason_counts", lake), params).fetchall()
    finally:
        con.close()
    entries = []
    total = 0
    for row in rows:
        record = dict(zip(columns, row, strict=True))
        total = record.pop("total")
        entries.append(QuarantineEntry(**record))
    return QuarantineListing(
        rows=tuple(entries),
        total=total,
        reasons=tuple(
            ReasonCount(reason=r, rows=n, unresolved=u, explanation=explain(r, table))
            for r, n, u in counts
        ),
    )


def show_quarantined(
    settings: Settings, batch_id: str, source_row: int, *, table: str | None = None
) -> QuarantinedRow:
    """One quarantined row: raw record parsed, each reason with its explanation.

    Raises:
        QuarantineRowNotFound: no such row.
    """
    con = attach(settings, read_only=True)
    try:
        found = con.execute(
            statement("quarantine", "row", settings.lake_name),
            {"batch_id": batch_id, "source_row": source_row},
        )
        row = found.fetchone()
        columns = [d[0] for d in found.description]
    finally:
        con.close()
    if row is None:
        msg = (
            f"no quarantined row {source_row} in batch {batch_id!r}; "
            "`citybrain quarantine list --batch ...` shows the rows of a batch"
        )
        raise QuarantineRowNotFound(msg)
    record = dict(zip(columns, row, strict=True))
    try:
        raw: dict[str, Any] | str = json.loads(record["raw_record"])
    except (TypeError, json.JSONDecodeError):
        raw = record["raw_record"]
    record["raw_record"] = raw
    explained = tuple(
        ReasonExplained(code=r, field=r.partition(".")[0], explanation=explain(r, table))
        for r in record["reasons"]
    )
    return QuarantinedRow(**record, explained=explained)
