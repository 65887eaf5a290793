-- Living residents on $as_of by district and street: registered / floating, age bands.
-- A resident counts where they live, else where their hukou is. Streets are the 9-digit
-- statistical codes, whose first 6 digits are their district. Grids are not derivable:
-- residence addresses do not match the standard addresses (core.address_point).
WITH residents AS (
    SELECT
        p.population_type,
        date_sub('year', p.birth_date, $as_of::DATE) AS age,
        coalesce(p.residence_region_code, p.hukou_region_code) AS district_code,
        p.residence_street_code AS street_code
    FROM lake.core.person AS p
    WHERE NOT p.is_deceased AND p.birth_date <= $as_of::DATE
),
placed AS (
    SELECT district_code AS area_code, 'district' AS area_level, district_code, population_type, age
    FROM residents
    WHERE district_code IS NOT NULL
    UNION ALL
    SELECT street_code, 'street', left(street_code, 6), population_type, age
    FROM residents
    WHERE street_code IS NOT NULL
)
SELECT
    placed.area_code AS area_code,
    placed.area_level AS area_level,
    any_value(area.name) AS area_name,
    placed.district_code AS district_code,
    count(*) FILTER (WHERE placed.population_type = 'registered') AS registered,
    count(*) FILTER (WHERE placed.population_type = 'floating') AS floating,
    count(*) AS total,
    count(*) FILTER (WHERE placed.age <= 14) AS age_0_14,
    count(*) FILTER (WHERE placed.age BETWEEN 15 AND 59) AS age_15_59,
    count(*) FILTER (WHERE placed.age >= 60) AS age_60_plus,
    $as_of::DATE AS as_of
FROM placed
LEFT JOIN lake.core.area AS area
    ON area.area_code = placed.area_code AND area.level = placed.area_level
GROUP BY placed.area_code, placed.area_level, placed.district_code
ORDER BY placed.area_level, placed.area_code
