"""The batch's new versions, computed in Polars and written as the lake stores them.

Everything a core row carries beyond its fields is known before the load looks at the
lake: the record hash, the version time, the provenance. So the loader computes them here,
in one Polars pass over the staged valid file, and writes one Parquet file with the
history table's columns (:func:`write_versions`): core's, then the SCD2 period of a new,
current version. The plan then joins only keys, hashes and version times against the lake
(:mod:`warehouse.load.plan`), and the versions written reach both core and history as that
one file, registered twice with ``ducklake_add_data_files`` (core ignores the period
columns) instead of being read and encoded again by two ``INSERT`` statements
(:mod:`warehouse.load.apply`).

Measured on the 1M-resident population export, 2 cores: the plan with a DuckDB ``md5``
record hash and the two ``INSERT`` statements took 5.5 s; this pass, the plan and the two
registrations about 2 s.
"""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl
import polars_hash  # noqa: F401  (registers the ``nchash`` namespace on expressions)

from schemas.errors import CitybrainError
from schemas.generate import HISTORY_COLUMNS, polars_schema
from transforms.staged import UNIQUE_KEY_METADATA, VALID_PARTS, scan_valid
from transforms.uncached import UncachedFile
from warehouse.load.staging import RECEIVED_AT

if TYPE_CHECKING:
    from collections.abc import Iterator
    from concurrent.futures import Future
    from datetime import datetime
    from pathlib import Path

    from warehouse.load.staging import LoadInput

# The versions file becomes a lake data file. LZ4 (LZ4_RAW, which DuckDB reads) against
# DuckLake's default snappy, 1M population versions: the same 205 MB, writing 1.54
# CPU-s instead of 1.65 and reading every column in DuckDB 0.41 instead of 0.58.
# Uncompressed would write in 1.10 CPU-s but take 307 MB; zstd level 1, 122 MB in 1.76.
# 5M versions (2026-11, one process each, noisy): LZ4 1035 MB in 7.7-9.5 CPU-s,
# uncompressed 1534 MB in 5.0-6.6, snappy 1020 MB in 7.3-8.1.
COMPRESSION = "lz4"

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


