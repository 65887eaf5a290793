"""What a load reports: typed results small enough for XCom (DESIGN.md decision 8)."""

from __future__ import annotations

from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

from schemas.errors import LakeError, TerminalError


class ReconciliationError(LakeError, TerminalError):
    """The batch's counts do not add up: a loader bug. Nothing was committed."""


class DuplicateBreakdown(BaseModel):
    """Why rows counted as duplicates were not loaded."""

    model_config = ConfigDict(frozen=True)

    superseded_in_delivery: int = 0  # a newer row of the same key came in the same delivery
    identical: int = 0  # the lake already holds exactly this record
    older_than_lake: int = 0  # the lake holds a newer version of the key

    @property
    def total(self) -> int:
        return self.superseded_in_delivery + self.identical + self.older_than_lake

    def describe(self) -> str:
        """Plain words for the ledger's message.

        >>> DuplicateBreakdown(identical=3, older_than_lake=1).describe()
        '3 identical to the lake, 1 older than the lake'
        """
        parts = [
            (self.superseded_in_delivery, "superseded in the delivery"),
            (self.identical, "identical to the lake"),
            (self.older_than_lake, "older than the lake"),
        ]
        return ", ".join(f"{n:,} {what}" for n, what in parts if n) or "none"


class BatchResult(BaseModel):
    """What a load (or a quarantine replay) did."""

    model_config = ConfigDict(frozen=True)

    batch_id: str
    feed: str
    table: str
    status: Literal["loaded", "skipped_duplicate"]
    rows_in: int
    rows_loaded: int  # inserted + updated
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_quarantined: int
    rows_duplicate: int
    # None when the batch was skipped: the ledger keeps the totals, not the breakdown.
    duplicates: DuplicateBreakdown | None = None
    snapshot_id: int | None = None  # the snapshot this load committed; None when skipped
    watermark_moved: bool = False
    seconds: float = 0.0

    def reconciles(self) -> bool:
        """rows_in = rows_loaded + rows_quarantined + rows_duplicate (lake.md)."""
        return self.rows_in == self.rows_loaded + self.rows_quarantined + self.rows_duplicate


class BatchRef(NamedTuple):
    """Enough of a batch to record its failure when no StagedBatch exists yet."""

    batch_id: str
    feed: str
    source: str
    rows_in: int | None = None
