-- Market entities by district, GB/T 4754 section and registration status. Streets and
-- grids are not derivable: few registered addresses match a standard address.
SELECT
    e.region_code AS area_code,
    'district' AS area_level,
    e.region_code AS district_code,
    e.industry_section AS industry_section,
    e.status AS status,
    count(*) AS entities
FROM lake.core.legal_entity AS e
WHERE e.region_code IS NOT NULL
GROUP BY e.region_code, e.industry_section, e.status
ORDER BY area_code, industry_section, status
