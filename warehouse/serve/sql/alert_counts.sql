-- Alerts per kind and severity detected in the range, for one district or the whole city.
SELECT
    alert_type,
    severity,
    count(*) AS alerts
FROM mart.alerts
WHERE
    detected_at >= $month_from
    AND detected_at < $month_to + INTERVAL 1 MONTH
    AND ($district IS NULL OR district_code = $district)
GROUP BY alert_type, severity
ORDER BY alerts DESC, alert_type, severity
