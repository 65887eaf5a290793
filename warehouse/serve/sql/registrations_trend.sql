-- New registrations and deregistrations of legal entities per month in the range.
SELECT
    month,
    sum(registrations) AS registrations,
    sum(deregistrations) AS deregistrations
FROM mart.entity_registrations_monthly
WHERE
    month BETWEEN $month_from AND $month_to
    AND ($district IS NULL OR district_code = $district)
GROUP BY month
ORDER BY month
