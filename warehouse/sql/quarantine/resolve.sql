-- Mark replayed rows that now pass as resolved by the replay batch (same transaction as
-- their load). `_cb_replay_resolved` is the replay's frame of (batch_id, source_row).
UPDATE lake.meta.quarantine AS q
SET resolved_at = $resolved_at, resolved_batch_id = $resolved_batch_id
FROM _cb_replay_resolved AS r
WHERE q.batch_id = r.batch_id AND q.source_row = r.source_row AND q.resolved_at IS NULL
