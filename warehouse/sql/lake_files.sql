-- Data and delete files the current snapshot of the lake references, and their size.
SELECT
    coalesce(sum(file_count), 0) AS data_files,
    coalesce(sum(file_size_bytes), 0) AS data_bytes,
    coalesce(sum(delete_file_count), 0) AS delete_files,
    coalesce(sum(delete_file_size_bytes), 0) AS delete_bytes
FROM ducklake_table_info($lake)
