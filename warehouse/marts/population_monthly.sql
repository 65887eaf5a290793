-- Living residents per district at the end of each of the 12 months up to $as_of (the
-- current month ends on $as_of). Each resident counts in the version of their record in
-- force then: core.person_history ordered by the bureau's update time; before a
-- resident's first version, that first version stands for them. The current month
-- therefore equals core.person.
WITH months AS (
    SELECT
        m::DATE AS month,
        least(m + INTERVAL 1 MONTH, $as_of::DATE + INTERVAL 1 DAY) AS cutoff
    FROM generate_series(
        date_trunc('month', $as_of::DATE)::TIMESTAMP - INTERVAL 11 MONTH,
        date_trunc('month', $as_of::DATE)::TIMESTAMP,
        INTERVAL 1 MONTH
    ) AS t(m)
),
versions AS (
    SELECT
        h.birth_date,
        h.population_type,
        h.is_deceased,
        coalesce(h.residence_region_code, h.hukou_region_code) AS district_code,
        h._version_at AS version_at,
        lead(h._version_at) OVER (PARTITION BY h.id_number ORDER BY h._version_at) AS next_at,
        row_number() OVER (PARTITION BY h.id_number ORDER BY h._version_at) = 1 AS is_first
    FROM lake.core.person_history AS h
),
in_force AS (
    SELECT m.month, v.district_code, v.population_type
    FROM months AS m
    JOIN versions AS v
        ON (v.is_first OR v.version_at < m.cutoff)
        AND (v.next_at IS NULL OR v.next_at >= m.cutoff)
    WHERE NOT v.is_deceased AND v.birth_date < m.cutoff
),
districts AS (
    SELECT DISTINCT district_code FROM in_force
)
SELECT
    d.district_code AS district_code,
    m.month AS month,
    count(f.month) AS total,
    count(f.month) FILTER (WHERE f.population_type = 'registered') AS registered,
    count(f.month) FILTER (WHERE f.population_type = 'floating') AS floating
FROM districts AS d
CROSS JOIN months AS m
LEFT JOIN in_force AS f
    ON f.district_code IS NOT DISTINCT FROM d.district_code AND f.month = m.month
GROUP BY d.district_code, m.month
ORDER BY d.district_code, m.month
