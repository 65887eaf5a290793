-- The SLAs recorded so far, to write only what changed (no snapshot when nothing did).
SELECT s.feed, s.department, s.schedule, s.freshness_sla_hours FROM lake.meta.feed_slas AS s
