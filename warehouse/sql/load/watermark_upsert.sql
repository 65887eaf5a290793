-- Move a resource's incremental cursor forward, never back: a late or replayed batch with
-- an older cursor leaves it where it is. ISO dates and datetimes compare as timestamps
-- ('2026-01-02 10:00' vs '2026-01-02T09:00'); anything else compares as text.
-- meta.watermarks has no resource column: a resource's row is the one whose batch id
-- starts with '<feed>-<resource>-' (RawDelivery.batch_id).
MERGE INTO lake.meta.watermarks AS w
USING (
    SELECT
        $feed AS feed,
        $cursor_field AS cursor_field,
        $cursor_value AS cursor_value,
        $batch_id AS batch_id,
        $updated_at AS updated_at
) AS s
ON w.feed = s.feed AND starts_with(w.batch_id, $batch_prefix)
WHEN MATCHED AND coalesce(
    TRY_CAST(s.cursor_value AS TIMESTAMP) > TRY_CAST(w.cursor_value AS TIMESTAMP),
    s.cursor_value > w.cursor_value
) THEN UPDATE SET
    cursor_field = s.cursor_field,
    cursor_value = s.cursor_value,
    batch_id = s.batch_id,
    updated_at = s.updated_at
WHEN NOT MATCHED THEN INSERT (feed, cursor_field, cursor_value, batch_id, updated_at)
    VALUES (s.feed, s.cursor_field, s.cursor_value, s.batch_id, s.updated_at)
