-- Rejected rows of a batch with the record as received and every reason code.
INSERT INTO lake.meta.quarantine (
    feed, batch_id, source, source_row, raw_record, reasons, quarantined_at,
    resolved_at, resolved_batch_id, resource
)
SELECT
    $feed,
    $batch_id,
    r._source,
    r._source_row,
    CAST(r.raw_record AS JSON),
    r.reasons,
    $quarantined_at,
    NULL,
    NULL,
    $resource
FROM read_parquet($rejected_path) AS r
