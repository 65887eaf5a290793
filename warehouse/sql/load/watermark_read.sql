-- How far a feed's resource has been loaded: the next pull asks for records since then.
-- A row written before meta.watermarks had a resource column (resource NULL) is the
-- resource's when its batch id starts with '<feed>-<resource>-' (RawDelivery.batch_id).
SELECT max(w.cursor_value) AS cursor_value
FROM lake.meta.watermarks AS w
WHERE w.feed = $feed
    AND coalesce(w.resource = $resource, starts_with(w.batch_id, $batch_prefix))
