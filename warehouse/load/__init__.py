"""Load staged batches into the lake: core, SCD2 history, quarantine, ledger, watermarks.

The flow, one module each: :mod:`~warehouse.load.staging` checks the staged files against
the standard and their pointer; :mod:`~warehouse.load.plan` classifies every valid row
against the lake; :mod:`~warehouse.load.apply` merges the new versions into core and
history; :mod:`~warehouse.load.ledger` writes quarantine, batches, watermarks and
deliveries; :mod:`~warehouse.load.batch` runs them in one transaction, with retries.
:mod:`~warehouse.load.result` holds what they report; :mod:`~warehouse.load.replay`
loads quarantined rows again after a fix (``citybrain quarantine replay``).
"""

from __future__ import annotations

from warehouse.load.batch import load_batch, skipped_result
from warehouse.load.ledger import (
    batch_rows,
    loaded_row,
    read_watermark,
    record_failure,
    register_delivery,
)
from warehouse.load.plan import Action
from warehouse.load.result import BatchRef, BatchResult, DuplicateBreakdown, ReconciliationError
from warehouse.load.staging import StagedBatchError

__all__ = [
    "Action",
    "BatchRef",
    "BatchResult",
    "DuplicateBreakdown",
    "ReconciliationError",
    "StagedBatchError",
    "batch_rows",
    "load_batch",
    "loaded_row",
    "read_watermark",
    "record_failure",
    "register_delivery",
    "skipped_result",
]
