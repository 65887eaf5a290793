-- The snapshot this connection committed last (not another writer's).
SELECT id FROM lake.last_committed_snapshot()
