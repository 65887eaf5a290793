-- Entities established and deregistered (注销) per district in each of the 12 months up to
-- $as_of; every district with entities has a row per month, zero when nothing happened.
WITH months AS (
    SELECT m::DATE AS month
    FROM generate_series(
        date_trunc('month', $as_of::DATE)::TIMESTAMP - INTERVAL 11 MONTH,
        date_trunc('month', $as_of::DATE)::TIMESTAMP,
        INTERVAL 1 MONTH
    ) AS t(m)
),
events AS (
    SELECT
        e.region_code AS district_code,
        date_trunc('month', e.established_date)::DATE AS month,
        1 AS registrations,
        0 AS deregistrations
    FROM lake.core.legal_entity AS e
    WHERE e.established_date <= $as_of::DATE
    UNION ALL
    SELECT
        e.region_code,
        date_trunc('month', e.deregistered_date)::DATE,
        0,
        1
    FROM lake.core.legal_entity AS e
    WHERE e.deregistered_date <= $as_of::DATE
),
districts AS (
    SELECT DISTINCT e.region_code AS district_code FROM lake.core.legal_entity AS e
)
SELECT
    d.district_code AS district_code,
    m.month AS month,
    coalesce(sum(ev.registrations), 0)::BIGINT AS registrations,
    coalesce(sum(ev.deregistrations), 0)::BIGINT AS deregistrations
FROM districts AS d
CROSS JOIN months AS m
LEFT JOIN events AS ev
    ON ev.district_code IS NOT DISTINCT FROM d.district_code AND ev.month = m.month
GROUP BY d.district_code, m.month
ORDER BY d.district_code, m.month
