-- Every ledger row of one batch: a 'loaded' row makes a second load a no-op; 'failed'
-- rows are earlier attempts, replaced when the batch finally loads.
SELECT status, rows_in, rows_loaded, rows_quarantined, rows_duplicate, finished_at, message
FROM lake.meta.batches
WHERE batch_id = $batch_id
ORDER BY started_at
