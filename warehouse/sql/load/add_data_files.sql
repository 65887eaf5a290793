-- Register a Parquet file the loader wrote (warehouse/load/versions.py) as a data file of a
-- table, without reading or copying it: the lake owns it from the commit on. The file has
-- the history table's columns; core ignores the period columns ($extra_columns).
SELECT *
FROM ducklake_add_data_files(
    $lake, $table, $path, schema => $schema, ignore_extra_columns => $extra_columns
)
