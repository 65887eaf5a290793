"""Replay quarantined rows: re-normalize them with the current code, load those that pass.

After a mapping or standard fix, the unresolved rows of a feed's resource are rebuilt from
their ``raw_record`` (the source row as read, all text), normalized again by the table's
current normalizer, and loaded as one batch (:func:`warehouse.load.batch.apply_batch`)
in the same transaction that marks them resolved. Rows that still fail stay unresolved,
their reasons refreshed to what the current code says.

Each row is judged as of its delivery's date and versioned by its delivery's receipt
time (or the table's update column), as it was the first time: a replayed row never
overwrites a newer version loaded since.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict

from schemas.generate import table_columns
from transforms.versions import RECEIVED_AT
from warehouse.load import ledger
from warehouse.load.batch import apply_batch, lake_files, placing, run_load
from warehouse.load.result import BatchResult
from warehouse.load.staging import (
    LoadInput,
    StagedBatchError,
    batch_prefix,
    check_valid_file,
    core_model,
    now,
)
from warehouse.load.statements import statement
from warehouse.retry import transaction

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import duckdb

    from schemas.records.base import CanonicalRecord
    from schemas.settings import Settings
    from transforms.batch import NormalizedBatch
    from warehouse.load.apply import LakeFiles

RESOLVED_VIEW = "_cb_replay_resolved"
FAILING_VIEW = "_cb_replay_failing"


class ReplayResult(BaseModel):
    """What a replay did."""

    model_config = ConfigDict(frozen=True)

    feed: str
    resource: str
    table: str
    status: Literal["nothing_to_replay", "still_failing", "loaded"]
    replayed: int = 0  # unresolved rows re-normalized
    resolved: int = 0  # rows that now pass: loaded, or duplicates of what the lake holds
    still_failing: int = 0
    reasons_changed: int = 0  # still failing, with other reasons than before
    load: BatchResult | None = None  # the replay batch, when rows passed
    snapshot_id: int | None = None
    seconds: float = 0.0


SEQ = "_seq"


def _as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    column = pl.col(name)
    if dtype == pl.String:
        return column
    if dtype.is_nested():
        # Nested JSON back to its JSON text, vectorized: {"v": X} minus the wrapper.
        wrapped = pl.struct(column.alias("v")).struct.json_encode()
        text = wrapped.str.strip_prefix('{"v":').str.strip_suffix("}")
        return pl.when(column.is_null()).then(None).otherwise(text).alias(name)
    return column.cast(pl.String)


def _source_frame(rows: pl.DataFrame) -> pl.DataFrame:
    """The quarantined rows as the delivery was read: text columns, ``_source``, ``_source_row``.

    ``_source_row`` is the row's position in this replay (unique across the batches
    replayed, in delivery order), mapped back to the original row after normalization.
    Connectors read every field as text; a value that is not (a number from an API) is
    turned back into text, as it would have been read.
    """
    base = rows.select(pl.col("source").alias("_source"), pl.col(SEQ).alias("_source_row"))
    decoded = rows["raw_record"].str.json_decode(infer_schema_length=None)
    if not isinstance(decoded.dtype, pl.Struct) or not decoded.dtype.fields:
        return base
    frame = decoded.struct.unnest()
    frame = frame.select([_as_text(name, dtype) for name, dtype in frame.schema.items()])
    return pl.concat([frame, base], how="horizontal")


def _normalize(
    rows: pl.DataFrame,
    table: str,
    fields: Mapping[str, Sequence[str]],
    *,
    person_key: bytes,
    today: date | None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Run the current normalizer over the rows, one run per delivery date.

    Each row is judged as of its delivery's date (the "today" of plausibility checks),
    as it was the first time, unless ``today`` is given.
    """
    from transforms import normalizer
    from transforms.context import NormalizeContext

    normalize = normalizer(table)
    days = rows.with_columns(
        pl.lit(today).alias("_day") if today else pl.col("delivered_at").dt.date().alias("_day")
    )
    parts: list[NormalizedBatch] = []
    for (day,), group in days.group_by("_day", maintain_order=True):
        ctx = NormalizeContext(fields=fields, today=day, person_key=person_key)
        parts.append(normalize(_source_frame(group).lazy(), ctx))
    collected = [p.collect() for p in parts]
    valid = pl.concat([c[0] for c in collected], how="diagonal_relaxed")
    rejected = pl.concat([c[1] for c in collected], how="diagonal_relaxed")
    duplicates = pl.concat([c[2] for c in collected], how="diagonal_relaxed")
    return valid, rejected, duplicates


