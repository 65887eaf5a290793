-- Columns of every table of one attached lake, in table order, with their labels.
SELECT
    c.schema_name,
    c.table_name,
    c.column_name,
    c.data_type,
    c.is_nullable,
    c.comment
FROM duckdb_columns() AS c
JOIN duckdb_tables() AS t
    ON t.database_name = c.database_name
    AND t.schema_name = c.schema_name
    AND t.table_name = c.table_name
WHERE c.database_name = $lake
ORDER BY c.schema_name, c.table_name, c.column_index
