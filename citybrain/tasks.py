"""The pipeline's task functions: pull, normalize (stage), load.

The Airflow DAGs and ``citybrain ingest`` call exactly these, so a run outside Airflow
takes the same code path. Each returns pointers and counts (JSON-able), never frames
(DESIGN.md decision 8). Heavy modules are imported inside the functions.

What travels between them: the pull hands on :class:`PulledDelivery` (the raw zone's
delivery, plus whether the lake's ledger had loaded its batch already); the stage hands
on a :class:`~transforms.staged.StagedBatch` (normalized rows on disk) or, for a batch
loaded already, a :class:`SkippedBatch` (nothing read, nothing written); the load turns
either into a :class:`~warehouse.load.BatchResult`.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from feeds.delivery import RawDelivery
from feeds.spec import FEEDS, ResourceSpec, feed
from schemas.settings import Settings, get_settings
from transforms.staged import StagedBatch

if TYPE_CHECKING:
    from transforms.versions import VersionSource

logger = logging.getLogger(__name__)

# One slot: one lake writer at a time (DESIGN.md decision 6). The demo creates it.
LAKE_WRITER_POOL = "lake_writer"

SKIPPED_DUPLICATE = "skipped_duplicate"
"""The status of a batch the lake had loaded already (``BatchResult.status`` too)."""


class LoadedBefore(BaseModel):
    """The ledger's ``loaded`` row of a batch (``meta.batches``), as the pull read it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rows_in: int
    rows_loaded: int
    rows_quarantined: int
    rows_duplicate: int
    finished_at: datetime | None = None  # when it loaded (UTC, as the ledger keeps it)


class PulledDelivery(RawDelivery):
    """What the pull hands on (XCom): a delivery of the raw zone, and what the lake knew of it.

    ``loaded`` is lake state, so only the pull sets it, on the copy it hands on; the raw
    zone's ``delivery.json`` stays a plain :class:`RawDelivery`. None: not loaded when
    the pull looked (or an XCom value from before this field), so the stage normalizes.
    """

    loaded: LoadedBefore | None = None


class SkippedBatch(BaseModel):
    """What the stage hands on for a batch the lake had loaded already: nothing was staged.

    The delivery was neither read nor normalized, so there are no files and no staged
    counts; the rows are the ledger's, as a load that skips reports them. The load turns
    it into ``BatchResult(status="skipped_duplicate")`` without opening the lake.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Tells it apart from a StagedBatch in XCom, where both are plain dicts.
    status: Literal["skipped_duplicate"] = SKIPPED_DUPLICATE
    batch_id: str
    feed: str
    resource: str
    table: str
    source: str
    delivery_sha256: str
    received_at: datetime
    loaded: LoadedBefore  # the ledger's counts, as the pull read them

    def reconciles(self) -> bool:
        """The ledger's counts add up (DESIGN.md decision 5)."""
        rows = self.loaded
        return rows.rows_in == rows.rows_loaded + rows.rows_quarantined + rows.rows_duplicate


def as_staged(value: dict[str, Any] | StagedBatch | SkippedBatch) -> StagedBatch | SkippedBatch:
    """A stage's output (an XCom dict, or the model itself) as its model.

    >>> as_staged({"status": "skipped_duplicate", "batch_id": "credit-penalties-0a1b",
    ...     "feed": "credit", "resource": "penalties", "table": "core.credit_penalty",
    ...     "source": "/drop/x.csv", "delivery_sha256": "0a1b", "received_at": "2026-01-02T08:00:00Z",
    ...     "loaded": {"rows_in": 3, "rows_loaded": 2, "rows_quarantined": 1, "rows_duplicate": 0}}).reconciles()
    True
    """
    if isinstance(value, StagedBatch | SkippedBatch):
        return value
    if value.get("status") == SKIPPED_DUPLICATE:
        return SkippedBatch.model_validate(value)
    return StagedBatch.model_validate(value)


def asset_uri(feed_name: str) -> str:
    """URI of the Asset a feed's DAG updates (the marts DAG is scheduled on these)."""
    return f"citybrain://lake/feeds/{feed_name}"


def _resource(feed_name: str, resource: str) -> ResourceSpec:
    spec = feed(feed_name)
    for res in spec.resources:
        if res.name == resource:
            return res
    msg = f"feed {feed_name} has no resource {resource!r}"
    raise KeyError(msg)


