"""地理空间: boundaries and standard addresses (规划和自然资源局, feeds.md §3) normalized to
``core.area`` and ``core.address_point``.

``BOUNDARY_STEPS`` and ``ADDRESS_STEPS`` are ordered tuples of step builders (context →
``LazyFrame -> LazyFrame``); :func:`normalize_boundaries` and :func:`normalize_addresses`
run them and end in ``split``.

Boundaries (one row per GeoJSON feature, ``geometry`` as GeoJSON text):

- ``level`` is ``district``/``street``/``grid`` (Chinese 区/街道/镇/网格 accepted). The
  code must fit its level: a current GB/T 2260 code for a district, a 9-digit statistical
  code for a street, digits longer than 9 for a grid; a parent code that is not a prefix
  of the code only warns (``parent_code.not_prefix``): grid codes are local conventions.
- ``geometry`` becomes **WKB** (the standard's ``Geometry`` is WKB bytes in frames, and the
  loader's projection applies ``ST_GeomFromWKB``), built vectorized from the decoded
  coordinate lists (numpy over Arrow buffers, one call per batch — no Python per row).
  Polygons stay polygons, multipolygons stay multipolygons; a third (z) coordinate is
  dropped. Checked here: type Polygon/MultiPolygon, well-formed coordinate arrays, every
  ring closed with at least 4 points, every point inside China's rectangle. **Not**
  checked here: self-intersections and ring orientation — the loader should reject
  ``NOT ST_IsValid(geometry)`` as ``geometry.invalid`` (DuckDB spatial does it natively).

Addresses:

- 经度/纬度 parsed as floats, in the declared CRS (``WGS84``, ``CGCS2000``, ``GCJ02``,
  ``BD09``; spellings such as ``gcj-02`` accepted) converted to WGS-84 with the exact
  iterative inverses of :mod:`transforms.coordinates`. The delivered numbers and CRS stay
  in ``source_lon``/``source_lat``/``source_crs``.
- Swapped coordinates (a latitude in 经度 and a longitude in 纬度, as China's ranges tell
  them apart without doubt) are swapped back and the row kept with warning
  ``lonlat.swapped``: the pair is unambiguous, and the point then lands where the
  department meant it (the simulator's ground truth agrees: same canonical point).
- A zero coordinate is rejected (``lonlat.zero``). A point outside China's rectangle
  cannot be in the city: ``lonlat.out_of_city``. Points inside China but outside every
  district can only be told by polygon containment, which the **loader** does (DuckDB
  spatial against ``core.area``): it must reject those with the same ``lonlat.out_of_city``.
- 所属区划代码 (9 or 12 digits) gives ``street_code`` (9) and ``region_code`` (current
  6-digit code, retired ones mapped to successors). When it is empty both stay null, and
  ``grid_code`` is always null here: the loader fills them by polygon containment.
- ``h3_r9``: the H3 cell (resolution 9) of the WGS-84 point, as its 15-hex-digit string,
  via the ``polars-h3`` plugin (native, vectorized).

Reason codes (``<column>.<code>``):

- boundaries: ``area_code.format``/``.unknown``/``.retired``/``.missing`` (districts:
  :data:`schemas.codes.region.REASONS`), ``level.unknown``/``.missing``, ``name.missing``,
  ``parent_code.missing`` (streets and grids), ``geometry.missing``/``.unsupported_type``/
  ``.format``/``.too_few_points``/``.unclosed_ring``/``.out_of_china``.
- addresses: ``address_code.missing``, ``address.missing``, ``source_crs.missing``/
  ``.unknown``, ``lonlat.missing``/``.format``/``.zero``/``.out_of_city``,
  ``street_code.*`` (:data:`schemas.codes.region.REASONS`), ``source_updated_at.*``
  (:data:`schemas.codes.dates.REASONS`).

Warnings: ``lonlat.swapped``, ``parent_code.not_prefix``, ``street_code.development_zone``.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import polars_h3

from schemas.codes.dates import parse_datetime
from schemas.codes.region import check_region_code, check_statistical_code, check_street_code
from schemas.codes.text import collapse_spaces
from schemas.records.geospatial import AddressPoint, Area
from transforms.batch import (
    NormalizedBatch,
    Step,
    begin,  # noqa: F401 (the doctests build their frames with it)
    flag,
    flag_where,
    reason_lists,  # noqa: F401 (the doctests show the reasons with it)
    require,
    warn_where,
)
from transforms.common import StepBuilder, check_column, map_fields, normalize_with
from transforms.context import NormalizeContext
from transforms.coordinates import CRS_NAMES, in_china, to_wgs84

__all__ = [
    "ADDRESS_STEPS",
    "BOUNDARY_STEPS",
    "LEVELS",
    "geojson_to_wkb",
    "normalize_addresses",
    "normalize_boundaries",
]


def _collapse(expr: pl.Expr) -> pl.Expr:
    # Guarded, Polars skips collapse_spaces (its own whitespace scan included) on the
    # chunks where no value has a space at all, most of them.
    return pl.when(expr.str.contains(r"\s")).then(collapse_spaces(expr)).otherwise(expr)


#: Level spellings → canonical level. The bureau writes the English words; Chinese ones
#: are what a hand-made export would say.
LEVELS: dict[str, str] = {
    "district": "district",
    "区": "district",
    "区县": "district",
    "县": "district",
    "street": "street",
    "街道": "street",
    "镇": "street",
    "乡": "street",
    "街镇": "street",
    "grid": "grid",
    "网格": "grid",
}

H3_RESOLUTION = 9


def _code(expr: pl.Expr) -> pl.Expr:
    """A code as compared: cleaned text (map_fields did NFKC), no spaces, upper case."""
    return expr.str.replace_all(r"\s", "").str.to_uppercase()


# --- Boundaries --------------------------------------------------------------------------

_NUM = r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
_POINT = rf"\[{_NUM},{_NUM}(?:,{_NUM})?\]"
_RING = rf"\[{_POINT}(?:,{_POINT})*\]"
_POLYGON = rf"\[{_RING}(?:,{_RING})*\]"
_MULTI = rf"^\[{_POLYGON}(?:,{_POLYGON})*\]$"
# Every geometry is decoded as a multipolygon (a polygon is wrapped in one more list), so
# one dtype holds both and one WKB writer serves both.
_COORDS = pl.List(pl.List(pl.List(pl.List(pl.Float64))))
_GEOMETRY_RULES = {
    "_too_few": "too_few_points",
    "_unclosed": "unclosed_ring",
    "_outside": "out_of_china",
}


def map_boundary_fields(ctx: NormalizeContext) -> Step:
    """GeoJSON properties to canonical columns, cleaned (NFKC, null spellings).

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={"area_code": ["code"]}, today=date(2026, 1, 1))
    >>> map_boundary_fields(ctx)(pl.LazyFrame({"code": [" 440106 "]})).collect()["area_code"].to_list()
    ['440106']
    """
    return map_fields(ctx.fields)


def normalize_level(ctx: NormalizeContext) -> Step:
    """``level`` → ``district``/``street``/``grid``; anything else is ``level.unknown``.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"level": ["District", "街道", "village"]}))
    >>> normalize_level(ctx)(lf).pipe(reason_lists).select("level", "_reasons").collect().rows()
    [('district', []), ('street', []), (None, ['level.unknown'])]
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        raw = pl.col("level")
        mapped = raw.str.to_lowercase().replace_strict(LEVELS, default=None, return_dtype=pl.String)
        frame = flag_where(frame, "level", "unknown", raw.is_not_null() & mapped.is_null())
        return frame.with_columns(mapped.alias("level"))

    return step


