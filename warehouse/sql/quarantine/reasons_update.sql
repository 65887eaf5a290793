-- Rows that still fail keep their place and take the reasons the current code gives, so
-- the list shows what is wrong now. `_cb_replay_failing` holds (batch_id, source_row,
-- reasons).
UPDATE lake.meta.quarantine AS q
SET reasons = r.reasons
FROM _cb_replay_failing AS r
WHERE q.batch_id = r.batch_id AND q.source_row = r.source_row AND q.reasons <> r.reasons
