INSERT INTO lake.meta.feed_slas (feed, department, schedule, freshness_sla_hours, updated_at)
VALUES ($feed, $department, $schedule, $freshness_sla_hours, $updated_at)
