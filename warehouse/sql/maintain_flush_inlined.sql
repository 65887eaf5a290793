-- Small inserts are inlined into the catalog; write them out as Parquet before compaction.
CALL ducklake_flush_inlined_data($lake)
