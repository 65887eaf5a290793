-- Valid licences per district and licence type on $as_of, and how many end within 30 and
-- 90 days. Valid: status VALID, started, and perpetual or not yet ended. A licence without
-- a region counts in its holding entity's district; with neither it is left out.
WITH valid_licence AS (
    SELECT
        l.licence_type_code,
        coalesce(l.region_code, e.region_code) AS district_code,
        l.valid_to
    FROM lake.core.licence AS l
    LEFT JOIN lake.core.legal_entity AS e
        ON l.holder_code_type = 'uscc' AND e.uscc = l.holder_code
    WHERE l.status = 'VALID'
        AND (l.valid_from IS NULL OR l.valid_from <= $as_of::DATE)
        AND (l.is_perpetual OR l.valid_to IS NULL OR l.valid_to >= $as_of::DATE)
)
SELECT
    v.district_code AS area_code,
    'district' AS area_level,
    v.district_code AS district_code,
    v.licence_type_code AS licence_type_code,
    count(*) AS valid,
    count(*) FILTER (WHERE v.valid_to <= $as_of::DATE + INTERVAL 30 DAY) AS expiring_30d,
    count(*) FILTER (WHERE v.valid_to <= $as_of::DATE + INTERVAL 90 DAY) AS expiring_90d
FROM valid_licence AS v
WHERE v.district_code IS NOT NULL
GROUP BY v.district_code, v.licence_type_code
ORDER BY area_code, licence_type_code