def normalize_area_codes(ctx: NormalizeContext) -> Step:
    """The code must fit the level: a current GB/T 2260 code for a district (a retired one
    is ``area_code.retired``: its polygon no longer exists as such), a 9-digit street code,
    a grid code of more than 9 digits. A street or grid needs a parent; a parent that is not
    a prefix of the code warns.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({
    ...     "area_code": ["440106", "440102", "440106001", "44010600100101", "4401060"],
    ...     "level": ["district", "district", "street", "grid", "street"],
    ...     "parent_code": ["440100", None, "440106", "440106999", "440106"]}))
    >>> normalize_area_codes(ctx)(lf).pipe(reason_lists).select("area_code", "_reasons", "_warnings").collect().rows()
    [('440106', [], []), (None, ['area_code.retired'], []), ('440106001', [], []), ('44010600100101', [], ['parent_code.not_prefix']), (None, ['area_code.format'], [])]
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        code, level, parent = _code(pl.col("area_code")), pl.col("level"), pl.col("parent_code")
        district = check_region_code(code)
        street = check_street_code(code)
        grid_ok = code.str.contains(r"^[0-9]{10,}$")
        frame = frame.with_columns(
            code.alias("area_code"),
            _code(parent).alias("parent_code"),
            pl.when(level == "district")
            .then(
                pl.coalesce(
                    district.struct.field("reason"),
                    pl.when(district.struct.field("original").is_not_null()).then(
                        pl.lit("retired")
                    ),
                )
            )
            .when(level == "street")
            .then(street.struct.field("reason"))
            .when(level == "grid")
            .then(pl.when(code.is_not_null() & ~grid_ok).then(pl.lit("format")))
            .alias("_code_reason"),
        )
        frame = flag(frame, "area_code", pl.col("_code_reason"))
        has_parent = level.is_in(["street", "grid"])
        frame = flag_where(frame, "parent_code", "missing", has_parent & parent.is_null())
        # A city's code 440100 prefixes its districts as 4401: trailing 00 pairs are filler.
        prefix = parent.str.replace(r"(?:00)+$", "")
        frame = warn_where(
            frame,
            "parent_code",
            "not_prefix",
            parent.is_not_null()
            & pl.col("area_code").is_not_null()
            & ~pl.col("area_code").str.starts_with(prefix),
        )
        return frame.with_columns(
            pl.when(pl.col("_code_reason").is_null()).then(pl.col("area_code")).alias("area_code")
        ).drop("_code_reason")

    return step


def normalize_geometry(ctx: NormalizeContext) -> Step:
    """GeoJSON Polygon/MultiPolygon text → WKB, after checking its rings.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> square = "[[113.1,23.1],[113.2,23.1],[113.2,23.2],[113.1,23.2],[113.1,23.1]]"
    >>> lf = begin(pl.LazyFrame({"geometry": [
    ...     '{"type":"Polygon","coordinates":[' + square + "]}",
    ...     '{"type":"Polygon","coordinates":[[[113.1,23.1],[113.2,23.1],[113.2,23.2]]]}',
    ...     '{"type":"Point","coordinates":[113.1,23.1]}',
    ...     '{"type":"Polygon","coordinates":[[[113.1,23.1],[113.2,"x"]]]}']}))
    >>> out = normalize_geometry(ctx)(lf).pipe(reason_lists).select("geometry", "_reasons").collect()
    >>> out["_reasons"].to_list()
    [[], ['geometry.too_few_points', 'geometry.unclosed_ring'], ['geometry.unsupported_type'], ['geometry.format']]
    >>> out["geometry"][0].hex()[:18], out["geometry"][1:].to_list()
    ('010300000001000000', [None, None, None])
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        text = pl.col("geometry")
        kind = text.str.json_path_match("$.type")
        coords = text.str.json_path_match("$.coordinates").str.replace_all(r"\s", "")
        wrapped = pl.when(kind == "Polygon").then(pl.format("[{}]", coords)).otherwise(coords)
        frame = frame.with_columns(
            kind.alias("_type"), wrapped.str.contains(_MULTI).alias("_well_formed")
        )
        supported = pl.col("_type").is_in(["Polygon", "MultiPolygon"])
        frame = flag(
            frame,
            "geometry",
            pl.when(text.is_null())
            .then(None)
            .when(~supported.fill_null(False))
            .then(pl.lit("unsupported_type"))
            .when(~pl.col("_well_formed").fill_null(False))
            .then(pl.lit("format")),
        )
        # Decoded only where the text is well formed: json_decode fails the whole batch on
        # one bad value, so the others are nulled before it sees them.
        ok = supported & pl.col("_well_formed")
        frame = frame.with_columns(
            pl.when(ok).then(wrapped).str.json_decode(_COORDS).alias("_coords")
        )
        rings = pl.col("_coords").list.eval(pl.element().explode())
        points = pl.col("_coords").list.eval(pl.element().explode().explode())
        xs = points.list.eval(pl.element().list.get(0))
        ys = points.list.eval(pl.element().list.get(1))
        closed = rings.list.eval(pl.element().list.first() == pl.element().list.last())
        frame = frame.with_columns(
            (rings.list.eval(pl.element().list.len()).list.min().fill_null(0) < 4).alias(
                "_too_few"
            ),
            (~closed.list.all()).alias("_unclosed"),
            (
                ~in_china(xs.list.min(), ys.list.min()) | ~in_china(xs.list.max(), ys.list.max())
            ).alias("_outside"),
        )
        decoded = pl.col("_coords").is_not_null()
        for column, reason in _GEOMETRY_RULES.items():
            frame = flag_where(frame, "geometry", reason, decoded & pl.col(column))
        good = ok & ~pl.col("_too_few") & ~pl.col("_unclosed") & ~pl.col("_outside")
        frame = frame.with_columns(
            geojson_to_wkb(
                pl.when(good).then(pl.col("_coords")), pl.col("_type") == "MultiPolygon"
            ).alias("geometry")
        )
        return frame.drop("_type", "_well_formed", "_coords", "_too_few", "_unclosed", "_outside")

    return step


