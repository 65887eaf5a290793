-- Each feed's latest scored batch: overall score, grade and the score per dimension.
WITH latest AS (
    SELECT
        feed,
        max(scored_at) AS scored_at
    FROM mart.quality_scorecard
    GROUP BY feed
)
SELECT
    q.department,
    q.feed,
    q.batch_id,
    q.scored_at,
    q.dimension,
    q.score,
    q.overall,
    q.grade
FROM mart.quality_scorecard AS q
JOIN latest ON q.feed = latest.feed AND q.scored_at = latest.scored_at
ORDER BY q.department, q.feed, q.dimension
