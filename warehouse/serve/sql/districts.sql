-- The city's districts with their resident population: the map's colours, the district select.
-- Unfiltered: the map always shows every district, the selected one outlined.
SELECT
    area_code AS district_code,
    area_name,
    total,
    registered,
    floating
FROM mart.population_by_area
WHERE area_level = 'district'
ORDER BY area_code