def geojson_to_wkb(coords: pl.Expr, multi: pl.Expr) -> pl.Expr:
    """WKB (little endian, 2D) of decoded multipolygon coordinates
    (``List(List(List(List(Float64))))``: polygons → rings → points → x, y[, z]).

    Rows with ``multi`` false become a Polygon (their single polygon), the others a
    MultiPolygon; null coordinates give null. Vectorized over the whole batch with numpy on
    the Arrow buffers (the bytes of a float cannot be produced by a Polars expression).

    >>> df = pl.DataFrame({"c": [[[[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [1.0, 2.0]]]]]})
    >>> wkb = df.select(geojson_to_wkb(pl.col("c"), pl.lit(False)).alias("wkb"))["wkb"][0]
    >>> wkb[:9].hex(), len(wkb)
    ('010300000001000000', 77)
    """
    return pl.struct(coords=coords, multi=multi).map_batches(
        _wkb_batch, return_dtype=pl.Binary, is_elementwise=True
    )


def _starts(sizes: np.ndarray) -> np.ndarray:
    """Running totals with a leading 0 (``len(sizes) + 1`` entries): where each item starts
    when items of these sizes are laid end to end, and the end of the last."""
    return np.concatenate(([0], np.cumsum(sizes, dtype=np.int64)))


