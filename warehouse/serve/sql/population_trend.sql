-- Residents per month in the range, for one district or the whole city.
SELECT
    month,
    sum(total) AS total,
    sum(registered) AS registered,
    sum(floating) AS floating
FROM mart.population_monthly
WHERE
    month BETWEEN $month_from AND $month_to
    AND ($district IS NULL OR district_code = $district)
GROUP BY month
ORDER BY month