def pull_feed(
    feed_name: str,
    source: str | None = None,
    *,
    since: str | None = None,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """Pull every resource of a feed into the raw zone; return the deliveries as dicts.

    Without ``since``, each resource continues from its watermark in ``meta.watermarks``.
    Each delivery is a :class:`PulledDelivery`: a file still in the drop folder comes
    back as stored the first time, and when the ledger shows its batch loaded the pull
    says so, and the stage passes it through without reading it.
    """
    import duckdb

    from feeds.connectors import pull
    from warehouse.lake import attach, lake_exists
    from warehouse.load import batch_rows, loaded_row, read_watermark, register_delivery

    settings = settings or get_settings()
    # One attach serves every watermark read, registration and ledger look-up: attaching
    # (extensions, catalog) costs more than all of them together.
    lake: duckdb.DuckDBPyConnection | None = None

    def lake_con() -> duckdb.DuckDBPyConnection:
        nonlocal lake
        if lake is None:
            lake = attach(settings)
        return lake

    out: list[dict[str, Any]] = []
    try:
        for res in feed(feed_name).resources:
            if since is not None:
                start = since
            elif lake_exists(settings) is False:
                start = None  # no lake yet, so nothing loaded
            else:
                start = read_watermark(settings, feed_name, res.name, con=lake_con())
            for delivery in pull(feed_name, res.name, source, since=start, settings=settings):
                # Raw first (DESIGN.md decision 3): on record before anything parses it.
                register_delivery(
                    settings,
                    sha256=delivery.sha256,
                    feed=delivery.feed,
                    resource=delivery.resource,
                    source=delivery.source,
                    raw_path=delivery.raw_paths[0].parent,
                    size_bytes=sum(p.stat().st_size for p in delivery.raw_paths),
                    received_at=delivery.received_at,
                    con=lake_con(),
                )
                rows = batch_rows(lake_con(), settings.lake_name, delivery.batch_id)
                done = loaded_row(rows)
                loaded = (
                    None
                    if done is None
                    else LoadedBefore.model_validate(done, from_attributes=True)
                )
                pulled = PulledDelivery(**dict(delivery), loaded=loaded)
                out.append(pulled.model_dump(mode="json"))
    finally:
        if lake is not None:
            lake.close()
    return out


def _pulled(delivery: dict[str, Any] | RawDelivery) -> PulledDelivery:
    if isinstance(delivery, PulledDelivery):
        return delivery
    if isinstance(delivery, RawDelivery):
        return PulledDelivery(**dict(delivery))
    return PulledDelivery.model_validate(delivery)


def _batch_of(raw: RawDelivery, res: ResourceSpec) -> dict[str, Any]:
    """What a staged or skipped batch says of the delivery it comes from."""
    return {
        "batch_id": raw.batch_id,
        "feed": raw.feed,
        "resource": raw.resource,
        "table": res.table,
        "source": raw.source,
        "delivery_sha256": raw.sha256,
        "received_at": raw.received_at,
    }


def stage_delivery(
    delivery: dict[str, Any] | RawDelivery,
    *,
    settings: Settings | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Normalize one delivery and write its valid, rejected and duplicate rows as Parquet.

    ``on_rows(done)`` follows a large delivery's chunks: its rows written so far (the pull
    counted them all in ``rows_hint``). Each chunk is logged too, against that count, so
    that an Airflow task's log shows how far a long normalize has come.

    A delivery the pull found loaded already (``PulledDelivery.loaded``) is passed
    through untouched as a :class:`SkippedBatch`: normalizing it again (3 s per million
    rows) would only be thrown away by the load. Trusting the pull is safe because
    nothing un-loads a batch (the ledger has no such transition); a batch the pull saw
    not loaded is normalized, and the load checks again in its transaction.
    """
    settings = settings or get_settings()
    raw = _pulled(delivery)
    res = _resource(raw.feed, raw.resource)
    if raw.loaded is not None:
        logger.info(
            "batch %s from %s is in the lake already (loaded %s): not normalized again",
            raw.batch_id,
            raw.source,
            raw.loaded.finished_at,
        )
        return SkippedBatch(**_batch_of(raw, res), loaded=raw.loaded).model_dump(mode="json")

    from citybrain.keys import person_key
    from feeds.connectors import read_delivery, read_in_chunks
    from transforms import normalizer
    from transforms.context import NormalizeContext
    from warehouse.directory import authority_directory

    ctx = NormalizeContext(
        fields=res.fields,
        today=raw.received_at.date(),
        person_key=person_key(settings),
        authority_codes=authority_directory(settings) if raw.feed == "credit" else {},
    )
    batch = normalizer(res.table)(read_delivery(raw), ctx)

    def chunk_done(done: int) -> None:
        expected = f" of {raw.rows_hint:,}" if raw.rows_hint else ""
        logger.info("batch %s: %s%s rows normalized", raw.batch_id, f"{done:,}", expected)
        if on_rows is not None:
            on_rows(done)

    written = batch.write(
        staged_dir(settings) / raw.batch_id,
        rows_hint=raw.rows_hint,
        on_rows=chunk_done,
        for_lake=_lake_versions(raw, res),
        chunks=read_in_chunks(raw),
    )
    rows_valid, rows_rejected, rows_duplicate = written.rows
    staged = StagedBatch(
        **_batch_of(raw, res),
        valid_path=written.valid_path,
        rejected_path=written.rejected_path,
        duplicates_path=written.duplicates_path,
        rows_in=rows_valid + rows_rejected + rows_duplicate,
        rows_valid=rows_valid,
        rows_rejected=rows_rejected,
        rows_duplicate=rows_duplicate,
        updated_at=res.updated_at,
        cursor_field=res.cursor_field,
        cursor_max=raw.cursor_max,
    )
    return staged.model_dump(mode="json")


def _lake_versions(raw: RawDelivery, res: ResourceSpec) -> VersionSource | None:
    """How to write the delivery's valid rows as the lake's versions, if its table takes
    them so (:func:`warehouse.load.apply.takes_stage_versions`): the load then links the
    files instead of writing every row again (the 5M-resident population: the load 4.3 s
    to 0.7 s, the stage 2-3 s longer; stage and load 0.89-0.95x the time).

    Their ``_loaded_at`` is this moment: the batch's rows are written for the lake now,
    and the load keeps it only while it is newer than every ``_loaded_at`` in the table.
    """
    from schemas.records import table as model_of
    from transforms.versions import VersionSource
    from warehouse.load.apply import takes_stage_versions
    from warehouse.load.staging import now, utc_naive

    model = model_of(res.table)
    if not takes_stage_versions(model):
        return None
    return VersionSource(
        model=model,
        feed=raw.feed,
        batch_id=raw.batch_id,
        received_at=utc_naive(raw.received_at),
        loaded_at=now(),
        updated_at=res.updated_at,
    )


def staged_dir(settings: Settings) -> Path:
    return settings.home / "staged"


def load_staged(
    staged: dict[str, Any] | StagedBatch | SkippedBatch, *, settings: Settings | None = None
) -> dict[str, Any]:
    """Commit a staged batch to the lake in one transaction; return its counts.

    A :class:`SkippedBatch` reports what ``load_batch`` reports for a batch loaded
    already (status ``skipped_duplicate``, the ledger's counts, no snapshot), without
    opening the lake.
    """
    from warehouse.load import load_batch, skipped_result
    from warehouse.spatial import enrich_addresses

    settings = settings or get_settings()
    batch = as_staged(staged)
    if isinstance(batch, SkippedBatch):
        result = skipped_result(batch.batch_id, batch.feed, batch.table, batch.loaded)
        return result.model_dump(mode="json")
    # Addresses are placed in the city's areas at load time: the boundaries they need are
    # loaded just before them (load_all orders a feed's resources).
    batch = enrich_addresses(settings, batch, fields=_resource(batch.feed, batch.resource).fields)
    result = load_batch(settings, batch)
    # Once in the lake the staged files are spent (the raw zone keeps the delivery, the
    # quarantine its rejected rows); left alone they would pile up, a full export a day.
    # A failed load keeps them for its retry.
    folder = Path(batch.valid_path).parent
    if folder.parent == staged_dir(settings):
        shutil.rmtree(folder, ignore_errors=True)
    return result.model_dump(mode="json")


#: ``progress(step, done, total)`` of :func:`ingest`: ``total`` None while it is unknown.
IngestProgress = Callable[[str, int, int | None], None]


def _silent(step: str, done: int, total: int | None) -> None:
    """The progress of a run nobody watches."""


def ingest(
    feed_name: str,
    source: str | None = None,
    *,
    since: str | None = None,
    settings: Settings | None = None,
    progress: IngestProgress = _silent,
) -> list[dict[str, Any]]:
    """Pull, normalize and load every delivery of a feed: the DAG's work, without Airflow.

    ``progress`` hears each step begin (``pull``, ``normalize <file>``, ``load``) and,
    while a delivery is normalized, its rows written so far against the rows the pull
    counted.
    """
    settings = settings or get_settings()
    progress(f"pull {feed_name}", 0, None)
    deliveries = pull_feed(feed_name, source, since=since, settings=settings)
    staged = []
    for delivery in deliveries:
        step = f"normalize {Path(str(delivery['source'])).name}"
        total = delivery.get("rows_hint")
        progress(step, 0, total)
        staged.append(
            stage_delivery(
                delivery,
                settings=settings,
                on_rows=lambda done, step=step, total=total: progress(step, done, total),
            )
        )
    progress(f"load {len(staged)} batch(es) into the lake", 0, None)
    return load_all(staged, settings=settings)


def load_all(
    staged: list[dict[str, Any]], *, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """Load staged batches one after the other, oldest delivery first.

    Order matters for history only (newest-update-wins protects current rows either way):
    loading in receipt order keeps each key's SCD2 versions in the order they happened.
    Batches the stage passed through (:class:`SkippedBatch`) report their skip in place.
    """
    batches = [as_staged(s) for s in staged]
    # A feed's resources load in spec order (boundaries before the addresses placed in
    # them), each resource's deliveries in the order they were received.
    order = {
        (spec.name, r.name): i for spec in FEEDS.values() for i, r in enumerate(spec.resources)
    }
    batches.sort(key=lambda b: (order.get((b.feed, b.resource), 0), b.received_at, b.source))
    return [load_staged(b, settings=settings) for b in batches]


def maintain_lake(*, settings: Settings | None = None) -> dict[str, Any]:
    """Compact and expire (the maintenance DAG's one task)."""
    from warehouse.maintenance import maintain

    return maintain(settings or get_settings()).model_dump()