def _nested_starts(
    parent_start: np.ndarray, header: np.ndarray, counts: np.ndarray, sizes: np.ndarray
) -> np.ndarray:
    """Byte offset of each child, given its parent's offset and header size, the number of
    children per parent and the size of each child."""
    parent = np.repeat(np.arange(len(counts)), counts)
    child = _starts(sizes)
    first = _starts(counts)[:-1]
    return parent_start[parent] + header[parent] + child[:-1] - child[first[parent]]


def _wkb_batch(batch: pl.Series) -> pl.Series:
    import pyarrow as pa
    import pyarrow.compute as pc

    coords = batch.struct.field("coords").rechunk()
    valid = coords.is_not_null().to_numpy()
    multi = batch.struct.field("multi").fill_null(False).to_numpy() & valid
    level = coords.to_arrow()
    if isinstance(level, pa.ChunkedArray):
        level = level.combine_chunks()
    counts = []  # polygons per geometry, rings per polygon, points per ring, values per point
    for _ in range(4):
        counts.append(pc.list_value_length(level).fill_null(0).to_numpy(zero_copy_only=False))
        level = level.flatten()
    n_polys, n_rings, n_points, dims = counts
    values = level.to_numpy(zero_copy_only=False)
    first_value = _starts(dims)[:-1]
    xy = np.column_stack((values[first_value], values[first_value + 1])).astype("<f8")

    def per(counts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        total = _starts(sizes)
        ends = np.cumsum(counts, dtype=np.int64)
        return total[ends] - total[ends - counts]

    ring_size = 4 + 16 * n_points
    poly_size = 9 + per(n_rings, ring_size)
    geom_header = np.where(multi, 9, 0)
    geom_size = np.where(valid, geom_header + per(n_polys, poly_size), 0)
    geom_start = _starts(geom_size)
    poly_start = _nested_starts(geom_start, geom_header, n_polys, poly_size)
    ring_start = _nested_starts(poly_start, np.full(len(n_rings), 9), n_rings, ring_size)
    point_start = _nested_starts(
        ring_start, np.full(len(n_points), 4), n_points, np.full(len(xy), 16)
    )

    buffer = np.zeros(int(geom_start[-1]), dtype=np.uint8)

    def put(at: np.ndarray, data: np.ndarray) -> None:
        if not len(at):
            return
        raw = np.ascontiguousarray(data).view(np.uint8).reshape(len(at), -1)
        buffer[at[:, None] + np.arange(raw.shape[1])] = raw

    def header(at: np.ndarray, kind: int, count: np.ndarray) -> None:
        buffer[at] = 1  # byte order: little endian
        put(at + 1, np.full(len(at), kind, dtype="<u4"))
        put(at + 5, count.astype("<u4"))

    header(geom_start[:-1][multi], 6, n_polys[multi])  # MultiPolygon
    header(poly_start, 3, n_rings)  # Polygon
    put(ring_start, n_points.astype("<u4"))
    put(point_start, xy)
    array = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(),
        len(coords),
        [
            pa.py_buffer(np.packbits(valid, bitorder="little")),
            pa.py_buffer(geom_start),
            pa.py_buffer(buffer),
        ],
    )
    return pl.Series(batch.name, array, dtype=pl.Binary)


