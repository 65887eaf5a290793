-- Every recorded lineage edge, in a stable order.
SELECT
    target_table,
    target_column,
    source_kind,
    source_column,
    source_table,
    source_feed,
    source_resource,
    source_rank,
    transform,
    recorded_at
FROM lake.meta.lineage
ORDER BY target_table, target_column, source_kind, source_table, source_feed, source_rank, source_column
