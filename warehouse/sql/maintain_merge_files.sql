-- Daily increments leave many small Parquet files; merge them (time travel is kept).
CALL ducklake_merge_adjacent_files($lake)
