-- Each feed's freshness promise, as the pipeline recorded it from the FeedSpecs.
SELECT feed, freshness_sla_hours
FROM lake.meta.feed_slas
ORDER BY feed
