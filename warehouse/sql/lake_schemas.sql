-- Schemas of one attached lake.
SELECT schema_name
FROM duckdb_schemas()
WHERE database_name = $lake
ORDER BY schema_name