def _keys(rows: pl.DataFrame, seqs: pl.Series) -> pl.DataFrame:
    return rows.filter(pl.col(SEQ).is_in(seqs.implode())).select("batch_id", "source_row")


def _replay_id(feed: str, resource: str, resolved: pl.DataFrame) -> str:
    # From the rows it resolves: a crashed replay re-run resolves the same rows under
    # the same id; resolved rows are never replayed again.
    keys = resolved.select(
        pl.concat_str(pl.col("batch_id"), pl.col("source_row").cast(pl.String), separator="\x1f")
        .sort()
        .str.join("\n")
    ).item()
    digest = hashlib.sha256(keys.encode()).hexdigest()[:16]
    return f"{batch_prefix(feed, resource)}replay-{digest}"


def _valid_file(valid: pl.DataFrame, rows: pl.DataFrame, folder: Path) -> Path:
    """The passing rows with their original provenance and receipt time, as Parquet."""
    lookup = rows.select(
        pl.col(SEQ).alias("_source_row"),
        pl.col("source_row").alias("_original_row"),
        pl.col("delivered_at").cast(pl.Datetime("us")).alias(RECEIVED_AT),
    )
    out = (
        valid.with_columns(pl.col("_source_row").cast(pl.Int64))
        .join(lookup, on="_source_row", how="left")
        .with_columns(pl.col("_original_row").alias("_source_row"))
        .drop("_original_row")
    )
    path = folder / "valid.parquet"
    out.write_parquet(path)
    return path


def _unresolved(
    con: duckdb.DuckDBPyConnection, lake: str, feed: str, resource: str, batch_id: str | None
) -> pl.DataFrame:
    params = {
        "feed": feed,
        "resource": resource,
        "batch_prefix": batch_prefix(feed, resource),
        "batch_id": batch_id,
    }
    rows = con.execute(statement("quarantine", "unresolved", lake), params).pl()
    return rows.with_row_index(SEQ).with_columns(pl.col(SEQ).cast(pl.Int64))


def _with_view(
    con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame, sql: str, params: dict[str, Any]
) -> int:
    con.register(name, frame)
    try:
        rows = con.execute(sql, params).fetchall()
    finally:
        con.unregister(name)
    return int(rows[0][0]) if rows else 0