def require_boundary_columns(ctx: NormalizeContext) -> Step:
    """Reject features without code, name, level or geometry (``<column>.missing``).

    Runs right after the mapping, on the values as delivered: a value that is present but
    bad is rejected by its own check, and not reported missing as well.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"area_code": [None], "name": ["天河区"], "level": ["district"],
    ...                          "geometry": ["{}"]}))
    >>> require_boundary_columns(ctx)(lf).pipe(reason_lists).collect()["_reasons"].to_list()
    [['area_code.missing']]
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        return require(frame, ("area_code", "name", "level", "geometry"))

    return step


BOUNDARY_STEPS: tuple[StepBuilder, ...] = (
    map_boundary_fields,
    require_boundary_columns,
    normalize_level,
    normalize_area_codes,
    normalize_geometry,
)


def normalize_boundaries(frame: pl.LazyFrame, ctx: NormalizeContext) -> NormalizedBatch:
    """Normalize a boundaries delivery: valid areas (geometry as WKB), rejected features,
    duplicates (a code delivered twice: the later feature wins)."""
    return normalize_with(frame, ctx, Area, BOUNDARY_STEPS, updated_at=None)


# --- Addresses ---------------------------------------------------------------------------


def map_address_fields(ctx: NormalizeContext) -> Step:
    """The bureau's Chinese column names to canonical columns, text cleaned.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={"source_lon": ["经度"]}, today=date(2026, 1, 1))
    >>> map_address_fields(ctx)(pl.LazyFrame({"经度": ["１１３.２６"]})).collect()["source_lon"].to_list()
    ['113.26']
    """
    return map_fields(ctx.fields)


def normalize_address_text(ctx: NormalizeContext) -> Step:
    """Address code without spaces; address and type with Chinese spaces removed.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = pl.LazyFrame({"address_code": ["ad 01"], "address": ["天河 路1号"],
    ...                    "address_type": ["住 宅"]})
    >>> normalize_address_text(ctx)(lf).collect().rows()
    [('AD01', '天河路1号', '住宅')]
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.with_columns(
            _code(pl.col("address_code")),
            _collapse(pl.col("address")),
            _collapse(pl.col("address_type")),
        )

    return step


