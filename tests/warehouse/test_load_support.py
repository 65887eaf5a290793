"""Builders shared by the load and quarantine tests (no tests here).

Staged batches are written directly with Polars, in the shape the transforms write them
(``transforms/batch.py``, ``citybrain/tasks.py``), so the loader is tested on its own.
Other test modules load this file by path (see ``support()`` in them).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from schemas.generate import polars_schema, table_columns
from schemas.records import table as model_of
from transforms.staged import StagedBatch
from warehouse.frames import read_frame
from warehouse.lake import attach

if TYPE_CHECKING:
    from pathlib import Path

    import duckdb

    from schemas.settings import Settings

FEED, RESOURCE = "population", "persons"
RECEIVED = datetime(2026, 1, 2, 8, 0, tzinfo=UTC)
UPDATED = datetime(2026, 1, 1, 9, 30)

# Columns that hold the wall-clock time of a load: everything else must be identical
# between a crashed-and-rerun lake and an uninterrupted one.
CLOCK_COLUMNS = {
    "_loaded_at",
    "quarantined_at",
    "resolved_at",
    "started_at",
    "finished_at",
    "updated_at",
}
STATE_TABLES = {
    "core.person": ["id_number"],
    "core.person_history": ["id_number", "_valid_from", "_batch_id"],
    "meta.quarantine": ["batch_id", "source_row"],
    "meta.batches": ["batch_id", "status"],
    "meta.watermarks": ["feed", "batch_id"],
}


def batch_id(tag: str, feed: str = FEED, resource: str = RESOURCE) -> str:
    """A batch id shaped like RawDelivery.batch_id."""
    return f"{feed}-{resource}-{tag}"


def persons(
    keys: range | list[int],
    *,
    name: str | pl.Expr = "张三",
    updated: datetime | None = UPDATED,
    phone: str | None = None,
) -> pl.DataFrame:
    """Valid core.person rows for integer keys (vectorized: fine for 200k rows)."""
    schema = polars_schema(model_of("core.person"))
    key = pl.Series("k", list(keys), dtype=pl.Int64)
    frame = pl.DataFrame(key).select(
        pl.col("k").cast(pl.String).str.zfill(18).alias("id_number"),
        pl.concat_str(pl.lit("pk"), pl.col("k")).alias("person_key"),
        (name if isinstance(name, pl.Expr) else pl.lit(name)).alias("name"),
        pl.lit("1").alias("sex_code"),
        pl.lit(date(1990, 1, 1)).alias("birth_date"),
        pl.lit("01").alias("ethnicity_code"),
        pl.lit("110105").alias("hukou_region_code"),
        pl.lit(None).alias("hukou_address"),
        pl.lit("110105").alias("residence_region_code"),
        pl.lit(None).alias("residence_street_code"),
        pl.lit("北京市朝阳区").alias("residence_address"),
        pl.lit("registered").alias("population_type"),
        pl.lit(phone).alias("phone"),
        (pl.col("k") % 97 == 0).alias("is_deceased"),
        pl.lit(updated).alias("source_updated_at"),
    )
    return frame.select([pl.col(c).cast(t) for c, t in schema.items()])


def rejected(rows: list[tuple[int, dict[str, Any], list[str]]]) -> pl.DataFrame:
    """Rejected rows: (source row, raw record, reasons)."""
    return pl.DataFrame(
        {
            "_source": ["gaj_rk_full_20260102.csv"] * len(rows),
            "_source_row": [r for r, _, _ in rows],
            "raw_record": [json.dumps(raw, ensure_ascii=False) for _, raw, _ in rows],
            "reasons": [reasons for _, _, reasons in rows],
        },
        schema={
            "_source": pl.String,
            "_source_row": pl.Int64,
            "raw_record": pl.String,
            "reasons": pl.List(pl.String),
        },
    )


def duplicates(source_rows: list[int]) -> pl.DataFrame:
    """Rows the normalizer set aside as superseded inside the delivery."""
    return pl.DataFrame(
        {
            "_source": ["gaj_rk_full_20260102.csv"] * len(source_rows),
            "_source_row": source_rows,
            "raw_record": ['{"GMSFHM": "dup"}'] * len(source_rows),
            "reason": ["superseded_in_delivery"] * len(source_rows),
        },
        schema={
            "_source": pl.String,
            "_source_row": pl.Int64,
            "raw_record": pl.String,
            "reason": pl.String,
        },
    )


def stage(
    folder: Path,
    tag: str,
    valid: pl.DataFrame,
    *,
    rejected_rows: pl.DataFrame | None = None,
    duplicate_rows: pl.DataFrame | None = None,
    table: str = "core.person",
    feed: str = FEED,
    resource: str = RESOURCE,
    updated_at: str | None = "source_updated_at",
    received_at: datetime = RECEIVED,
    cursor_field: str | None = "GXSJ",
    cursor_max: str | None = None,
    first_row: int = 1,
) -> StagedBatch:
    """Write a staged batch's three Parquet files and return its pointer."""
    target = folder / tag
    target.mkdir(parents=True, exist_ok=True)
    if "_source" not in valid.columns:
        valid = valid.with_columns(
            pl.lit("gaj_rk_full_20260102.csv").alias("_source"),
            pl.int_range(first_row, first_row + valid.height, dtype=pl.Int64).alias("_source_row"),
            pl.lit([], dtype=pl.List(pl.String)).alias("_warnings"),
        )
    rejected_rows = rejected([]) if rejected_rows is None else rejected_rows
    duplicate_rows = duplicates([]) if duplicate_rows is None else duplicate_rows
    paths = {}
    for name, frame in (
        ("valid", valid),
        ("rejected", rejected_rows),
        ("duplicates", duplicate_rows),
    ):
        paths[name] = target / f"{name}.parquet"
        frame.write_parquet(paths[name])
    return StagedBatch(
        batch_id=batch_id(tag, feed, resource),
        feed=feed,
        resource=resource,
        table=table,
        source=f"/raw/{feed}/{resource}/{tag}/delivery",
        delivery_sha256=tag.ljust(64, "0"),
        received_at=received_at,
        valid_path=paths["valid"],
        rejected_path=paths["rejected"],
        duplicates_path=paths["duplicates"],
        rows_in=valid.height + rejected_rows.height + duplicate_rows.height,
        rows_valid=valid.height,
        rows_rejected=rejected_rows.height,
        rows_duplicate=duplicate_rows.height,
        updated_at=updated_at,
        cursor_field=cursor_field if cursor_max else None,
        cursor_max=cursor_max,
    )


