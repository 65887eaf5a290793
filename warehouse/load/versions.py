"""The batch's new versions, in Parquet files as the lake stores them.

Everything a core row carries beyond its fields is known before the load looks at the
lake: the record hash, the version time, the provenance (:mod:`transforms.versions`).
Where the table takes them, the normalize step has written its valid rows so already,
stamped with their batch, and the load takes those files as they are
(:func:`stage_versions`). Otherwise (a replay, a table with geometry, addresses placed at
load time, files from elsewhere) the load computes them in one Polars pass over the staged
valid rows and writes one file (:func:`write_versions`). Either way the plan joins only
keys, hashes and version times against the lake (:mod:`warehouse.load.plan`), and the
versions reach both core and history as those files, registered twice with
``ducklake_add_data_files`` (core ignores the period columns) instead of being read and
encoded again by two ``INSERT`` statements (:mod:`warehouse.load.apply`).

Measured on the 1M-resident population export, 2 cores: the plan with a DuckDB ``md5``
record hash and the two ``INSERT`` statements took 5.5 s; this pass, the plan and the two
registrations about 2 s; linking the normalize step's files, 0.3 s (5M: 0.7 s, where the
pass took 4.3).
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

from schemas.errors import CitybrainError
from schemas.generate import polars_schema
from transforms.staged import SUPERSEDED, UNIQUE_KEY_METADATA, VALID_PARTS, scan_valid
from transforms.uncached import UncachedFile
from transforms.versions import (
    LAKE_COMPRESSION,
    VersionSource,
    as_versions,
    field_bytes,
    stamp_of,
    weighted_sum,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from concurrent.futures import Future
    from datetime import datetime
    from pathlib import Path

    from warehouse.load.staging import LoadInput


@dataclass(frozen=True)
class Versions:
    """The batch's versions in lake data files, and what writing them found.

    Either the one file of the load's own pass (:func:`write_versions`), or the parts the
    normalize step wrote as versions (:func:`stage_versions`): those may hold rows that
    lost to a newer version of their key in a later part, listed in ``left_out``.
    """

    files: tuple[Path, ...]
    rows: int  # versions in the files, left-out rows not counted: one per business key
    superseded: int  # valid rows set aside for a newer row of their key in this batch
    loaded_at: datetime  # the files' ``_loaded_at``, in every row
    left_out: Path | None = None  # a Parquet file of the ``_source_row`` of rows no version
    from_stage: bool = False  # written by the normalize step (linked only while newest)

    def scan(self) -> pl.LazyFrame:
        """The versions, left-out rows left out."""
        rows = pl.scan_parquet(list(self.files))
        if self.left_out is None:
            return rows
        return rows.join(pl.scan_parquet(self.left_out), on="_source_row", how="anti")


def stage_versions(job: LoadInput) -> Versions | None:
    """The batch's versions as the normalize step wrote them, or None if it did not.

    That is: every valid file is stamped with this batch's id
    (:data:`transforms.versions.VERSIONS_METADATA`) and holds one row per business key,
    and the rows come from one delivery (a replay's never are stamped). A folder's
    ``superseded.parquet`` lists the rows of its parts that are no versions.
    """
    path = job.valid_path
    files = sorted(path.glob(VALID_PARTS)) if path.is_dir() else [path]
    if job.per_row_received_at or not files:
        return None
    stamps = {stamp_of(f) for f in files}
    if len(stamps) != 1 or (stamp := stamps.pop()) is None or stamp[0] != job.batch_id:
        return None
    if not _unique_keys_marked(path, list(job.model.__business_key__)):
        return None
    left_out = path / SUPERSEDED if path.is_dir() else None
    return Versions(
        files=tuple(files),
        rows=job.rows_valid,
        superseded=0,
        loaded_at=stamp[1],
        left_out=left_out if left_out is not None and left_out.exists() else None,
        from_stage=True,
    )


def version_source(job: LoadInput, *, loaded_at: datetime) -> VersionSource:
    """What the versions of a staged batch carry beyond its rows' fields."""
    return VersionSource(
        model=job.model,
        feed=job.feed,
        batch_id=job.batch_id,
        received_at=job.received_at,
        loaded_at=loaded_at,
        updated_at=job.updated_at,
        per_row_received_at=job.per_row_received_at,
        geometry=job.geometry,
    )


def version_frame(job: LoadInput, *, loaded_at: datetime) -> pl.LazyFrame:
    """The staged valid rows as new current versions (:func:`transforms.versions.as_versions`)."""
    return as_versions(scan_valid(job.valid_path), version_source(job, loaded_at=loaded_at))


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
    key = weighted_sum(
        [field_bytes(pl.col(k), fields[k]).nchash.xxh3_64() for k in keys], pl.UInt64
    )
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
            frame.sink_parquet(file, compression=LAKE_COMPRESSION)
        except pl.exceptions.PolarsError as exc:
            if stop.is_set():
                raise VersionsStopped(str(exc)) from exc
            raise
    rows = pl.scan_parquet(path).select(pl.len()).collect().item()  # the footer's count
    return Versions(files=(path,), rows=rows, superseded=job.rows_valid - rows, loaded_at=loaded_at)


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


def written_subset(versions: Versions, keys: pl.DataFrame) -> Path:
    """The versions of ``keys`` only, written to a new file beside the versions' first.

    A new name for each attempt of a retried transaction: a file once linked into the
    lake is never written again in place.
    """
    path = versions.files[0].with_name(f"written-{uuid.uuid4().hex[:12]}.parquet")
    subset = versions.scan().join(keys.lazy(), on=keys.columns, how="semi")
    with UncachedFile(path) as file:
        subset.sink_parquet(file, compression=LAKE_COMPRESSION)
    return path
