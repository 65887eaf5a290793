"""Geospatial (市规划和自然资源局): the boundaries GeoJSON and the address CSVs (feeds.md §3).

Each address point's source decides its coordinate system: 高德/腾讯 give GCJ-02, 百度
BD-09, survey data WGS-84 or CGCS2000; the delivered numbers are the real transforms of
the point's true WGS-84 position. Dirt: swapped longitude/latitude (valid: a latitude
above 90 cannot be one), zeros and far-away points (quarantined: ``lonlat.zero``,
``lonlat.out_of_city``), an empty 所属区划代码 (valid: derive it from the point).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from feeds.demo_city.context import Context
from feeds.demo_city.coords import gcj02_to_bd09, wgs84_to_gcj02
from feeds.demo_city.dirt import Dice, fullwidth, labels, text_noise
from feeds.demo_city.geometry import MICRO, random_points
from feeds.demo_city.places import COMMERCIAL
from feeds.demo_city.render import TRUTH_META, Renderer, Truth
from feeds.demo_city.streams import stream
from feeds.demo_city.timeline import Delivery
from feeds.demo_city.writers import CsvSink, Sink
from schemas.codes.text import clean_text

__all__ = ["FIELDS", "address_renderer", "address_versions", "write_boundaries"]

FIELDS = ("地址编码", "标准地址", "所属区划代码", "经度", "纬度", "坐标系", "地址类型", "更新时间")
CANONICAL: dict[str, pl.DataType] = {
    "address_code": pl.String(),
    "address": pl.String(),
    "lon": pl.Float64(),  # true WGS-84
    "lat": pl.Float64(),
    "source_crs": pl.String(),
    "region_code": pl.String(),
    "street_code": pl.String(),
    "community_code": pl.String(),
    "grid_code": pl.String(),
    "address_type": pl.String(),
    "source_updated_at": pl.Datetime("us"),
}
AREA_CANONICAL: dict[str, pl.DataType] = {
    "area_code": pl.String(),
    "name": pl.String(),
    "level": pl.String(),
    "parent_code": pl.String(),
    "geometry_wkt": pl.String(),
}
# Where a wrong point lands: other cities' centres, far outside this one.
_ELSEWHERE = ((116.40, 39.90), (121.47, 31.23), (112.94, 28.23), (104.07, 30.57), (108.95, 34.27))


def address_versions(ctx: Context) -> pl.DataFrame:
    """Address points: as first recorded, re-surveyed during the run, and new shops."""
    rng = stream(ctx.seed, "address-events", 0)
    points = ctx.places.points
    n = points.height
    days = ctx.timeline.days
    t0 = np.datetime64(ctx.timeline.t0, "us")
    crs = ctx.profile
    weights = np.array([crs.crs_gcj02, crs.crs_bd09, crs.crs_cgcs2000])
    names = np.array(["GCJ02", "BD09", "CGCS2000", "WGS84"])

    def source(m: int) -> pl.Series:
        u = rng.random(m)
        return pl.Series(names[np.searchsorted(np.cumsum(weights), u, side="right")])

    base = points.with_columns(source(n).alias("source_crs"), pl.lit(0, dtype=pl.Int64).alias("_v"))
    offset = rng.integers(0, max(days, 1) * 86_400, n).astype("timedelta64[s]")
    surveyed = rng.random(n) < 0.0002 * days
    grid_index = ctx.areas.grids.with_row_index("g").select("code", "g")
    g = (
        points.select("grid_code")
        .join(grid_index, left_on="grid_code", right_on="code", how="left")["g"]
        .to_numpy()
    )
    lon, lat = random_points(rng, ctx.areas.grids, g)
    resurvey = base.with_columns(
        pl.Series("lon", lon),
        pl.Series("lat", lat),
        source(n).alias("source_crs"),
        pl.Series("updated_at", t0 + offset),
        pl.lit(1, dtype=pl.Int64).alias("_v"),
    ).filter(pl.Series(surveyed))
    n_new = int(rng.poisson(n * 0.0003 * days)) if days else 0
    pick = rng.integers(0, n, n_new)
    new_lon, new_lat = random_points(rng, ctx.areas.grids, g[pick])
    new = base[pick].with_columns(
        (pl.lit(n) + pl.int_range(pl.len())).cast(pl.Int64).alias("point"),
        pl.Series("lon", new_lon),
        pl.Series("lat", new_lat),
        pl.lit(COMMERCIAL).alias("kind"),
        pl.Series(
            "updated_at",
            t0 + rng.integers(0, max(days, 1) * 86_400, n_new).astype("timedelta64[s]"),
        ),
    )
    new = new.with_columns(
        pl.concat_str(pl.col("community_code"), pl.col("point").cast(pl.String).str.zfill(7)).alias(
            "address_code"
        ),
        pl.concat_str(
            pl.col("address").str.replace(r"\d+号.*$", ""),
            (pl.col("point") % 900 + 1).cast(pl.String),
            pl.lit("号"),
        ).alias("address"),
    )
    versions = pl.concat([base, resurvey, new.select(base.columns)])
    return versions.with_columns(
        pl.col("address_code").alias("_key"),
        (pl.col("point") * 2 + pl.col("_v")).alias("_vid"),
        pl.col("updated_at").alias("_cursor"),
    )


def _fmt(x: pl.Expr, decimals: int) -> pl.Expr:
    return x.round(decimals).cast(pl.String)


def spell(ctx: Context, rows: pl.DataFrame, dice: Dice) -> pl.DataFrame:
    p = ctx.profile
    lon, lat = rows["lon"].to_numpy(), rows["lat"].to_numpy()
    glon, glat = wgs84_to_gcj02(lon, lat)
    blon, blat = gcj02_to_bd09(glon, glat)
    crs = rows["source_crs"].to_numpy()
    x = np.where(crs == "GCJ02", glon, np.where(crs == "BD09", blon, lon))
    y = np.where(crs == "GCJ02", glat, np.where(crs == "BD09", blat, lat))
    far = np.array(_ELSEWHERE)[dice.rng.integers(0, len(_ELSEWHERE), rows.height)]
    jitter = dice.rng.uniform(-0.05, 0.05, (rows.height, 2))
    d = rows.with_columns(
        pl.Series("_x", x),
        pl.Series("_y", y),
        pl.Series("_fx", far[:, 0] + jitter[:, 0]),
        pl.Series("_fy", far[:, 1] + jitter[:, 1]),
        dice.one_of({"zero": p.lonlat_zero, "far": p.lonlat_out_of_city}).alias("_bad"),
        dice.mask(p.lonlat_swapped).alias("_mswap"),
        dice.mask(p.region_code_missing).alias("_mreg"),
        dice.mask(p.text_noise).alias("_mnoise"),
        dice.mask(p.id_fullwidth).alias("_mfw"),
        dice.pick(1 << 20).alias("_k"),
    )
    k = pl.col("_k")
    zero = pl.col("_bad") == "zero"
    far_away = pl.col("_bad") == "far"
    swapped = pl.col("_mswap") & ~zero
    digits = pl.when(pl.col("source_crs").is_in(["GCJ02", "BD09"])).then(6).otherwise(7)
    sx = pl.when(far_away).then(pl.col("_fx")).otherwise(pl.col("_x"))
    sy = pl.when(far_away).then(pl.col("_fy")).otherwise(pl.col("_y"))
    sx_t = pl.when(digits == 6).then(_fmt(sx, 6)).otherwise(_fmt(sx, 7))
    sy_t = pl.when(digits == 6).then(_fmt(sy, 6)).otherwise(_fmt(sy, 7))
    jing = pl.when(zero).then(pl.lit("0")).when(swapped).then(sy_t).otherwise(sx_t)
    wei = pl.when(zero).then(pl.lit("0")).when(swapped).then(sx_t).otherwise(sy_t)
    region = (
        pl.when(pl.col("_mreg"))
        .then(pl.lit(""))
        .when(k % 5 < 3)
        .then("community_code")
        .otherwise("street_code")
    )
    address = pl.when(pl.col("_mfw")).then(fullwidth(pl.col("address"))).otherwise("address")
    return d.select(
        pl.col("address_code").alias("地址编码"),
        text_noise(address, pl.col("_mnoise"), k).alias("标准地址"),
        region.alias("所属区划代码"),
        jing.alias("经度"),
        wei.alias("纬度"),
        pl.col("source_crs").alias("坐标系"),
        pl.col("kind").alias("地址类型"),
        pl.col("updated_at").dt.strftime("%Y-%m-%d %H:%M:%S").alias("更新时间"),
        labels((zero, "lonlat.zero"), (far_away, "lonlat.out_of_city")).alias("reasons"),
        labels(
            (zero, "lonlat_zero"),
            (far_away, "lonlat_out_of_city"),
            (swapped, "lonlat_swapped"),
            (pl.col("_mreg"), "region_code_missing"),
            (pl.col("_mnoise"), "text_noise"),
            (pl.col("_mfw"), "address_fullwidth"),
            (pl.col("source_crs") == "GCJ02", "crs_gcj02"),
            (pl.col("source_crs") == "BD09", "crs_bd09"),
            (pl.col("source_crs") == "CGCS2000", "crs_cgcs2000"),
        ).alias("dirt"),
    )


def canonical(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.with_columns(
        clean_text(pl.col("address")).alias("address"),
        pl.col("district_code").alias("region_code"),
        pl.col("kind").alias("address_type"),
        pl.col("updated_at").alias("source_updated_at"),
    ).select(*CANONICAL)


def address_renderer(ctx: Context) -> Renderer:
    deliveries = tuple(d for d in ctx.timeline.geospatial() if d.kind != "boundaries")

    def sink(d: Delivery) -> Sink:
        return CsvSink(ctx.params.out / "deliveries", d.path, d.kind, "utf-8", d.at, header=FIELDS)

    return Renderer(
        table="address_point",
        deliveries=deliveries,
        fields=FIELDS,
        canonical_schema=CANONICAL,
        spell=spell,
        canonical=canonical,
        sink=sink,
    )


def _areas(ctx: Context) -> pl.DataFrame:
    a = ctx.areas
    cols = ["code", "name", "level", "parent_code", "x0", "y0", "x1", "y1"]
    return pl.concat(
        [
            a.districts.with_columns(
                pl.lit("district").alias("level"), pl.lit(ctx.city.code).alias("parent_code")
            ).select(cols),
            a.streets.with_columns(
                pl.lit("street").alias("level"), pl.col("district_code").alias("parent_code")
            ).select(cols),
            a.grids.with_columns(
                pl.lit("grid").alias("level"), pl.col("street_code").alias("parent_code")
            ).select(cols),
        ]
    )


def write_boundaries(ctx: Context, truth: Truth) -> Sink:
    """The boundaries GeoJSON (districts, streets, grids; WGS-84 rectangles) and its truth."""
    d = next(d for d in ctx.timeline.geospatial() if d.kind == "boundaries")
    sink = Sink(ctx.params.out / "deliveries", d.path, d.kind, "utf-8", d.at)
    areas = _areas(ctx)

    def num(v: str) -> pl.Expr:
        whole, frac = pl.col(v) // MICRO, pl.col(v) % MICRO
        return pl.concat_str(whole.cast(pl.String), pl.lit("."), frac.cast(pl.String).str.zfill(6))

    # The rectangle's corners, counter-clockwise (RFC 7946), closed.
    corners = [("x0", "y0"), ("x1", "y0"), ("x1", "y1"), ("x0", "y1"), ("x0", "y0")]
    ring = pl.concat_str(
        pl.lit("[["),
        pl.concat_str(
            [pl.concat_str(num(x), pl.lit(","), num(y)) for x, y in corners], separator="],["
        ),
        pl.lit("]]"),
    )
    props = pl.struct(
        pl.col("code"), pl.col("name"), pl.col("level"), pl.col("parent_code")
    ).struct.json_encode()
    features = areas.select(
        pl.concat_str(
            pl.lit('{"type":"Feature","properties":'),
            props,
            pl.lit(',"geometry":{"type":"Polygon","coordinates":['),
            ring,
            pl.lit("]}}"),
        )
    ).to_series()
    sink.path.parent.mkdir(parents=True, exist_ok=True)
    with sink.path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write('{"type":"FeatureCollection","features":[\n')
        fh.write(",\n".join(features.to_list()))
        fh.write("\n]}\n")
    sink.rows = areas.height
    wkt = pl.concat_str(
        pl.lit("POLYGON(("),
        pl.concat_str(
            [pl.concat_str(num(x), pl.lit(" "), num(y)) for x, y in corners], separator=", "
        ),
        pl.lit("))"),
    )
    rows = areas.select(
        pl.lit(d.path).alias("delivery"),
        pl.int_range(pl.len()).cast(pl.Int64).alias("row"),
        pl.lit("valid").alias("outcome"),
        pl.lit(None, dtype=pl.String).alias("duplicate_kind"),
        pl.lit([], dtype=pl.List(pl.String)).alias("reasons"),
        pl.lit([], dtype=pl.List(pl.String)).alias("dirt"),
        pl.lit(True).alias("delivery_complete"),
        pl.col("code").alias("business_key"),
        pl.lit(None, dtype=pl.Datetime("us")).alias("served_at"),
        pl.col("code").alias("area_code"),
        "name",
        "level",
        "parent_code",
        wkt.alias("geometry_wkt"),
    ).select(*TRUTH_META, *AREA_CANONICAL)
    truth.write("area", "rows", "part-00000", rows)
    truth.write("area", "current", "part-00000", rows.select("business_key", *AREA_CANONICAL))
    sink.finish()
    return sink
