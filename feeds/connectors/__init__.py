"""Connectors: pull a feed's deliveries into the raw zone, and read them back as text.

- :func:`pull` — feed + resource + source (folder, file or URL) -> ``RawDelivery`` list.
- :func:`read_delivery` — ``RawDelivery`` -> LazyFrame of String columns + provenance.
- :func:`read_in_chunks` — the same rows a chunk at a time, each read once (large CSVs).

See ``README.md`` beside this file for the rules the connectors keep.
"""

from __future__ import annotations

from feeds.connectors.pull import pull
from feeds.connectors.read import read_delivery, read_in_chunks

__all__ = ["pull", "read_delivery", "read_in_chunks"]
