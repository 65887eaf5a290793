-- The district, street and grid polygon of core.area containing each point.
-- Points come from the relation _cb_spatial_points (_rid, lon, lat), WGS-84, registered
-- by warehouse/spatial.py. ST_Intersects (not ST_Contains) so a point on a boundary still
-- has an area; on a shared boundary the smallest code wins, one answer per level.
-- A join on ST_Intersects runs as DuckDB spatial's SPATIAL_JOIN (an R-tree built on the
-- fly over the smaller side): a point in no polygon simply has no row here.
WITH points AS (
    SELECT _rid, ST_Point(lon, lat) AS pt
    FROM _cb_spatial_points
),
areas AS (
    SELECT area_code, level, geometry
    FROM lake.core.area
    WHERE level IN ('district', 'street', 'grid') AND geometry IS NOT NULL
),
hits AS (
    SELECT p._rid, a.level, a.area_code
    FROM points AS p
    JOIN areas AS a ON ST_Intersects(a.geometry, p.pt)
)
SELECT
    _rid,
    min(area_code) FILTER (WHERE level = 'district') AS district_code,
    min(area_code) FILTER (WHERE level = 'street') AS street_code,
    min(area_code) FILTER (WHERE level = 'grid') AS grid_code
FROM hits
GROUP BY _rid
