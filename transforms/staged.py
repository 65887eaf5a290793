"""A normalized batch on disk, between normalize and load (DESIGN.md data flow).

The normalize task writes the three outcomes of :class:`transforms.batch.NormalizedBatch`
as Parquet and hands this pointer on (XCom carries pointers and counts, never frames);
the load task reads it and commits it to the lake in one transaction.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict


class StagedBatch(BaseModel):
    """Pointer to a normalized batch: where its parts are, and how many rows each has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_id: str  # from the feed and the delivery's content (RawDelivery.batch_id)
    feed: str
    resource: str
    table: str  # qualified lake table, e.g. core.person
    source: str  # file, folder or URL of the delivery
    delivery_sha256: str
    received_at: datetime
    valid_path: Path  # canonical columns + _source, _source_row, _warnings
    rejected_path: Path  # _source, _source_row, raw_record, reasons
    duplicates_path: Path  # _source, _source_row, raw_record, reason
    rows_in: int
    rows_valid: int
    rows_rejected: int
    rows_duplicate: int
    # canonical column that orders versions of a key; None: received_at orders them
    updated_at: str | None = None
    cursor_field: str | None = None
    cursor_max: str | None = None  # the next watermark, committed with the batch

    def reconciles(self) -> bool:
        """Every input row ended exactly once (DESIGN.md decision 5)."""
        return self.rows_in == self.rows_valid + self.rows_rejected + self.rows_duplicate
