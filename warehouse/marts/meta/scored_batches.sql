-- How many batches have quality results: the builder reports how many it scored.
SELECT count(DISTINCT r.batch_id) AS batches FROM lake.meta.quality_results AS r
