-- GB/T 36344 rule results (standards.md §9) of every loaded batch not scored yet, scored
-- at $built_at. Each rule counts A (passed) of B (evaluated); a rule with B = 0 does not
-- apply and is left out. Quarantine reason codes (<field>.<kind>) map by their kind to
-- the rule they break; a row breaking a rule twice counts once.
WITH rules(rule_id, dimension, sub_indicator) AS (
    VALUES
        ('conformity.reference_data', 'conformity', '权威参考数据'),
        ('conformity.business_rules', 'conformity', '业务规则'),
        ('completeness.elements', 'completeness', '数据元素完整性'),
        ('accuracy.format', 'accuracy', '数据格式合规性'),
        ('accuracy.content', 'accuracy', '数据内容正确性'),
        ('accuracy.duplicates', 'accuracy', '数据重复率'),
        ('consistency.same_data', 'consistency', '相同数据一致性'),
        ('consistency.cross_source', 'consistency', '关联数据一致性'),
        ('timeliness.ordering', 'timeliness', '时序性'),
        ('timeliness.on_time', 'timeliness', '基于时间点的及时性'),
        ('accessibility.available', 'accessibility', '可用性')
),
quarantine_rules(rule_id) AS (
    VALUES
        ('conformity.reference_data'),
        ('conformity.business_rules'),
        ('completeness.elements'),
        ('accuracy.format'),
        ('accuracy.content'),
        ('consistency.same_data'),
        ('timeliness.ordering')
),
ledger AS (
    SELECT
        b.batch_id,
        b.feed,
        b.rows_in,
        b.finished_at,
        b.rows_superseded,
        b.failed_attempts,
        lag(b.finished_at) OVER (PARTITION BY b.feed ORDER BY b.finished_at, b.batch_id)
            AS previous_finished_at
    FROM lake.meta.batches AS b
    WHERE b.status = 'loaded'
),
new_batches AS (
    SELECT ledger.*, s.department, s.freshness_sla_hours
    FROM ledger
    LEFT JOIN lake.meta.feed_slas AS s ON s.feed = ledger.feed
    WHERE ledger.batch_id NOT IN (SELECT r.batch_id FROM lake.meta.quality_results AS r)
),
reasons AS (
    SELECT
        q.batch_id,
        q.source_row,
        string_split(u.reason, '.')[-1] AS kind
    FROM lake.meta.quarantine AS q, unnest(q.reasons) AS u(reason)
    WHERE q.batch_id IN (SELECT n.batch_id FROM new_batches AS n)
),
broken AS (
    SELECT
        r.batch_id,
        CASE
            WHEN r.kind = 'missing' THEN 'completeness.elements'
            WHEN r.kind IN (
                'format', 'excel_float', 'invalid_date', 'unsupported_type', 'no_area_code'
            ) THEN 'accuracy.format'
            WHEN r.kind IN (
                'checksum', 'birth_date', 'future_birth_date', 'implausible', 'zero', 'swapped',
                'out_of_city'
            ) THEN 'accuracy.content'
            WHEN r.kind IN (
                'mismatch_id', 'mismatch_code', 'mismatch_content', 'type_mismatch',
                'section_mismatch', 'not_prefix'
            ) THEN 'consistency.same_data'
            WHEN r.kind IN ('before_valid_from', 'valid_after_end') THEN 'timeliness.ordering'
            WHEN r.kind LIKE 'unknown%' OR r.kind LIKE 'retired%' OR r.kind = 'region'
                THEN 'conformity.reference_data'
            ELSE 'conformity.business_rules'
        END AS rule_id,
        count(DISTINCT r.source_row) AS failed
    FROM reasons AS r
    GROUP BY ALL
),
from_quarantine AS (
    SELECT n.batch_id, qr.rule_id, n.rows_in - coalesce(k.failed, 0) AS passed, n.rows_in AS evaluated
    FROM new_batches AS n
    CROSS JOIN quarantine_rules AS qr
    LEFT JOIN broken AS k ON k.batch_id = n.batch_id AND k.rule_id = qr.rule_id
),
-- Rows superseded by a newer row of the same key in the same delivery: true duplicates
-- (re-delivered identical rows are not). NULL on batches loaded before the ledger counted
-- them: scored as none.
from_ledger AS (
    SELECT
        n.batch_id,
        'accuracy.duplicates' AS rule_id,
        n.rows_in - coalesce(n.rows_superseded, 0) AS passed,
        n.rows_in AS evaluated
    FROM new_batches AS n
    UNION ALL
    SELECT
        n.batch_id,
        'timeliness.on_time',
        CASE
            WHEN n.previous_finished_at IS NULL OR n.freshness_sla_hours IS NULL THEN 1
            WHEN date_diff('second', n.previous_finished_at, n.finished_at) / 3600.0
                <= n.freshness_sla_hours THEN 1
            ELSE 0
        END,
        1
    FROM new_batches AS n
    UNION ALL
    SELECT
        n.batch_id,
        'accessibility.available',
        1,
        1 + coalesce(n.failed_attempts, 0)
    FROM new_batches AS n
),
-- Versions a batch wrote whose subject should be known to the entity or population base.
related AS (
    SELECT
        l._batch_id AS batch_id,
        EXISTS (SELECT 1 FROM lake.core.legal_entity AS e WHERE e.uscc = l.holder_code)
            OR EXISTS (SELECT 1 FROM lake.core.person AS p WHERE p.id_number = l.holder_code)
            AS known
    FROM lake.core.licence_history AS l
    UNION ALL
    SELECT
        c._batch_id,
        EXISTS (SELECT 1 FROM lake.core.legal_entity AS e WHERE e.uscc = c.subject_code)
    FROM lake.core.credit_penalty_history AS c
    WHERE c.subject_code_type = 'uscc'
    UNION ALL
    SELECT
        c._batch_id,
        EXISTS (SELECT 1 FROM lake.core.legal_entity AS e WHERE e.uscc = c.subject_code)
    FROM lake.core.credit_permit_history AS c
    WHERE c.subject_code_type = 'uscc'
),
from_core AS (
    SELECT
        r.batch_id,
        'consistency.cross_source' AS rule_id,
        count(*) FILTER (WHERE r.known) AS passed,
        count(*) AS evaluated
    FROM related AS r
    WHERE r.batch_id IN (SELECT n.batch_id FROM new_batches AS n)
    GROUP BY r.batch_id
),
results AS (
    SELECT * FROM from_quarantine
    UNION ALL
    SELECT * FROM from_ledger
    UNION ALL
    SELECT * FROM from_core
)
SELECT
    n.feed AS feed,
    n.department AS department,
    n.batch_id AS batch_id,
    $built_at::TIMESTAMP AS scored_at,
    res.rule_id AS rule_id,
    rules.dimension AS dimension,
    rules.sub_indicator AS sub_indicator,
    res.passed::BIGINT AS passed,
    res.evaluated::BIGINT AS evaluated,
    round(100.0 * res.passed / res.evaluated, 2)::DOUBLE AS score
FROM results AS res
JOIN new_batches AS n ON n.batch_id = res.batch_id
JOIN rules ON rules.rule_id = res.rule_id
WHERE res.evaluated > 0
ORDER BY n.feed, n.batch_id, res.rule_id
