"""The staged batch as the loader takes it: files checked against the standard and counts.

A staged batch (:class:`transforms.staged.StagedBatch`) points at Parquet files. They are
checked against the data standard and the pointer's own counts before anything is
written, so a stale or mismatched staging area fails loudly instead of loading half-typed
rows. :class:`LoadInput` is what the rest of the loader works from; a quarantine replay
builds one too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import polars as pl

from schemas.errors import TerminalError
from schemas.generate import polars_schema, table_columns
from schemas.records import table as model_of
from transforms.staged import VALID_PARTS, scan_valid, valid_schema
from transforms.versions import RECEIVED_AT

if TYPE_CHECKING:
    from collections.abc import Sequence

    from schemas.records.base import CanonicalRecord
    from transforms.staged import StagedBatch


def batch_prefix(feed: str, resource: str) -> str:
    """How the batch ids of a feed's resource begin (``RawDelivery.batch_id`` in feeds/).

    Rows written before the meta tables had a ``resource`` column are told apart by it
    (the loader falls back to this prefix where ``resource`` is NULL).

    >>> batch_prefix("credit", "penalties")
    'credit-penalties-'
    """
    return f"{feed}-{resource}-"


class StagedBatchError(TerminalError):
    """The staged files do not match their pointer or the data standard; re-normalize."""


def utc_naive(moment: datetime) -> datetime:
    """``moment`` in UTC without tzinfo (the lake's TIMESTAMPs); naive ones are UTC already.

    >>> from datetime import timedelta, timezone
    >>> utc_naive(datetime(2026, 1, 2, 8, 0, tzinfo=timezone(timedelta(hours=8))))
    datetime.datetime(2026, 1, 2, 0, 0)
    """
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


# --- the staged files ---------------------------------------------------------------------

_PARTS: dict[str, dict[str, tuple[type[pl.DataType], ...]]] = {
    "rejected": {
        "_source": (pl.String,),
        "_source_row": (pl.Int64, pl.Int32, pl.UInt32, pl.UInt64),
        "raw_record": (pl.String,),
        "reasons": (pl.List,),
    },
    "duplicates": {
        "_source": (pl.String,),
        "_source_row": (pl.Int64, pl.Int32, pl.UInt32, pl.UInt64),
        "raw_record": (pl.String,),
        "reason": (pl.String,),
    },
}
_ROW_NUMBER = (pl.Int64, pl.Int32, pl.UInt32, pl.UInt64)


def row_count(path: Path) -> int:
    """Rows of a Parquet file, from its footer; or of a folder of valid parts, less the
    superseded rows (:func:`transforms.staged.scan_valid`)."""
    return scan_valid(path).select(pl.len()).collect().item()


def _valid_exists(path: Path) -> bool:
    """A valid file, or a folder with at least one part."""
    return path.is_file() or (path.is_dir() and any(path.glob(VALID_PARTS)))


def _problem(where: str, path: Path, problems: Sequence[str]) -> StagedBatchError:
    listed = "\n".join(f"  - {p}" for p in problems)
    msg = (
        f"{where}: the staged file {path} does not match the data standard:\n{listed}\n"
        "Re-run the normalize step for this delivery (the transforms write these files)."
    )
    return StagedBatchError(msg)


def check_valid_file(model: type[CanonicalRecord], path: Path, *, batch_id: str) -> dict[str, str]:
    """Check the valid rows' file against the model; the geometry encoding of each GEOMETRY.

    Every field of the model must be there in ``polars_schema(model)``'s type; GEOMETRY
    columns may be WKB (``Binary``, what the geospatial transform writes) or GeoJSON text
    (``String``). ``_source`` and ``_source_row`` must be there too. Other ``_`` columns
    (``_warnings`` ...) are ignored.

    Returns:
        ``{geometry column: "wkb" | "geojson"}``.
    """
    found = valid_schema(path)
    lake_types = {c.name: c.sql_type for c in table_columns(model)}
    problems: list[str] = []
    geometry: dict[str, str] = {}
    for name, dtype in polars_schema(model).items():
        got = found.get(name)
        if got is None:
            problems.append(f"column {name} is missing; expected {dtype}")
        elif lake_types[name] == "GEOMETRY":
            if got == pl.Binary:
                geometry[name] = "wkb"
            elif got == pl.String:
                geometry[name] = "geojson"
            else:
                problems.append(f"column {name} is {got}; expected WKB (Binary) or GeoJSON")
        elif got != dtype:
            problems.append(f"column {name} is {got}; expected {dtype}")
    if found.get("_source") != pl.String:
        problems.append(f"column _source is {found.get('_source')}; expected String")
    if not isinstance(found.get("_source_row"), _ROW_NUMBER):
        problems.append(f"column _source_row is {found.get('_source_row')}; expected an integer")
    if RECEIVED_AT in found and not isinstance(found[RECEIVED_AT], pl.Datetime):
        problems.append(f"column {RECEIVED_AT} is {found[RECEIVED_AT]}; expected Datetime")
    if problems:
        raise _problem(f"batch {batch_id}, valid rows of {model.__table__}", path, problems)
    return geometry


def check_part_file(part: str, path: Path, *, batch_id: str) -> None:
    """Check the rejected or duplicates file has the columns the transforms write."""
    found = pl.read_parquet_schema(path)
    problems = [
        f"column {name} is {found.get(name)}; expected {' or '.join(t.__name__ for t in kinds)}"
        for name, kinds in _PARTS[part].items()
        if not isinstance(found.get(name), kinds)
    ]
    if problems:
        raise _problem(f"batch {batch_id}, {part} rows", path, problems)


@dataclass(frozen=True)
class LoadInput:
    """A batch as the loader applies it: checked files, their counts, how versions order.

    Built from a :class:`~transforms.staged.StagedBatch` by :func:`prepare`, or by a
    quarantine replay (whose rejected rows stay where they are in ``meta.quarantine``).
    """

    batch_id: str
    feed: str
    resource: str
    model: type[CanonicalRecord]
    source: str
    received_at: datetime  # naive UTC
    valid_path: Path
    rows_in: int
    rows_valid: int
    rejected_path: Path | None  # rows to add to meta.quarantine
    rows_rejected: int  # rejected rows (added, or already in quarantine for a replay)
    superseded_upstream: int  # duplicates the normalizer already set aside
    updated_at: str | None = None
    cursor_field: str | None = None
    cursor_max: str | None = None
    geometry: dict[str, str] = field(default_factory=dict)
    per_row_received_at: bool = False
    kind: Literal["load", "replay"] = "load"

    @property
    def table(self) -> str:
        return self.model.__table__

    @property
    def needs_spatial(self) -> bool:
        return any(c.sql_type == "GEOMETRY" for c in table_columns(self.model))


def core_model(table: str) -> type[CanonicalRecord]:
    """The model of a core table; a meta table cannot be batch-loaded."""
    model = model_of(table)
    if not model.__history__:
        msg = f"{table} is not a core table: only core tables (with history) are batch-loaded"
        raise StagedBatchError(msg)
    return model


def prepare(staged: StagedBatch) -> LoadInput:
    """Check a staged batch's files against the standard and its own counts.

    Raises:
        StagedBatchError: a file is missing, typed differently from the standard, or its
            row count differs from the pointer's; or the pointer does not reconcile.
    """
    model = core_model(staged.table)
    where = f"batch {staged.batch_id} ({staged.feed}/{staged.resource})"
    if staged.updated_at is not None and staged.updated_at not in model.model_fields:
        msg = f"{where}: updated_at {staged.updated_at!r} is not a column of {staged.table}"
        raise StagedBatchError(msg)
    prefix = batch_prefix(staged.feed, staged.resource)
    if staged.cursor_max is not None and not staged.batch_id.startswith(prefix):
        msg = (
            f"{where}: a batch that moves the watermark needs an id starting with {prefix!r} "
            "(RawDelivery.batch_id): the watermark of a resource is found by it"
        )
        raise StagedBatchError(msg)
    if not _valid_exists(Path(staged.valid_path)):
        msg = (
            f"{where}: the staged valid rows {staged.valid_path} do not exist; "
            "re-run the normalize step"
        )
        raise StagedBatchError(msg)
    for path in (staged.rejected_path, staged.duplicates_path):
        if not Path(path).is_file():
            msg = f"{where}: the staged file {path} does not exist; re-run the normalize step"
            raise StagedBatchError(msg)
    geometry = check_valid_file(model, staged.valid_path, batch_id=staged.batch_id)
    check_part_file("rejected", staged.rejected_path, batch_id=staged.batch_id)
    check_part_file("duplicates", staged.duplicates_path, batch_id=staged.batch_id)
    counted = {
        "valid": (row_count(staged.valid_path), staged.rows_valid),
        "rejected": (row_count(staged.rejected_path), staged.rows_rejected),
        "duplicates": (row_count(staged.duplicates_path), staged.rows_duplicate),
    }
    wrong = [
        f"{k}: {got:,} rows in the file, {said:,} in the pointer"
        for k, (got, said) in counted.items()
        if got != said
    ]
    if wrong or not staged.reconciles():
        detail = "; ".join(wrong) or (
            f"rows_in {staged.rows_in:,} != valid {staged.rows_valid:,} + rejected "
            f"{staged.rows_rejected:,} + duplicate {staged.rows_duplicate:,}"
        )
        msg = f"{where}: the staged batch does not add up ({detail}); re-run the normalize step"
        raise StagedBatchError(msg)
    return LoadInput(
        batch_id=staged.batch_id,
        feed=staged.feed,
        resource=staged.resource,
        model=model,
        source=staged.source,
        received_at=utc_naive(staged.received_at),
        valid_path=Path(staged.valid_path),
        rows_in=staged.rows_in,
        rows_valid=staged.rows_valid,
        rejected_path=Path(staged.rejected_path),
        rows_rejected=staged.rows_rejected,
        superseded_upstream=staged.rows_duplicate,
        updated_at=staged.updated_at,
        cursor_field=staged.cursor_field,
        cursor_max=staged.cursor_max,
        geometry=geometry,
        per_row_received_at=False,
    )


def now() -> datetime:
    """The current time as the lake stores it: UTC, naive."""
    return datetime.now(UTC).replace(tzinfo=None)
