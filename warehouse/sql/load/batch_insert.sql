-- The ledger row of a loaded batch, in the same transaction as its rows.
INSERT INTO lake.meta.batches (
    batch_id, feed, source, rows_in, rows_loaded, rows_quarantined, rows_duplicate,
    status, started_at, finished_at, message, resource, rows_superseded, failed_attempts
)
VALUES (
    $batch_id, $feed, $source, $rows_in, $rows_loaded, $rows_quarantined, $rows_duplicate,
    'loaded', $started_at, $finished_at, $message, $resource, $rows_superseded,
    $failed_attempts
)