def _bytes(column: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """What a field's hash reads: a string's UTF-8, WKB as is, any other value its text."""
    return column if dtype in (pl.String, pl.Binary) else value_text(column, dtype)


def _weighted_sum(hashes: list[pl.Expr], dtype: pl.DataType) -> pl.Expr:
    """Sum of hash i times 2i + 1, wrapping around (unsigned ``dtype``); a NULL adds 0.

    >>> frame = pl.DataFrame({"a": [2**64 - 1, None], "b": [1, 1]}).cast(pl.UInt64)
    >>> frame.select(_weighted_sum([pl.col("a"), pl.col("b")], pl.UInt64)).to_series().to_list()
    [2, 3]
    """
    weighted = [(h * pl.lit(2 * i + 1, dtype)).fill_null(0) for i, h in enumerate(hashes)]
    return pl.sum_horizontal(weighted)


def record_hash(schema: pl.Schema | dict[str, pl.DataType]) -> pl.Expr:
    """The record's hash (``_record_hash``): 39 decimal digits of a 128-bit sum of its fields.

    Field i (``schema`` order, from 0) is hashed alone, xxh3-128 of its bytes
    (:func:`_bytes`), times the weight 2i + 1; the sum wraps around at 2**128 and a NULL
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
    hashes = [_bytes(pl.col(name), dtype).nchash.xxh3_128() for name, dtype in schema.items()]
    return _weighted_sum(hashes, pl.UInt128).cast(pl.String).str.zfill(39)


@dataclass(frozen=True)
class Versions:
    """The written versions file and what the pass found."""

    path: Path
    rows: int  # versions in the file: one per business key
    superseded: int  # valid rows set aside for a newer row of their key in this batch
    loaded_at: datetime  # the file's ``_loaded_at``: the load's time in every table it writes


def version_frame(job: LoadInput, *, loaded_at: datetime) -> pl.LazyFrame:
    """The valid rows as new current versions, in the history table's columns and types.

    ``_version_at`` is the ``updated_at`` column (a DATE becomes midnight), else the
    receipt time: the file's ``_received_at`` for a replay, else the delivery's. A row
    whose ``updated_at`` is NULL takes the receipt time too.
    """
    model = job.model
    fields = polars_schema(model)
    lake = polars_schema(model, history=True)
    valid_from, valid_to, current = (c.name for c in HISTORY_COLUMNS)
    source = scan_valid(job.valid_path)
    received = (
        pl.col(RECEIVED_AT).cast(lake["_version_at"])
        if job.per_row_received_at
        else pl.lit(job.received_at, dtype=lake["_version_at"])
    )
    version = received
    if job.updated_at is not None:
        version = pl.coalesce(pl.col(job.updated_at).cast(lake["_version_at"]), received)
    # GEOMETRY stays as the staged file holds it (WKB or GeoJSON): the INSERT that writes
    # such tables converts it (DuckLake takes no geometry from a plain Parquet column).
    types = {name: dtype for name, dtype in lake.items() if name not in job.geometry}
    hashed = {
        name: (pl.Binary if job.geometry.get(name) == "wkb" else pl.String)
        if name in job.geometry
        else dtype
        for name, dtype in fields.items()
    }
    return (
        source.select(
            *[pl.col(name) for name in fields],
            version.alias("_version_at"),
            pl.lit(job.feed).alias("_feed"),
            pl.lit(job.batch_id).alias("_batch_id"),
            pl.col("_source"),
            pl.col("_source_row"),
            record_hash(hashed).alias("_record_hash"),
            pl.lit(loaded_at).alias("_loaded_at"),
        )
        .with_columns(
            pl.col("_version_at").alias(valid_from),
            pl.lit(None).alias(valid_to),
            pl.lit(True).alias(current),
        )
        .cast(types)  # type: ignore[arg-type]
    )


def newest_per_key(frame: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
    """One row per business key: the newest version, on a tie the later source row.

    >>> rows = pl.LazyFrame({"k": [1, 1, 2], "_version_at": [2, 3, 1], "_source_row": [0, 1, 2]})
    >>> newest_per_key(rows, ["k"]).collect()["_source_row"].to_list()
    [1, 2]
    """
    order = frame.sort(
        ["_version_at", "_source_row"], descending=True, nulls_last=True, maintain_order=True
    )
    return order.unique(subset=keys, keep="first", maintain_order=True).sort("_source_row")


class VersionsStopped(CitybrainError):
    """The versions were no longer wanted (the batch had loaded already, or the load failed)."""


class _StoppableFile(UncachedFile):
    """A file whose next write fails once ``stop`` is set: how a Polars sink ends midway.

    Polars stops a sink at the first failed write (``InProcessQuery.cancel`` lets a sink
    run to its end). Going through Python costs one call per written block, about a
    thousand for 200 MB: 1.78 CPU-s against 1.76 for the path (1M versions, median of 5).
    The file goes past the page cache (:class:`~transforms.uncached.UncachedFile`): the
    lake reads it later, from the disk.
    """

    def __init__(self, path: Path, stop: threading.Event) -> None:
        super().__init__(path)
        self._stop = stop

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        if self._stop.is_set():
            msg = f"the versions file {self.name} is no longer wanted"
            raise VersionsStopped(msg)
        return super().write(data)


def _unique_keys_marked(valid: Path, keys: list[str]) -> bool:
    """Whether every staged file at ``valid`` says it holds one row per ``keys``, as the
    stage writes them (:data:`transforms.staged.UNIQUE_KEY_METADATA`). A file from
    elsewhere (a replay's, a hand-made one) says nothing, and its keys are counted."""
    files = sorted(valid.glob(VALID_PARTS)) if valid.is_dir() else [valid]
    wanted = json.dumps(keys)
    return bool(files) and all(
        pl.read_parquet_metadata(f).get(UNIQUE_KEY_METADATA) == wanted for f in files
    )


def write_versions(
    job: LoadInput, path: Path, *, loaded_at: datetime, stop: threading.Event | None = None
) -> Versions:
    """Write the batch's versions, one per business key, to ``path`` (Parquet).

    The transform already keeps one row per key; a staged file with repeated keys (a
    replay, another producer) still gives the lake one version per key. Setting ``stop``
    (from another thread) ends the writing early with :class:`VersionsStopped`.
    """
    if stop is None:
        stop = threading.Event()
    keys = list(job.model.__business_key__)
    fields = polars_schema(job.model)
    # Checked on the keys alone first: the sort that ranks versions costs a full pass. On
    # a 64-bit hash of the key, which counts in less than half the time strings do:
    # distinct hashes mean distinct keys, and a collision only takes the sort, always right.
    key = _weighted_sum([_bytes(pl.col(k), fields[k]).nchash.xxh3_64() for k in keys], pl.UInt64)
    repeated = (
        not _unique_keys_marked(job.valid_path, keys)
        and scan_valid(job.valid_path).select(key.n_unique() != pl.len()).collect().item()
    )
    frame = version_frame(job, loaded_at=loaded_at)
    if repeated:
        frame = newest_per_key(frame, keys)
    if stop.is_set():
        msg = f"the versions of batch {job.batch_id} are no longer wanted"
        raise VersionsStopped(msg)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _StoppableFile(path, stop) as file:
        try:
            frame.sink_parquet(file, compression=COMPRESSION)
        except pl.exceptions.PolarsError as exc:
            if stop.is_set():
                raise VersionsStopped(str(exc)) from exc
            raise
    rows = pl.scan_parquet(path).select(pl.len()).collect().item()  # the footer's count
    return Versions(path=path, rows=rows, superseded=job.rows_valid - rows, loaded_at=loaded_at)


@contextmanager
def versions_ahead(job: LoadInput, *, loaded_at: datetime) -> Iterator[Future[Versions]]:
    """Write the batch's versions in a thread of their own; the file is gone after the block.

    The versions depend on the staged file and ``loaded_at`` only, never on the lake, so
    they are written while the caller attaches the lake and reads its ledger (Polars and
    DuckDB both release the GIL in their native work), and one file serves every attempt
    of a retried transaction: each attempt plans it against its own snapshot and links
    it into the lake anew.

    Leaving the block stops the writing if it is still going (a batch that had loaded
    already, a failed attach) and waits for the thread, so that the scratch folder is
    removed once nothing writes into it. The folder lies beside the staged file: the same
    file system as the lake's data path in the usual layout, so placing a versions file
    is a hard link, not a copy.
    """
    scratch = job.valid_path.parent / f".load-{uuid.uuid4().hex[:12]}"
    stop = threading.Event()
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="citybrain-versions") as pool:
            try:
                yield pool.submit(
                    write_versions,
                    job,
                    scratch / "versions.parquet",
                    loaded_at=loaded_at,
                    stop=stop,
                )
            finally:
                stop.set()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def written_subset(versions: Path, keys: pl.DataFrame) -> Path:
    """The versions of ``keys`` only, written to a new file beside ``versions``.

    A new name for each attempt of a retried transaction: a file once linked into the
    lake is never written again in place.
    """
    path = versions.with_name(f"written-{uuid.uuid4().hex[:12]}.parquet")
    subset = pl.scan_parquet(versions).join(keys.lazy(), on=keys.columns, how="semi")
    with UncachedFile(path) as file:
        subset.sink_parquet(file, compression=COMPRESSION)
    return path
