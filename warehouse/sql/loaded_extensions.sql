-- Extensions loaded in this connection, built-ins included.
SELECT extension_name
FROM duckdb_extensions()
WHERE loaded
ORDER BY extension_name
