-- Earlier failed attempts of a batch give way to the row that records how it ended.
DELETE FROM lake.meta.batches
WHERE batch_id = $batch_id AND status <> 'loaded'
