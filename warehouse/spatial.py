"""Address points placed in the city's polygons: grid, street and district by containment.

The geospatial transform converts every address to WGS-84 but cannot tell which grid holds
it, fills ``street_code``/``region_code`` only from 所属区划代码, and only rejects points
outside China's rectangle (``transforms/geospatial.py``). The polygons are in the lake
(``core.area``, loaded by the same feed's ``boundaries`` resource first), so this step runs
between normalize and load, on the staged batch:

- ``grid_code`` is always the grid containing the point (null in no grid);
- ``street_code`` (9 digits) and ``region_code`` (6 digits) are filled where null, from
  the containing street and district; where delivered and different from the containing
  area, the delivered value stays and the row gets warning ``street_code.mismatch_point``;
- a point in no district is moved to the rejected rows with ``lonlat.out_of_city``.

The join is DuckDB spatial's ``SPATIAL_JOIN`` on ``ST_Intersects`` (an R-tree built per
query), ``warehouse/sql/spatial/containing_areas.sql``: a boundary point counts as inside
and a point on a shared boundary goes to the smaller code. With no polygons in the lake
yet the batch is left as it is (a warning is logged): rejecting every address because the
boundaries have not arrived would quarantine a whole delivery for nothing.

Rejected rows need a ``raw_record`` and the valid file keeps none: it is rebuilt as JSON
of text values, like ``transforms.batch.begin`` writes it. Given the resource's ``fields``
(canonical column → source names, ``ResourceSpec.fields``) it uses the first source name
of each field with the value as delivered (``source_lon``/``source_lat``, not the WGS-84
point), so ``citybrain quarantine replay`` re-normalizes it like the original row;
without them it is keyed by canonical column names.

Re-running on the same files is harmless: rows already moved are no longer valid, filled
codes equal the containing ones, warnings are not repeated, and counts are read from the
files written. The rejected file is replaced before the valid one, so a crash between the
two renames leaves a moved row in both (never in neither); the rerun then skips rows whose
``_source``/``_source_row`` are already rejected.
"""

from __future__ import annotations

import logging
import os
import uuid
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import sqlglot

from schemas.generate import DIALECT
from transforms.staged import scan_valid
from warehouse.lake import attach
from warehouse.load.statements import requalify

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import duckdb

    from schemas.settings import Settings
    from transforms.staged import StagedBatch

log = logging.getLogger(__name__)

TABLE = "core.address_point"
OUT_OF_CITY = "lonlat.out_of_city"
MISMATCH = "street_code.mismatch_point"
POINTS = "_cb_spatial_points"
"""Name the points are registered under for ``containing_areas.sql``."""

_RID = "_cb_rid"
_FOUND = {"district_code": "_cb_district", "street_code": "_cb_street", "grid_code": "_cb_grid"}
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


# --- SQL ------------------------------------------------------------------------------------


@cache
def spatial_sql(name: str, lake: str) -> str:
    """DuckDB text of ``warehouse/sql/spatial/<name>.sql`` for the lake attached as ``lake``.

    >>> "city.core.area" in spatial_sql("area_levels", "city")
    True
    """
    path = resources.files("warehouse.sql").joinpath("spatial", f"{name}.sql")
    parsed = sqlglot.parse_one(path.read_text(encoding="utf-8"), read=DIALECT)
    return requalify(parsed, lake).sql(dialect=DIALECT, comments=False)


def area_levels(settings: Settings, con: duckdb.DuckDBPyConnection | None = None) -> dict[str, int]:
    """Polygons per level in ``core.area``: ``{"districts": n, "streets": n, "grids": n}``."""
    own = con is None
    con = con or attach(settings, read_only=True, spatial=True)
    try:
        cursor = con.execute(spatial_sql("area_levels", settings.lake_name))
        names = [d[0] for d in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))
    finally:
        if own:
            con.close()


def containing_areas(
    settings: Settings, points: pl.DataFrame, con: duckdb.DuckDBPyConnection
) -> pl.DataFrame:
    """``_rid, district_code, street_code, grid_code`` of the points (``_rid, lon, lat``)
    that lie in at least one polygon; ``con`` is attached with spatial loaded."""
    con.register(POINTS, points)
    try:
        return con.execute(spatial_sql("containing_areas", settings.lake_name)).pl()
    finally:
        con.unregister(POINTS)


# --- frames ---------------------------------------------------------------------------------


def _as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    column = pl.col(name)
    if dtype == pl.String:
        return column
    if isinstance(dtype, pl.Datetime):
        return column.dt.strftime(_TIME_FORMAT)
    return column.cast(pl.String)


def raw_record(
    frame: pl.DataFrame,
    columns: Sequence[str],
    fields: Mapping[str, Sequence[str]] | None = None,
) -> pl.Expr:
    """JSON text of the row's values as text, keyed by source name when ``fields`` says it.

    >>> df = pl.DataFrame({"address_code": ["A1"], "source_lon": [113.26]})
    >>> df.select(raw_record(df, [], {"source_lon": ["经度"]})).item()
    '{"经度":"113.26"}'
    >>> df.select(raw_record(df, ["address_code", "source_lon"])).item()
    '{"address_code":"A1","source_lon":"113.26"}'
    """
    schema = frame.schema
    if fields:
        parts = [
            _as_text(column, schema[column]).alias(names[0])
            for column, names in fields.items()
            if names and column in schema
        ]
    else:
        parts = [_as_text(c, schema[c]).alias(c) for c in columns if c in schema]
    return pl.struct(parts).struct.json_encode()


