-- The months the monthly marts cover, so the page can offer and default its month range.
-- Population months bound the default range: registrations reach back decades.
SELECT
    min(month) AS first_month,
    max(month) AS last_month,
    min(month) FILTER (WHERE source = 'population') AS first_population_month,
    max(month) FILTER (WHERE source = 'population') AS last_population_month
FROM (
    SELECT month, 'population' AS source FROM mart.population_monthly
    UNION ALL
    SELECT month, 'registrations' AS source FROM mart.entity_registrations_monthly
    UNION ALL
    SELECT month, 'penalties' AS source FROM mart.penalties_monthly
) AS months
