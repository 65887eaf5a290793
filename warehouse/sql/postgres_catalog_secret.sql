-- The PostgreSQL catalog's password, kept in a temporary (in-memory) DuckDB secret so that
-- it appears neither in duckdb_databases().path nor in error messages; duckdb_secrets()
-- shows it redacted. The ATTACH names it with META_SECRET.
CREATE OR REPLACE TEMPORARY SECRET citybrain_lake_catalog (TYPE postgres, PASSWORD $password)
