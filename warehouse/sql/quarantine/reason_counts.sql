-- How many quarantined rows carry each reason code (a row with two codes counts for both),
-- under the same filters as rows.sql.
SELECT
    r.reason,
    count(*) AS rows,
    count(*) FILTER (WHERE q.resolved_at IS NULL) AS unresolved
FROM lake.meta.quarantine AS q, unnest(q.reasons) AS r(reason)
WHERE ($feed IS NULL OR q.feed = $feed)
    AND (
        $resource IS NULL
        OR coalesce(q.resource = $resource, starts_with(q.batch_id, q.feed || '-' || $resource || '-'))
    )
    AND ($batch_id IS NULL OR q.batch_id = $batch_id)
    AND (NOT $unresolved_only OR q.resolved_at IS NULL)
    AND (
        $reason IS NULL
        OR len(list_filter(q.reasons, lambda x: x = $reason OR starts_with(x, $reason || '.'))) > 0
    )
GROUP BY r.reason
ORDER BY rows DESC, r.reason
