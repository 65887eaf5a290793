-- The last delivery each feed loaded (a delivery seen before counts: the department
-- confirmed its data is current), for freshness against the feed's SLA.
SELECT feed, max(finished_at) AS last_loaded_at
FROM lake.meta.batches
WHERE status IN ('loaded', 'skipped_duplicate')
GROUP BY feed
ORDER BY feed
