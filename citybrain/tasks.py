"""The pipeline's task functions: pull, normalize (stage), load.

The Airflow DAGs and ``citybrain ingest`` call exactly these, so a run outside Airflow
takes the same code path. Each returns pointers and counts (JSON-able), never frames
(DESIGN.md decision 8). Heavy modules are imported inside the functions.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from feeds.delivery import RawDelivery
from feeds.spec import FEEDS, ResourceSpec, feed
from schemas.settings import Settings, get_settings
from transforms.staged import StagedBatch

if TYPE_CHECKING:
    pass

# One slot: one lake writer at a time (DESIGN.md decision 6). The demo creates it.
LAKE_WRITER_POOL = "lake_writer"


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
    """
    import duckdb

    from feeds.connectors import pull
    from warehouse.lake import attach, lake_exists
    from warehouse.load import read_watermark, register_delivery

    settings = settings or get_settings()
    # One attach serves every watermark read and registration: attaching (extensions,
    # catalog) costs more than all of them together.
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
                out.append(delivery.model_dump(mode="json"))
    finally:
        if lake is not None:
            lake.close()
    return out


def stage_delivery(
    delivery: dict[str, Any] | RawDelivery, *, settings: Settings | None = None
) -> dict[str, Any]:
    """Normalize one delivery and write its valid, rejected and duplicate rows as Parquet."""
    from citybrain.keys import person_key
    from feeds.connectors import read_delivery
    from transforms import normalizer
    from transforms.context import NormalizeContext
    from warehouse.directory import authority_directory

    settings = settings or get_settings()
    raw = delivery if isinstance(delivery, RawDelivery) else RawDelivery.model_validate(delivery)
    res = _resource(raw.feed, raw.resource)
    ctx = NormalizeContext(
        fields=res.fields,
        today=raw.received_at.date(),
        person_key=person_key(settings),
        authority_codes=authority_directory(settings) if raw.feed == "credit" else {},
    )
    batch = normalizer(res.table)(read_delivery(raw), ctx)
    written = batch.write(staged_dir(settings) / raw.batch_id, rows_hint=raw.rows_hint)
    rows_valid, rows_rejected, rows_duplicate = written.rows
    staged = StagedBatch(
        batch_id=raw.batch_id,
        feed=raw.feed,
        resource=raw.resource,
        table=res.table,
        source=raw.source,
        delivery_sha256=raw.sha256,
        received_at=raw.received_at,
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


def staged_dir(settings: Settings) -> Path:
    return settings.home / "staged"


def load_staged(
    staged: dict[str, Any] | StagedBatch, *, settings: Settings | None = None
) -> dict[str, Any]:
    """Commit a staged batch to the lake in one transaction; return its counts."""
    from warehouse.load import load_batch
    from warehouse.spatial import enrich_addresses

    settings = settings or get_settings()
    batch = staged if isinstance(staged, StagedBatch) else StagedBatch.model_validate(staged)
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


def ingest(
    feed_name: str,
    source: str | None = None,
    *,
    since: str | None = None,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """Pull, normalize and load every delivery of a feed: the DAG's work, without Airflow."""
    settings = settings or get_settings()
    deliveries = pull_feed(feed_name, source, since=since, settings=settings)
    staged = [stage_delivery(d, settings=settings) for d in deliveries]
    return load_all(staged, settings=settings)


def load_all(
    staged: list[dict[str, Any]], *, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """Load staged batches one after the other, oldest delivery first.

    Order matters for history only (newest-update-wins protects current rows either way):
    loading in receipt order keeps each key's SCD2 versions in the order they happened.
    """
    batches = [s if isinstance(s, StagedBatch) else StagedBatch.model_validate(s) for s in staged]
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
