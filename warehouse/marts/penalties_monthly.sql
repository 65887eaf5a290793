-- Penalty decisions and fines per district in each of the 12 months up to $as_of. The
-- district is the penalized entity's, else the person's residence, else the deciding
-- authority's (characters 3-8 of its credit code, when that is a district of the city).
WITH months AS (
    SELECT m::DATE AS month
    FROM generate_series(
        date_trunc('month', $as_of::DATE)::TIMESTAMP - INTERVAL 11 MONTH,
        date_trunc('month', $as_of::DATE)::TIMESTAMP,
        INTERVAL 1 MONTH
    ) AS t(m)
),
penalty AS (
    SELECT
        date_trunc('month', c.decision_date)::DATE AS month,
        coalesce(
            e.region_code, p.residence_region_code, p.hukou_region_code, authority.area_code
        ) AS district_code,
        c.fine_amount
    FROM lake.core.credit_penalty AS c
    LEFT JOIN lake.core.legal_entity AS e
        ON c.subject_code_type = 'uscc' AND e.uscc = c.subject_code
    LEFT JOIN lake.core.person AS p
        ON c.subject_code_type = 'citizen_id' AND p.id_number = c.subject_code
    LEFT JOIN lake.core.area AS authority
        ON authority.level = 'district' AND authority.area_code = substr(c.authority_code, 3, 6)
    WHERE c.decision_date <= $as_of::DATE
),
districts AS (
    SELECT DISTINCT district_code FROM penalty
)
SELECT
    d.district_code AS district_code,
    m.month AS month,
    count(pe.month) AS penalties,
    coalesce(sum(pe.fine_amount), 0)::DECIMAL(18, 2) AS fines_yuan
FROM districts AS d
CROSS JOIN months AS m
LEFT JOIN penalty AS pe
    ON pe.district_code IS NOT DISTINCT FROM d.district_code AND pe.month = m.month
GROUP BY d.district_code, m.month
ORDER BY d.district_code, m.month