def read(
    settings: Settings, name: str, con: duckdb.DuckDBPyConnection | None = None
) -> pl.DataFrame:
    """A lake table as a frame sorted by its key (GEOMETRY as WKB), history included."""
    history = name.endswith("_history")
    model = model_of(name.removesuffix("_history"))
    spatial = any(c.sql_type == "GEOMETRY" for c in table_columns(model))
    own = con is None
    # Attaching costs ~0.5 s, the spatial extension ~0.6 s more: only when needed.
    con = con or attach(settings, read_only=True, spatial=spatial)
    try:
        frame = read_frame(con, model, catalog=settings.lake_name, history=history)
    finally:
        if own:
            con.close()
    order = list(model.__business_key__) + (["_valid_from"] if history else [])
    return frame.sort(order)


def lake_state(settings: Settings) -> dict[str, pl.DataFrame]:
    """Core, history, quarantine, batches and watermarks without their clock columns,
    in a stable order: two lakes that loaded the same batches compare equal."""
    state = {}
    con = attach(settings, read_only=True)
    try:
        for name, order in STATE_TABLES.items():
            frame = read(settings, name, con)
            state[name] = frame.drop([c for c in frame.columns if c in CLOCK_COLUMNS]).sort(order)
    finally:
        con.close()
    return state


def snapshot_count(settings: Settings) -> int:
    con = attach(settings, read_only=True)
    try:
        return con.execute("SELECT count(*) FROM lake.snapshots()").fetchone()[0]
    finally:
        con.close()


# --- a population delivery through the real normalizer (for quarantine and replay) --------


def citizen_id(body17: str) -> str:
    """A checksum-valid citizen ID from its first 17 digits."""
    from schemas.codes import citizen_id_check_digit

    return body17 + citizen_id_check_digit(body17)


def population_row(id_number: str, **fields: str | None) -> dict[str, str | None]:
    """One row as the 公安 bureau delivers it (department field names, all text)."""
    row: dict[str, str | None] = {
        "GMSFHM": id_number,
        "XM": "张三",
        "XBDM": "1",
        "CSRQ": f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}",
        "MZDM": "01",
        "HJDZ_XZQHDM": "110105",
        "RKLX": "1",
        "SWBS": "0",
        "GXSJ": "2026-01-01 09:30:00",
    }
    row.update(fields)
    return row


def normalize_and_load(
    settings: Settings,
    folder: Path,
    tag: str,
    rows: list[dict[str, str | None]],
    fields: dict[str, tuple[str, ...]],
    *,
    today: date = date(2026, 1, 2),
    person_key: bytes = b"test-person-key",
):  # -> BatchResult
    """Normalize a population delivery with ``fields`` and load it, as the pipeline does."""
    from transforms import normalizer
    from transforms.context import NormalizeContext
    from warehouse.load import load_batch

    frame = pl.DataFrame(rows, schema={k: pl.String for k in rows[0]}).with_columns(
        pl.lit(f"/raw/population/persons/{tag}/gaj_rk_full.csv").alias("_source"),
        pl.int_range(1, len(rows) + 1, dtype=pl.Int64).alias("_source_row"),
    )
    ctx = NormalizeContext(fields=fields, today=today, person_key=person_key)
    valid, bad, dups = normalizer("core.person")(frame.lazy(), ctx).collect()
    staged = stage(folder, tag, valid, rejected_rows=bad, duplicate_rows=dups)
    return load_batch(settings, staged)
