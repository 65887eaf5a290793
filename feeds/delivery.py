"""What a pull hands on: a delivery kept in the raw zone exactly as received.

A ``RawDelivery`` is a pointer (paths, hash, counts), small enough for XCom
(DESIGN.md decision 8). ``read_delivery`` turns it into a LazyFrame of strings with the
department's own field names plus ``_source`` and ``_source_row``, ready for transforms.

It is also the raw zone's record of the delivery (``delivery.json``), so it describes only
what was received, never the lake's state: the pull task adds whether the batch is loaded
already on the copy it hands on (``citybrain.tasks.PulledDelivery``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict


class RawDelivery(BaseModel):
    """One delivery in the raw zone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    feed: str  # FeedSpec.name
    resource: str  # ResourceSpec.name
    sha256: str  # of the bytes as received (for an API pull: of its pages, in order)
    source: str  # file path or URL it came from
    raw_paths: tuple[Path, ...]  # the stored bytes: one file, or one file per API page
    format: Literal["csv", "xlsx", "geojson", "json_pages"]
    encoding: str | None = None  # as detected, for text files
    received_at: datetime
    rows_hint: int | None = None  # records counted while storing, when known cheaply
    cursor_max: str | None = None  # largest cursor value seen (the next watermark)
    # A UTF-8 copy of a text file sent in another encoding (raw_paths keep the bytes as
    # received); readers use it so nothing downstream decodes GBK (DESIGN.md trap).
    text_path: Path | None = None
    lines: int | None = None  # physical lines of a text file as received
    # What a person should know about this delivery: encoding fallbacks, a title row
    # skipped, why the record count differs from the line count, ignored cursor values.
    notes: tuple[str, ...] = ()

    @property
    def batch_id(self) -> str:
        """Derived from the feed and the content: the same delivery twice is the same batch."""
        return f"{self.feed}-{self.resource}-{self.sha256[:16]}"
