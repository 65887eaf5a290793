-- Freshness of each feed against its SLA (meta.feed_slas) at $built_at. Lag is measured
-- from the feed's latest loaded batch; a feed never loaded is stale. The newest version
-- time is read from the provenance of every core table (_feed, _version_at).
WITH loaded AS (
    SELECT b.feed, max(b.finished_at) AS last_loaded_at
    FROM lake.meta.batches AS b
    WHERE b.status = 'loaded'
    GROUP BY b.feed
),
versions AS (
    SELECT _feed AS feed, max(_version_at) AS version_at FROM lake.core.person GROUP BY _feed
    UNION ALL
    SELECT _feed, max(_version_at) FROM lake.core.legal_entity GROUP BY _feed
    UNION ALL
    SELECT _feed, max(_version_at) FROM lake.core.area GROUP BY _feed
    UNION ALL
    SELECT _feed, max(_version_at) FROM lake.core.address_point GROUP BY _feed
    UNION ALL
    SELECT _feed, max(_version_at) FROM lake.core.credit_penalty GROUP BY _feed
    UNION ALL
    SELECT _feed, max(_version_at) FROM lake.core.credit_permit GROUP BY _feed
    UNION ALL
    SELECT _feed, max(_version_at) FROM lake.core.credit_list GROUP BY _feed
    UNION ALL
    SELECT _feed, max(_version_at) FROM lake.core.licence GROUP BY _feed
),
newest AS (
    SELECT v.feed, max(v.version_at) AS last_source_updated_at FROM versions AS v GROUP BY v.feed
),
feeds AS (
    SELECT s.feed FROM lake.meta.feed_slas AS s
    UNION
    SELECT l.feed FROM loaded AS l
),
lagging AS (
    SELECT
        f.feed,
        s.department,
        l.last_loaded_at,
        n.last_source_updated_at,
        s.freshness_sla_hours,
        round(date_diff('second', l.last_loaded_at, $built_at::TIMESTAMP) / 3600.0, 2) AS lag_hours
    FROM feeds AS f
    LEFT JOIN lake.meta.feed_slas AS s ON s.feed = f.feed
    LEFT JOIN loaded AS l ON l.feed = f.feed
    LEFT JOIN newest AS n ON n.feed = f.feed
)
SELECT
    lagging.feed AS feed,
    lagging.department AS department,
    lagging.last_loaded_at AS last_loaded_at,
    lagging.last_source_updated_at AS last_source_updated_at,
    lagging.freshness_sla_hours AS freshness_sla_hours,
    lagging.lag_hours AS lag_hours,
    lagging.last_loaded_at IS NULL
        OR coalesce(lagging.lag_hours > lagging.freshness_sla_hours, FALSE) AS is_stale
FROM lagging
ORDER BY feed
