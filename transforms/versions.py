"""A batch's valid rows as the lake keeps them: its versions.

A version is a valid row with what every core row carries beyond its fields: the record
hash, the time it is ordered by (``_version_at``), the provenance and the SCD2 period of
a new, current version; in the history table's columns and types (:func:`as_versions`).
Nothing in it depends on the lake's contents, so it is computed where the rows are:

- by the normalize step, for a table whose staged files the load can take as they are
  (``citybrain.tasks.stage_delivery``): each part is written once, as a lake data file,
  and the load links it into core and history (:mod:`warehouse.load.apply`);
- by the load itself from plain staged rows otherwise (a replay, a table with geometry,
  addresses placed in the city at load time): :mod:`warehouse.load.versions`.

Either way the same expressions make the same bytes, so a batch's lake rows do not
depend on which step wrote them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import polars as pl
import polars_hash  # noqa: F401  (registers the ``nchash`` namespace on expressions)

from schemas.generate import HISTORY_COLUMNS, polars_schema

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from schemas.records.base import CanonicalRecord

RECEIVED_AT = "_received_at"
"""Optional per-row receipt time in a valid file (a replay mixes several deliveries)."""

#: Key-value metadata of a file of versions the normalize step wrote for the lake: the
#: batch it belongs to and the ``_loaded_at`` in its rows (JSON). The load links such
#: files as they are (:func:`warehouse.load.versions.stage_versions`).
VERSIONS_METADATA = "citybrain.versions"

# Versions files become lake data files. LZ4 (LZ4_RAW, which DuckDB reads) against
# DuckLake's default snappy, 1M population versions: the same 205 MB, writing 1.54
# CPU-s instead of 1.65 and reading every column in DuckDB 0.41 instead of 0.58.
# Uncompressed would write in 1.10 CPU-s but take 307 MB; zstd level 1, 122 MB in 1.76.
# 5M versions (2026-11, one process each, noisy): LZ4 1035 MB in 7.7-9.5 CPU-s,
# uncompressed 1534 MB in 5.0-6.6, snappy 1020 MB in 7.3-8.1. Written by the normalize
# step (2026-11-23, 1M population versions, median of 3): uncompressed 0.54 CPU-s for
# 307 MB, LZ4 1.03 for 207, snappy 1.10 for 204, zstd 1.71 for 124. LZ4 stays: a lake
# half again as large costs more than the 0.5 CPU-s per million rows.
LAKE_COMPRESSION = "lz4"

# List items are escaped so that a list's text says where each item ends: every \x1f
# inside an item is followed by "=", so ITEM_END and NULL inside a value read as neither.
ITEM_END = "\x1f,"
NULL = "\x1f!"
_ESCAPED = "\x1f="


def value_text(column: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A value as text: temporals and decimals as their integer, lists item by item.

    Dates, times and decimals are the integer Arrow stores (days or time units since the
    epoch, the unscaled decimal): an integer's digits leave Polars nothing to spell
    differently in another version, and printing them costs a third of formatting a date
    and a timestamp.

    >>> from datetime import date
    >>> frame = pl.DataFrame({"d": [date(1970, 1, 2)], "l": [["a", None, ""]]})
    >>> texts = [value_text(pl.col(name), dtype) for name, dtype in frame.schema.items()]
    >>> frame.select(texts).row(0)
    ('1', 'a\\x1f,\\x1f!\\x1f,\\x1f,')
    """
    if dtype == pl.String:
        return column
    if dtype == pl.Binary:
        return column.bin.encode("hex")
    if isinstance(dtype, pl.List):
        item = value_text(pl.element(), dtype.inner)
        escaped = item.str.replace_all("\x1f", _ESCAPED, literal=True).fill_null(NULL)
        items = pl.concat_str(escaped, pl.lit(ITEM_END))
        return column.list.eval(items).list.join("")
    if dtype.is_temporal() or dtype.is_decimal():
        return column.to_physical().cast(pl.String)
    return column.cast(pl.String)