def _differs(delivered: str, found: str) -> pl.Expr:
    return (
        pl.col(delivered).is_not_null()
        & pl.col(found).is_not_null()
        & (pl.col(delivered) != pl.col(found))
    )


def _write_atomically(frame: pl.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        frame.write_parquet(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# --- the step -------------------------------------------------------------------------------


def enrich_addresses(
    settings: Settings,
    staged: StagedBatch,
    *,
    fields: Mapping[str, Sequence[str]] | None = None,
) -> StagedBatch:
    """Place a staged ``core.address_point`` batch in the city's polygons (module doc).

    Rewrites ``staged.valid_path`` and ``staged.rejected_path`` in place (each through a
    temporary file and a rename; a folder of valid parts becomes one file beside it) and
    returns the pointer with the new counts; ``rows_in`` and the duplicates are untouched.
    Batches of other tables, and any batch while ``core.area`` holds no polygons, are
    returned unchanged.

    Args:
        settings: where the lake is (attached read-only, with spatial).
        staged: the normalized batch.
        fields: the resource's canonical column → source names, to write the raw records
            of rows rejected here as the source would have (optional).
    """
    if staged.table != TABLE:
        return staged
    from schemas.generate import polars_schema
    from schemas.records import table as model_of

    columns = list(polars_schema(model_of(TABLE)).names())
    valid = scan_valid(staged.valid_path).collect()
    con = attach(settings, read_only=True, spatial=True)
    try:
        levels = area_levels(settings, con)
        if not any(levels.values()):
            log.warning(
                "batch %s: core.area holds no polygons yet (load the boundaries first); "
                "addresses left without grid and unchecked against the city",
                staged.batch_id,
            )
            return staged
        if levels["districts"] == 0:
            log.warning(
                "batch %s: core.area has no district polygons; no point is rejected as "
                "outside the city",
                staged.batch_id,
            )
        valid = valid.with_row_index(_RID)
        points = valid.select(pl.col(_RID).alias("_rid"), "lon", "lat")
        found = containing_areas(settings, points, con)
    finally:
        con.close()

    found = found.rename(_FOUND).with_columns(pl.col("_rid").cast(pl.UInt32).alias(_RID))
    joined = valid.join(found.drop("_rid"), on=_RID, how="left")
    mismatch = _differs("street_code", _FOUND["street_code"]) | _differs(
        "region_code", _FOUND["district_code"]
    )
    has_warning = pl.col("_warnings").list.contains(pl.lit(MISMATCH))
    joined = joined.with_columns(
        pl.col(_FOUND["grid_code"]).alias("grid_code"),
        pl.coalesce("street_code", _FOUND["street_code"]).alias("street_code"),
        pl.coalesce("region_code", _FOUND["district_code"]).alias("region_code"),
        pl.when(mismatch & ~has_warning)
        .then(pl.col("_warnings").list.concat(pl.lit([MISMATCH], dtype=pl.List(pl.String))))
        .otherwise(pl.col("_warnings"))
        .alias("_warnings"),
    )
    outside = pl.col(_FOUND["district_code"]).is_null() & pl.lit(levels["districts"] > 0)
    moved = joined.filter(outside)
    kept = joined.filter(~outside).select(valid.columns).drop(_RID)

    rejected = pl.read_parquet(staged.rejected_path)
    if moved.height:
        extra = moved.select(
            pl.col("_source"),
            pl.col("_source_row").cast(pl.Int64),
            raw_record(moved, columns, fields).alias("raw_record"),
            pl.lit([OUT_OF_CITY], dtype=pl.List(pl.String)).alias("reasons"),
        )
        # A rerun after a crash between the two renames: those rows are there already.
        extra = extra.join(
            rejected.select("_source", pl.col("_source_row").cast(pl.Int64)),
            on=["_source", "_source_row"],
            how="anti",
        )
        rejected = pl.concat(
            [rejected, extra.select([pl.col(c).cast(t) for c, t in rejected.schema.items()])]
        )
        _write_atomically(rejected, staged.rejected_path)
    # A folder of parts becomes one file beside it (the folder goes with the staged batch).
    valid_path = Path(staged.valid_path)
    if valid_path.is_dir():
        valid_path = valid_path.with_suffix(".parquet")
    _write_atomically(kept, valid_path)
    if moved.height:
        log.info(
            "batch %s: %d point(s) outside every district moved to rejected (%s)",
            staged.batch_id,
            moved.height,
            OUT_OF_CITY,
        )
    return staged.model_copy(
        update={
            "valid_path": valid_path,
            "rows_valid": kept.height,
            "rows_rejected": rejected.height,
        }
    )
