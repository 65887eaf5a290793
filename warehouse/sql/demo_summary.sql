-- Per feed: how its batches ended, whether they reconcile, its top quarantine reasons.
WITH b AS (
    SELECT
        feed,
        count(*) AS batches,
        sum(rows_in) AS rows_in,
        sum(rows_loaded) AS rows_loaded,
        sum(rows_quarantined) AS rows_quarantined,
        sum(rows_duplicate) AS rows_duplicate,
        bool_and(rows_in = rows_loaded + rows_quarantined + rows_duplicate) AS reconciles,
        max(finished_at) AS last_loaded_at
    FROM meta.batches
    WHERE status <> 'failed'
    GROUP BY feed
),
r AS (
    SELECT feed, reason, count(*) AS n
    FROM meta.quarantine, unnest(reasons) AS u(reason)
    WHERE resolved_at IS NULL
    GROUP BY feed, reason
),
top AS (
    SELECT feed, string_agg(reason || ' (' || n || ')', ', ' ORDER BY n DESC) AS top_reasons
    FROM (SELECT *, row_number() OVER (PARTITION BY feed ORDER BY n DESC, reason) AS k FROM r)
    WHERE k <= 3
    GROUP BY feed
)
SELECT
    b.*,
    top.top_reasons,
    date_diff('minute', b.last_loaded_at, now()::TIMESTAMP) / 60.0 AS age_hours
FROM b LEFT JOIN top USING (feed)
ORDER BY b.feed
