-- One quarantined row by its key, with its raw record as text.
SELECT
    q.feed,
    q.batch_id,
    q.source,
    q.source_row,
    CAST(q.raw_record AS VARCHAR) AS raw_record,
    q.reasons,
    q.quarantined_at,
    q.resolved_at,
    q.resolved_batch_id,
    q.resource
FROM lake.meta.quarantine AS q
WHERE q.batch_id = $batch_id AND q.source_row = $source_row
