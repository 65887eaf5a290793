DELETE FROM lake.meta.feed_slas WHERE feed = $feed
