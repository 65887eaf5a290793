-- Each department's overall score per scored batch, oldest first: the quality trend.
SELECT
    department,
    feed,
    batch_id,
    scored_at,
    max(overall) AS overall
FROM mart.quality_scorecard
GROUP BY department, feed, batch_id, scored_at
ORDER BY department, scored_at, feed, batch_id