def normalize_crs(ctx: NormalizeContext) -> Step:
    """坐标系 → ``WGS84``/``CGCS2000``/``GCJ02``/``BD09``; others are ``source_crs.unknown``.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"source_crs": ["gcj-02", "WGS 84", "BD09MC", None]}))
    >>> normalize_crs(ctx)(lf).pipe(reason_lists).select("source_crs", "_reasons").collect().rows()
    [('GCJ02', []), ('WGS84', []), (None, ['source_crs.unknown']), (None, [])]
    """
    spellings = {k.replace("-", ""): v for k, v in CRS_NAMES.items()}

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        raw = pl.col("source_crs")
        key = _code(raw).str.replace_all(r"[-_]", "")
        mapped = key.replace_strict(spellings, default=None, return_dtype=pl.String)
        frame = flag_where(frame, "source_crs", "unknown", raw.is_not_null() & mapped.is_null())
        return frame.with_columns(mapped.alias("source_crs"))

    return step


_FLOAT = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$"


def parse_coordinates(ctx: NormalizeContext) -> Step:
    """经度/纬度 text → floats (``source_lon``/``source_lat``); a missing one is
    ``lonlat.missing``, text that is no decimal number ``lonlat.format``, a zero
    ``lonlat.zero``.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"source_lon": ["113.26", "0", "113°", None],
    ...                          "source_lat": ["23.13", "0", "23.1", "23.1"]}))
    >>> parse_coordinates(ctx)(lf).pipe(reason_lists).select("source_lon", "_reasons").collect().rows()
    [(113.26, []), (0.0, ['lonlat.zero']), (None, ['lonlat.format']), (None, ['lonlat.missing'])]
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        lon, lat = pl.col("source_lon"), pl.col("source_lat")
        numeric = lon.str.contains(_FLOAT) & lat.str.contains(_FLOAT)
        frame = flag(
            frame,
            "lonlat",
            pl.when(lon.is_null() | lat.is_null())
            .then(pl.lit("missing"))
            .when(~numeric)
            .then(pl.lit("format")),
        )
        frame = frame.with_columns(
            pl.when(numeric).then(lon.cast(pl.Float64, strict=False)).alias("source_lon"),
            pl.when(numeric).then(lat.cast(pl.Float64, strict=False)).alias("source_lat"),
        )
        lon, lat = pl.col("source_lon"), pl.col("source_lat")
        return flag_where(frame, "lonlat", "zero", (lon == 0) | (lat == 0))

    return step


def swap_coordinates(ctx: NormalizeContext) -> Step:
    """A latitude delivered as 经度 and a longitude as 纬度 is swapped back, with warning
    ``lonlat.swapped``. China's longitudes (73–135) and latitudes (3–54) do not overlap, so
    a pair that is outside China as given and inside it swapped is not ambiguous.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"source_lon": [23.13, 113.26], "source_lat": [113.26, 23.13]}))
    >>> swap_coordinates(ctx)(lf).pipe(reason_lists).select("source_lon", "source_lat", "_warnings").collect().rows()
    [(113.26, 23.13, ['lonlat.swapped']), (113.26, 23.13, [])]
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        lon, lat = pl.col("source_lon"), pl.col("source_lat")
        swapped = ~in_china(lon, lat) & in_china(lat, lon)
        frame = frame.with_columns(swapped.fill_null(False).alias("_swapped"))
        frame = warn_where(frame, "lonlat", "swapped", pl.col("_swapped"))
        is_swapped = pl.col("_swapped")
        return frame.with_columns(
            pl.when(is_swapped).then(lat).otherwise(lon).alias("source_lon"),
            pl.when(is_swapped).then(lon).otherwise(lat).alias("source_lat"),
        ).drop("_swapped")

    return step


