-- The alert list, most severe and newest first; subjects as the reading role may see them
-- (the governed layer masks a person's code and name).
SELECT
    alert_type,
    severity,
    subject_kind,
    subject_code,
    subject_name,
    district_code,
    related_id,
    detail,
    detected_at
FROM mart.alerts
WHERE
    detected_at >= $month_from
    AND detected_at < $month_to + INTERVAL 1 MONTH
    AND ($district IS NULL OR district_code = $district)
ORDER BY
    CASE severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END,
    detected_at DESC,
    alert_type,
    related_id
LIMIT 200
