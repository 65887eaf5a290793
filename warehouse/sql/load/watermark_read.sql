-- How far a feed's resource has been loaded: the next pull asks for records since then.
SELECT max(w.cursor_value) AS cursor_value
FROM lake.meta.watermarks AS w
WHERE w.feed = $feed AND starts_with(w.batch_id, $batch_prefix)
