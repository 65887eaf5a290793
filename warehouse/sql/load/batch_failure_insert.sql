-- A failed attempt, for the ledger and the Airflow UI. Nothing was loaded, so all counts
-- are 0 and the row reconciles; the message says how many rows were waiting. A batch that
-- has already loaded is never marked failed by a later step's error.
INSERT INTO lake.meta.batches (
    batch_id, feed, source, rows_in, rows_loaded, rows_quarantined, rows_duplicate,
    status, started_at, finished_at, message, resource
)
SELECT
    $batch_id, $feed, $source, 0, 0, 0, 0, 'failed', $started_at, $finished_at, $message,
    $resource
WHERE NOT EXISTS (
    SELECT 1 FROM lake.meta.batches AS b WHERE b.batch_id = $batch_id AND b.status = 'loaded'
)
