-- Quarantined rows, newest first. A NULL parameter filters nothing; a reason matches a
-- code exactly (id_number.checksum) or every code of a field (id_number). `total` counts
-- the matching rows before the limit. A row quarantined before meta.quarantine had a
-- resource column (resource NULL) belongs to the resource its batch id begins with
-- ('<feed>-<resource>-', RawDelivery.batch_id).
SELECT
    q.feed,
    q.batch_id,
    q.source,
    q.source_row,
    q.reasons,
    q.quarantined_at,
    q.resolved_at,
    q.resolved_batch_id,
    q.resource,
    count(*) OVER () AS total
FROM lake.meta.quarantine AS q
WHERE ($feed IS NULL OR q.feed = $feed)
    AND (
        $resource IS NULL
        OR coalesce(q.resource = $resource, starts_with(q.batch_id, q.feed || '-' || $resource || '-'))
    )
    AND ($batch_id IS NULL OR q.batch_id = $batch_id)
    AND (NOT $unresolved_only OR q.resolved_at IS NULL)
    AND (
        $reason IS NULL
        OR len(list_filter(q.reasons, lambda r: r = $reason OR starts_with(r, $reason || '.'))) > 0
    )
ORDER BY q.quarantined_at DESC, q.batch_id, q.source_row
LIMIT $limit
