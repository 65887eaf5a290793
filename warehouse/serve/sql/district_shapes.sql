-- District polygons as GeoJSON, simplified server-side ($tolerance in degrees) so the page
-- draws a few hundred vertices, not the surveyors' thousands. Read directly, not through the
-- governed layer: boundaries are the open base map, and the `public` role reads marts only.
SELECT
    area_code AS district_code,
    name AS area_name,
    ST_AsGeoJSON(ST_SimplifyPreserveTopology(geometry, $tolerance)) AS geojson
FROM lake.core.area
WHERE level = 'district' AND geometry IS NOT NULL
ORDER BY area_code
