-- Tables of one attached lake with their labels (COMMENT ON TABLE).
SELECT schema_name, table_name, comment
FROM duckdb_tables()
WHERE database_name = $lake
ORDER BY schema_name, table_name
