-- Each feed's freshness against its SLA (city-wide: feeds are not per district).
SELECT
    feed,
    department,
    last_loaded_at,
    last_source_updated_at,
    freshness_sla_hours,
    lag_hours,
    is_stale
FROM mart.feed_freshness
ORDER BY feed
