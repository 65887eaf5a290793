-- Unresolved rows of one resource's batches, in delivery order, with when their delivery
-- arrived: the clock their normalization judged them by and that orders their versions.
-- Batch ids read <feed>-<resource>-<first 16 hex of the delivery's sha256>
-- (feeds/delivery.py); without a registered delivery the batch's start, then the
-- quarantine time, stand in for the receipt time. A row quarantined before
-- meta.quarantine had a resource column (resource NULL) is found by its batch id's prefix.
SELECT
    q.batch_id,
    q.source,
    q.source_row,
    CAST(q.raw_record AS VARCHAR) AS raw_record,
    q.reasons,
    coalesce(
        (
            SELECT min(d.received_at)
            FROM lake.meta.deliveries AS d
            WHERE d.feed = q.feed AND left(d.sha256, 16) = right(q.batch_id, 16)
        ),
        (
            SELECT min(b.started_at)
            FROM lake.meta.batches AS b
            WHERE b.batch_id = q.batch_id AND b.status = 'loaded'
        ),
        q.quarantined_at
    ) AS delivered_at
FROM lake.meta.quarantine AS q
WHERE q.feed = $feed
    AND coalesce(q.resource = $resource, starts_with(q.batch_id, $batch_prefix))
    AND q.resolved_at IS NULL
    AND ($batch_id IS NULL OR q.batch_id = $batch_id)
ORDER BY delivered_at, q.batch_id, q.source_row
