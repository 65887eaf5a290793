-- Administrative penalties and their fines per month in the range.
SELECT
    month,
    sum(penalties) AS penalties,
    sum(fines_yuan) AS fines_yuan
FROM mart.penalties_monthly
WHERE
    month BETWEEN $month_from AND $month_to
    AND ($district IS NULL OR district_code = $district)
GROUP BY month
ORDER BY month
