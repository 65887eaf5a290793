-- Cross-department alerts: findings no single department's data shows. A licence is valid
-- on $as_of when its status is VALID, it has started, and it is perpetual or not yet ended;
-- a black-list entry is in force when listed, not removed and not expired. detected_at is
-- when the lake first held every record a finding rests on, so rebuilding keeps it.
WITH valid_licence AS (
    SELECT *
    FROM lake.core.licence AS l
    WHERE l.status = 'VALID'
        AND (l.valid_from IS NULL OR l.valid_from <= $as_of::DATE)
        AND (l.is_perpetual OR l.valid_to IS NULL OR l.valid_to >= $as_of::DATE)
),
black_list AS (
    SELECT c.subject_code, max(c._loaded_at) AS loaded_at
    FROM lake.core.credit_list AS c
    WHERE c.list_type = 'black'
        AND c.listed_at <= $as_of::DATE
        AND (c.removed_at IS NULL OR c.removed_at > $as_of::DATE)
        AND (c.expires_at IS NULL OR c.expires_at >= $as_of::DATE)
    GROUP BY c.subject_code
),
inactive_status AS (
    SELECT * FROM (VALUES ('REVOKED'), ('DEREGISTERED'), ('REGISTRATION_CANCELLED')) AS s(status)
),
found AS (
    SELECT
        'dishonest_with_valid_licence' AS alert_type,
        'high' AS severity,
        l.holder_code AS subject_code,
        coalesce(e.name, p.name, l.holder_name) AS subject_name,
        CASE WHEN l.holder_code_type = 'uscc' THEN 'entity' ELSE 'person' END AS subject_kind,
        coalesce(e.region_code, p.residence_region_code, l.region_code) AS district_code,
        l.certificate_id AS related_id,
        '列入严重失信主体名单，仍持有有效证照：' || l.licence_name AS detail,
        greatest(l._loaded_at, b.loaded_at) AS detected_at
    FROM valid_licence AS l
    JOIN black_list AS b ON b.subject_code = l.holder_code
    LEFT JOIN lake.core.legal_entity AS e ON e.uscc = l.holder_code
    LEFT JOIN lake.core.person AS p ON p.id_number = l.holder_code
    UNION ALL
    SELECT
        'inactive_entity_with_valid_licence',
        'high',
        l.holder_code,
        e.name,
        'entity',
        coalesce(e.region_code, l.region_code),
        l.certificate_id,
        '登记状态为' || e.status || '，仍持有有效证照：' || l.licence_name,
        greatest(l._loaded_at, e._loaded_at)
    FROM valid_licence AS l
    JOIN lake.core.legal_entity AS e ON e.uscc = l.holder_code
    WHERE e.status IN (SELECT status FROM inactive_status)
    UNION ALL
    SELECT
        'licence_holder_unknown',
        'medium',
        l.holder_code,
        l.holder_name,
        CASE WHEN l.holder_code_type = 'uscc' THEN 'entity' ELSE 'person' END,
        l.region_code,
        l.certificate_id,
        '有效证照的持证主体不在法人库和人口库中：' || l.licence_name,
        l._loaded_at
    FROM valid_licence AS l
    WHERE NOT EXISTS (SELECT 1 FROM lake.core.legal_entity AS e WHERE e.uscc = l.holder_code)
        AND NOT EXISTS (SELECT 1 FROM lake.core.person AS p WHERE p.id_number = l.holder_code)
    UNION ALL
    SELECT
        'deceased_holds_licence',
        'high',
        p.id_number,
        p.name,
        'person',
        coalesce(p.residence_region_code, p.hukou_region_code, l.region_code),
        l.certificate_id,
        '已登记死亡，仍持有有效证照：' || l.licence_name,
        greatest(l._loaded_at, p._loaded_at)
    FROM valid_licence AS l
    JOIN lake.core.person AS p ON p.id_number = l.holder_code
    WHERE p.is_deceased
    UNION ALL
    SELECT
        'deceased_legal_rep',
        'medium',
        p.id_number,
        p.name,
        'person',
        e.region_code,
        e.uscc,
        '已登记死亡，仍为市场主体的法定代表人：' || e.name,
        greatest(e._loaded_at, p._loaded_at)
    FROM lake.core.legal_entity AS e
    JOIN lake.core.person AS p ON p.id_number = e.legal_rep_id_number
    WHERE p.is_deceased AND e.status NOT IN (SELECT status FROM inactive_status)
    UNION ALL
    SELECT
        'penalty_subject_unknown',
        'low',
        c.subject_code,
        c.subject_name,
        'entity',
        authority.area_code,
        c.decision_no,
        '行政处罚的相对人不在法人库中：' || c.decision_no || '（' || coalesce(c.authority_name, c.authority_code) || '）',
        c._loaded_at
    FROM lake.core.credit_penalty AS c
    LEFT JOIN lake.core.area AS authority
        ON authority.level = 'district' AND authority.area_code = substr(c.authority_code, 3, 6)
    WHERE c.subject_code_type = 'uscc'
        AND c.subject_code IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM lake.core.legal_entity AS e WHERE e.uscc = c.subject_code)
)
SELECT
    found.alert_type AS alert_type,
    found.severity AS severity,
    found.subject_code AS subject_code,
    found.subject_name AS subject_name,
    found.subject_kind AS subject_kind,
    found.district_code AS district_code,
    found.related_id AS related_id,
    found.detail AS detail,
    found.detected_at AS detected_at
FROM found
ORDER BY alert_type, subject_code, related_id
