-- Move a resource's incremental cursor forward, never back: a late or replayed batch with
-- an older cursor leaves it where it is. ISO dates and datetimes compare as timestamps
-- ('2026-01-02 10:00' vs '2026-01-02T09:00'); anything else compares as text.
-- One row per feed and resource. A row written before meta.watermarks had a resource
-- column (resource NULL) is the resource's when its batch id starts with
-- '<feed>-<resource>-' (RawDelivery.batch_id); moving it fills its resource in.
MERGE INTO lake.meta.watermarks AS w
USING (
    SELECT
        $feed AS feed,
        $resource AS resource,
        $cursor_field AS cursor_field,
        $cursor_value AS cursor_value,
        $batch_id AS batch_id,
        $updated_at AS updated_at
) AS s
ON w.feed = s.feed AND coalesce(w.resource = s.resource, starts_with(w.batch_id, $batch_prefix))
WHEN MATCHED AND coalesce(
    TRY_CAST(s.cursor_value AS TIMESTAMP) > TRY_CAST(w.cursor_value AS TIMESTAMP),
    s.cursor_value > w.cursor_value
) THEN UPDATE SET
    cursor_field = s.cursor_field,
    cursor_value = s.cursor_value,
    batch_id = s.batch_id,
    updated_at = s.updated_at,
    resource = s.resource
WHEN NOT MATCHED THEN INSERT (feed, cursor_field, cursor_value, batch_id, updated_at, resource)
    VALUES (s.feed, s.cursor_field, s.cursor_value, s.batch_id, s.updated_at, s.resource)