def field_bytes(column: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """What a field's hash reads: a string's UTF-8, WKB as is, any other value its text."""
    return column if dtype in (pl.String, pl.Binary) else value_text(column, dtype)


def weighted_sum(hashes: list[pl.Expr], dtype: pl.DataType) -> pl.Expr:
    """Sum of hash i times 2i + 1, wrapping around (unsigned ``dtype``); a NULL adds 0.

    >>> frame = pl.DataFrame({"a": [2**64 - 1, None], "b": [1, 1]}).cast(pl.UInt64)
    >>> frame.select(weighted_sum([pl.col("a"), pl.col("b")], pl.UInt64)).to_series().to_list()
    [2, 3]
    """
    weighted = [(h * pl.lit(2 * i + 1, dtype)).fill_null(0) for i, h in enumerate(hashes)]
    return pl.sum_horizontal(weighted)


def record_hash(schema: pl.Schema | dict[str, pl.DataType]) -> pl.Expr:
    """The record's hash (``_record_hash``): 39 decimal digits of a 128-bit sum of its fields.

    Field i (``schema`` order, from 0) is hashed alone, xxh3-128 of its bytes
    (:func:`field_bytes`), times the weight 2i + 1; the sum wraps around at 2**128 and a NULL
    field adds 0. Hashing fields alone needs no escaping and no joined text, which had
    cost three times the hashing: 1M population rows took 0.74 CPU-s hashed as one joined
    text, 0.23 field by field.

    Two records of one schema collide only if the sum of w_i * (h_i - h'_i) over the
    fields where they differ is 0 modulo 2**128. With one field different (an odd weight
    has an inverse modulo 2**128), that needs an xxh3-128 collision of its two values, or
    a value hashing to 0 against a NULL ("" and "NULL" do not); with several, a
    pseudo-random 128-bit number hitting 0. A value
    moving from field i to field j leaves (w_i - w_j) * (h(a) - h(b)): w_i - w_j = 2(i - j)
    is odd times at most 2**6 for 64 fields, so at most 6 of the 128 bits are lost. The
    weights, xxh3 and the wrap-around are fixed, so equal records hash equally in any
    process, on any machine; a Polars upgrade that changed a value's text or its integer
    arithmetic would fail the test that pins one hash.

    >>> frame = pl.DataFrame({"a": ["x", "y", None, "", "NULL"], "b": ["y", "x", "", None, None]})
    >>> hashes = frame.select(record_hash(frame.schema)).to_series()
    >>> hashes.n_unique(), hashes.str.len_chars().unique().to_list()
    (5, [39])
    """
    hashes = [field_bytes(pl.col(name), dtype).nchash.xxh3_128() for name, dtype in schema.items()]
    return weighted_sum(hashes, pl.UInt128).cast(pl.String).str.zfill(39)


@dataclass(frozen=True)
class VersionSource:
    """Where a batch's versions come from: what :func:`as_versions` adds to its rows."""

    model: type[CanonicalRecord]
    feed: str
    batch_id: str
    received_at: datetime  # naive UTC: orders rows without an update time
    loaded_at: datetime  # naive UTC: every version's ``_loaded_at``
    updated_at: str | None = None  # the column that orders a key's versions, if any
    per_row_received_at: bool = False  # the rows carry their own RECEIVED_AT (a replay)
    geometry: Mapping[str, str] = field(default_factory=dict)  # GEOMETRY column -> encoding

    def metadata(self) -> dict[str, str]:
        """The :data:`VERSIONS_METADATA` entry of a file of these versions."""
        stamp = {"batch_id": self.batch_id, "loaded_at": self.loaded_at.isoformat()}
        return {VERSIONS_METADATA: json.dumps(stamp)}


def as_versions(rows: pl.LazyFrame, source: VersionSource) -> pl.LazyFrame:
    """The valid rows as new current versions, in the history table's columns and types.

    ``_version_at`` is the ``updated_at`` column (a DATE becomes midnight), else the
    receipt time: the rows' ``_received_at`` for a replay, else the delivery's. A row
    whose ``updated_at`` is NULL takes the receipt time too.

    >>> from datetime import datetime
    >>> from schemas.records import table
    >>> rows = pl.LazyFrame({"area_code": ["440103"], "name": ["荔湾区"], "level": ["district"],
    ...     "parent_code": ["440100"], "geometry": [b"\\x01"], "_source": ["f.geojson"],
    ...     "_source_row": [1]})
    >>> at = datetime(2026, 11, 1)
    >>> source = VersionSource(table("core.area"), "geospatial", "b1", received_at=at,
    ...     loaded_at=at, geometry={"geometry": "wkb"})
    >>> versions = as_versions(rows, source).collect()
    >>> versions.columns[4:], versions["_version_at"][0] == at
    (['geometry', '_version_at', '_feed', '_batch_id', '_source', '_source_row', '_record_hash', '_loaded_at', '_valid_from', '_valid_to', '_is_current'], True)
    """
    model = source.model
    fields = polars_schema(model)
    lake = polars_schema(model, history=True)
    valid_from, valid_to, current = (c.name for c in HISTORY_COLUMNS)
    received = (
        pl.col(RECEIVED_AT).cast(lake["_version_at"])
        if source.per_row_received_at
        else pl.lit(source.received_at, dtype=lake["_version_at"])
    )
    version = received
    if source.updated_at is not None:
        version = pl.coalesce(pl.col(source.updated_at).cast(lake["_version_at"]), received)
    # GEOMETRY stays as the staged file holds it (WKB or GeoJSON): the INSERT that writes
    # such tables converts it (DuckLake takes no geometry from a plain Parquet column).
    types = {name: dtype for name, dtype in lake.items() if name not in source.geometry}
    hashed = {
        name: (pl.Binary if source.geometry.get(name) == "wkb" else pl.String)
        if name in source.geometry
        else dtype
        for name, dtype in fields.items()
    }
    return (
        rows.select(
            *[pl.col(name) for name in fields],
            version.alias("_version_at"),
            pl.lit(source.feed).alias("_feed"),
            pl.lit(source.batch_id).alias("_batch_id"),
            pl.col("_source"),
            pl.col("_source_row"),
            record_hash(hashed).alias("_record_hash"),
            pl.lit(source.loaded_at).alias("_loaded_at"),
        )
        .with_columns(
            pl.col("_version_at").alias(valid_from),
            pl.lit(None).alias(valid_to),
            pl.lit(True).alias(current),
        )
        .cast(types)  # type: ignore[arg-type]
    )


def stamp_of(path: Path) -> tuple[str, datetime] | None:
    """The batch id and ``_loaded_at`` a file of versions says it holds; None for any
    other Parquet file (plain staged rows, a replay's, a hand-made one)."""
    found = pl.read_parquet_metadata(path).get(VERSIONS_METADATA)
    if found is None:
        return None
    stamp = json.loads(found)
    return stamp["batch_id"], datetime.fromisoformat(stamp["loaded_at"])
