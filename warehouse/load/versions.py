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

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl
import polars_hash  # noqa: F401  (registers the ``nchash`` namespace on expressions)

from schemas.generate import HISTORY_COLUMNS, polars_schema
from transforms.staged import scan_valid
from warehouse.load.staging import RECEIVED_AT

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from warehouse.load.staging import LoadInput

# A field's text never contains SEPARATOR or NULL: every \x1f inside a value is followed
# by "=", so moving a separator between two fields, or a value spelling NULL, cannot make
# two different records serialize alike.
SEPARATOR = "\x1f:"
ITEM_SEPARATOR = "\x1f,"
NULL = "\x1f!"
_ESCAPED = "\x1f="


def _text(column: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """One value as unambiguous text: strings escaped, WKB as hex, lists joined, the rest cast."""
    if dtype == pl.String:
        return column.str.replace_all("\x1f", _ESCAPED, literal=True)
    if dtype == pl.Binary:
        return column.bin.encode("hex")
    if isinstance(dtype, pl.List):
        item = _text(pl.element(), dtype.inner).fill_null(NULL)
        return column.list.eval(item).list.join(ITEM_SEPARATOR)
    return column.cast(pl.String)


def record_hash(schema: pl.Schema | dict[str, pl.DataType]) -> pl.Expr:
    """xxh3-128 of the fields' text in ``schema`` order: 39 decimal digits (``_record_hash``).

    xxh3 is a fixed algorithm, so equal records hash equally in any process on any
    machine. Polars spelling a type differently after an upgrade would show as one update
    per key on the next delivery: the test that pins a known hash catches that first.

    >>> frame = pl.DataFrame({"a": ["x\\x1f:y", "x", None, ""], "b": ["z", "y\\x1f:z", "", None]})
    >>> hashes = frame.select(record_hash(frame.schema)).to_series()
    >>> hashes.n_unique(), hashes.str.len_chars().unique().to_list()
    (4, [39])
    """
    texts = [_text(pl.col(name), dtype).fill_null(NULL) for name, dtype in schema.items()]
    return pl.concat_str(texts, separator=SEPARATOR).nchash.xxh3_128().cast(pl.String).str.zfill(39)


@dataclass(frozen=True)
class Versions:
    """The written versions file and what the pass found."""

    path: Path
    rows: int  # versions in the file: one per business key
    superseded: int  # valid rows set aside for a newer row of their key in this batch


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


def write_versions(job: LoadInput, path: Path, *, loaded_at: datetime) -> Versions:
    """Write the batch's versions, one per business key, to ``path`` (Parquet).

    The transform already keeps one row per key; a staged file with repeated keys (a
    replay, another producer) still gives the lake one version per key.
    """
    keys = list(job.model.__business_key__)
    # Checked on the keys alone first: the sort that ranks versions costs a full pass.
    distinct = pl.struct(keys).n_unique() if len(keys) > 1 else pl.col(keys[0]).n_unique()
    repeated = scan_valid(job.valid_path).select(distinct != pl.len()).collect().item()
    frame = version_frame(job, loaded_at=loaded_at)
    if repeated:
        frame = newest_per_key(frame, keys)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.sink_parquet(path, compression="snappy")
    rows = pl.scan_parquet(path).select(pl.len()).collect().item()
    return Versions(path=path, rows=rows, superseded=job.rows_valid - rows)


def written_subset(versions: Path, keys: pl.DataFrame, path: Path) -> Path:
    """The versions of ``keys`` only, written to ``path``."""
    pl.scan_parquet(versions).join(keys.lazy(), on=keys.columns, how="semi").sink_parquet(
        path, compression="snappy"
    )
    return path
