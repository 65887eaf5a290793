-- The indicator tiles, one row, for one district ($district) or the whole city (NULL).
-- Population, entities and licences are the current state (district-level rows only, so
-- streets and grids are not counted twice); penalties are those of the range's last month
-- and of the whole range; alerts those detected in the range.
WITH population AS (
    SELECT
        sum(total) AS population,
        sum(registered) AS registered,
        sum(floating) AS floating
    FROM mart.population_by_area
    WHERE area_level = 'district' AND ($district IS NULL OR district_code = $district)
),
entities AS (
    SELECT sum(entities) FILTER (WHERE status = 'ACTIVE') AS active_entities
    FROM mart.entities_by_area
    WHERE area_level = 'district' AND ($district IS NULL OR district_code = $district)
),
licences AS (
    SELECT
        sum(valid) AS valid_licences,
        sum(expiring_30d) AS expiring_30d
    FROM mart.licences_by_area
    WHERE area_level = 'district' AND ($district IS NULL OR district_code = $district)
),
penalties AS (
    SELECT
        sum(penalties) FILTER (WHERE month = $month_to) AS penalties_month,
        sum(fines_yuan) FILTER (WHERE month = $month_to) AS fines_month_yuan,
        sum(penalties) AS penalties_range,
        sum(fines_yuan) AS fines_range_yuan
    FROM mart.penalties_monthly
    WHERE
        month BETWEEN $month_from AND $month_to
        AND ($district IS NULL OR district_code = $district)
),
alerts AS (
    SELECT count(*) AS open_alerts
    FROM mart.alerts
    WHERE
        detected_at >= $month_from
        AND detected_at < $month_to + INTERVAL 1 MONTH
        AND ($district IS NULL OR district_code = $district)
)
SELECT
    coalesce(population.population, 0) AS population,
    coalesce(population.registered, 0) AS registered,
    coalesce(population.floating, 0) AS floating,
    coalesce(entities.active_entities, 0) AS active_entities,
    coalesce(licences.valid_licences, 0) AS valid_licences,
    coalesce(licences.expiring_30d, 0) AS expiring_30d,
    coalesce(penalties.penalties_month, 0) AS penalties_month,
    coalesce(penalties.fines_month_yuan, 0) AS fines_month_yuan,
    coalesce(penalties.penalties_range, 0) AS penalties_range,
    coalesce(penalties.fines_range_yuan, 0) AS fines_range_yuan,
    alerts.open_alerts
FROM population
CROSS JOIN entities
CROSS JOIN licences
CROSS JOIN penalties
CROSS JOIN alerts