def _replay_attempt(
    con: duckdb.DuckDBPyConnection,
    lake: str,
    model: type[CanonicalRecord],
    *,
    feed: str,
    resource: str,
    fields: Mapping[str, Sequence[str]],
    person_key: bytes,
    today: date | None,
    batch_id: str | None,
    updated_at: str | None,
    started_at: datetime,
    files: LakeFiles,
) -> ReplayResult:
    table = model.__table__
    base = {"feed": feed, "resource": resource, "table": table}
    with (
        placing(files),
        transaction(con),
        tempfile.TemporaryDirectory(prefix="citybrain-replay-") as tmp,
    ):
        rows = _unresolved(con, lake, feed, resource, batch_id)
        if rows.is_empty():
            return ReplayResult(status="nothing_to_replay", **base)
        valid, rejected, duplicates = _normalize(
            rows, table, fields, person_key=person_key, today=today
        )
        resolved = pl.concat(
            [_keys(rows, valid["_source_row"]), _keys(rows, duplicates["_source_row"])]
        )
        failing = rows.join(
            rejected.select(pl.col("_source_row").alias(SEQ), pl.col("reasons").alias("_now")),
            on=SEQ,
        ).select("batch_id", "source_row", pl.col("_now").alias("reasons"))
        load = None
        if not resolved.is_empty():
            replay_id = _replay_id(feed, resource, resolved)
            valid_path = _valid_file(valid, rows, Path(tmp))
            job = LoadInput(
                batch_id=replay_id,
                feed=feed,
                resource=resource,
                model=model,
                source=f"replay of {rows.height:,} quarantined rows of {feed}/{resource}",
                received_at=started_at,
                valid_path=valid_path,
                rows_in=rows.height,
                rows_valid=valid.height,
                rejected_path=None,
                rows_rejected=failing.height,
                superseded_upstream=duplicates.height,
                updated_at=updated_at,
                geometry=check_valid_file(model, valid_path, batch_id=replay_id),
                per_row_received_at=True,
                kind="replay",
            )
            load = apply_batch(
                con,
                lake,
                job,
                files=files,
                started_at=started_at,
                note=f"{resolved.height:,} quarantined rows resolved",
            )
            _with_view(
                con,
                RESOLVED_VIEW,
                resolved,
                statement("quarantine", "resolve", lake),
                {"resolved_at": now(), "resolved_batch_id": replay_id},
            )
        else:
            ledger.label_snapshot(
                con, lake, f"replay of {feed}/{resource}: reasons refreshed", {"feed": feed}
            )
        changed = _with_view(
            con, FAILING_VIEW, failing, statement("quarantine", "reasons_update", lake), {}
        )
    wrote = load is not None or changed > 0
    snapshot = ledger.last_snapshot(con, lake) if wrote else None
    if load is not None:
        load = load.model_copy(update={"snapshot_id": snapshot})
    return ReplayResult(
        status="loaded" if load is not None else "still_failing",
        replayed=rows.height,
        resolved=resolved.height,
        still_failing=failing.height,
        reasons_changed=changed,
        load=load,
        snapshot_id=snapshot,
        **base,
    )


def replay(
    settings: Settings,
    feed: str,
    table: str,
    fields: Mapping[str, Sequence[str]],
    *,
    resource: str,
    person_key: bytes = b"",
    today: date | None = None,
    batch_id: str | None = None,
    updated_at: str | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> ReplayResult:
    """Re-normalize a resource's unresolved quarantined rows with the current code; load those
    that pass and mark them resolved, in one transaction.

    Args:
        settings: where the lake is.
        feed, table, fields: the feed, its resource's core table and field mapping
            (``FEEDS[feed]`` resource's ``table`` and ``fields``).
        resource: the resource's name: the quarantined rows of that resource are replayed.
        person_key: HMAC key for ``person_key`` (population), from configuration.
        today: judge every row as of this date; by default each row is judged as of its
            delivery's date, as it was the first time.
        batch_id: replay only the rows of this original batch.
        updated_at: the canonical column that orders versions (the resource's
            ``updated_at``); None: each row's delivery receipt time orders them.
        con: an attached connection to use.

    Returns:
        Counts of rows replayed, resolved and still failing, and the replay's load. Rows
        that pass are resolved whether they were loaded or turned out to duplicate what
        the lake holds; rows still failing stay unresolved with their reasons refreshed.
    """
    clock = time.perf_counter()
    model = core_model(table)
    if updated_at is not None and updated_at not in model.model_fields:
        msg = f"updated_at {updated_at!r} is not a column of {table}"
        raise StagedBatchError(msg)
    started_at = now()

    def attempt(c: duckdb.DuckDBPyConnection) -> ReplayResult:
        return _replay_attempt(
            c,
            settings.lake_name,
            model,
            feed=feed,
            resource=resource,
            fields=fields,
            person_key=person_key,
            today=today,
            batch_id=batch_id,
            updated_at=updated_at,
            started_at=started_at,
            files=lake_files(settings),
        )

    spatial = any(c.sql_type == "GEOMETRY" for c in table_columns(model))
    what = f"replay quarantine of {feed}/{resource}"
    result = run_load(settings, attempt, what=what, spatial=spatial, con=con)
    return result.model_copy(update={"seconds": round(time.perf_counter() - clock, 3)})
