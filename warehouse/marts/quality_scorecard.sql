-- The quality scorecard per feed, batch and GB/T 36344 dimension (standards.md §9.2), from
-- meta.quality_results: a dimension scores the mean of its rules (each 100·A/B), a batch
-- the weighted mean of its dimensions, renormalized over the dimensions it has. The
-- weights and grade bands are the standard's worked example, not normative: tune here.
WITH weights(dimension, weight) AS (
    VALUES
        ('conformity', 0.20),
        ('completeness', 0.20),
        ('accuracy', 0.25),
        ('consistency', 0.15),
        ('timeliness', 0.15),
        ('accessibility', 0.05)
),
dimensions AS (
    SELECT
        r.feed,
        r.department,
        r.batch_id,
        max(r.scored_at) AS scored_at,
        r.dimension,
        avg(r.score) AS score
    FROM lake.meta.quality_results AS r
    GROUP BY r.feed, r.department, r.batch_id, r.dimension
),
overall AS (
    SELECT
        d.batch_id,
        round(sum(d.score * w.weight) / sum(w.weight), 2) AS overall
    FROM dimensions AS d
    JOIN weights AS w ON w.dimension = d.dimension
    GROUP BY d.batch_id
)
SELECT
    d.feed AS feed,
    d.department AS department,
    d.batch_id AS batch_id,
    d.scored_at AS scored_at,
    d.dimension AS dimension,
    round(d.score, 2) AS score,
    o.overall AS overall,
    CASE
        WHEN o.overall >= 95 THEN 'A'
        WHEN o.overall >= 90 THEN 'B'
        WHEN o.overall >= 80 THEN 'C'
        WHEN o.overall >= 60 THEN 'D'
        ELSE 'E'
    END AS grade,
    b.finished_at AS loaded_at
FROM dimensions AS d
JOIN overall AS o ON o.batch_id = d.batch_id
LEFT JOIN lake.meta.batches AS b ON b.batch_id = d.batch_id AND b.status = 'loaded'
ORDER BY d.feed, b.finished_at, d.batch_id, d.dimension
