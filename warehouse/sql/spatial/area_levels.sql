-- How many polygons core.area holds at each level (no boundaries yet: all zero).
SELECT
    count(*) FILTER (WHERE level = 'district') AS districts,
    count(*) FILTER (WHERE level = 'street') AS streets,
    count(*) FILTER (WHERE level = 'grid') AS grids
FROM lake.core.area