def convert_to_wgs84(ctx: NormalizeContext) -> Step:
    """``lon``/``lat`` in WGS-84 from the source point and its CRS (exact inverses); a
    point outside China's rectangle is ``lonlat.out_of_city``.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"source_lon": [113.9171764808363, 2.35],
    ...                          "source_lat": [22.540796131694766, 48.86],
    ...                          "source_crs": ["GCJ02", "WGS84"]}))
    >>> out = convert_to_wgs84(ctx)(lf).pipe(reason_lists).select("lon", "lat", "_reasons").collect()
    >>> [(a and round(a, 6), b and round(b, 6), r) for a, b, r in out.rows()]
    [(113.912316, 22.543847, []), (None, None, ['lonlat.out_of_city'])]
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        lon, lat = pl.col("source_lon"), pl.col("source_lat")
        frame = flag_where(
            frame, "lonlat", "out_of_city", (lon != 0) & (lat != 0) & ~in_china(lon, lat)
        )
        usable = (lon != 0) & (lat != 0) & in_china(lon, lat)
        return (
            frame.with_columns(
                to_wgs84(
                    pl.when(usable).then(lon), pl.when(usable).then(lat), pl.col("source_crs")
                ).alias("_wgs")
            )
            .with_columns(pl.col("_wgs").struct.field("lon"), pl.col("_wgs").struct.field("lat"))
            .drop("_wgs")
        )

    return step


def normalize_street_code(ctx: NormalizeContext) -> Step:
    """所属区划代码 (9 or 12 digits) → ``street_code`` (9) and ``region_code`` (current);
    empty stays null for the loader to fill by containment.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"street_code": ["440106001001", "440102005", None, "4401"]}))
    >>> normalize_street_code(ctx)(lf).pipe(reason_lists).select("street_code", "region_code", "_reasons").collect().rows()
    [('440106001', '440106', []), ('440102005', '440104', []), (None, None, []), (None, None, ['street_code.format'])]
    """
    check = check_column(
        "street_code",
        check_statistical_code,
        extras={"region_code": "region_code", "street_code": "_street9"},
    )

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        return check(frame).with_columns(pl.col("_street9").alias("street_code")).drop("_street9")

    return step


def add_h3(ctx: NormalizeContext) -> Step:
    """``h3_r9``: the resolution-9 H3 cell of the WGS-84 point (null without a point).

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = pl.LazyFrame({"lon": [113.2644, None], "lat": [23.1291, None]})
    >>> add_h3(ctx)(lf).collect()["h3_r9"].to_list()
    ['894118b2913ffff', None]
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        cell = polars_h3.latlng_to_cell("lat", "lon", H3_RESOLUTION)
        return frame.with_columns(polars_h3.int_to_str(cell).alias("h3_r9"))

    return step


def parse_updated_at(ctx: NormalizeContext) -> Step:
    """更新时间 → ``source_updated_at`` (the cursor: the newest update of a code wins).

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"source_updated_at": ["2026-03-05 08:00:00"]}))
    >>> parse_updated_at(ctx)(lf).collect()["source_updated_at"].to_list()
    [datetime.datetime(2026, 3, 5, 8, 0)]
    """
    return check_column("source_updated_at", parse_datetime)


def require_address_columns(ctx: NormalizeContext) -> Step:
    """Reject rows without address code, address or 坐标系 (``<column>.missing``), on the
    values as delivered (missing coordinates are ``lonlat.missing``).

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> lf = begin(pl.LazyFrame({"address_code": ["A1"], "address": [None], "source_crs": ["BD09"]}))
    >>> require_address_columns(ctx)(lf).pipe(reason_lists).collect()["_reasons"].to_list()
    [['address.missing']]
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        return require(frame, ("address_code", "address", "source_crs"))

    return step


def leave_grid_to_loader(ctx: NormalizeContext) -> Step:
    """``grid_code`` is null here: the loader places each point in its grid by polygon
    containment against ``core.area`` (``warehouse.spatial``).

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> leave_grid_to_loader(ctx)(pl.LazyFrame({"lon": [113.3]})).collect()["grid_code"].to_list()
    [None]
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.with_columns(pl.lit(None, dtype=pl.String).alias("grid_code"))

    return step


ADDRESS_STEPS: tuple[StepBuilder, ...] = (
    map_address_fields,
    require_address_columns,
    normalize_address_text,
    normalize_crs,
    parse_coordinates,
    swap_coordinates,
    convert_to_wgs84,
    normalize_street_code,
    add_h3,
    parse_updated_at,
    leave_grid_to_loader,
)


def normalize_addresses(frame: pl.LazyFrame, ctx: NormalizeContext) -> NormalizedBatch:
    """Normalize an address delivery: valid points in WGS-84, rejected rows, duplicates
    (the newest 更新时间 of an address code wins, then the later row)."""
    return normalize_with(frame, ctx, AddressPoint, ADDRESS_STEPS, updated_at="source_updated_at")
