-- One governed query, allowed or refused (meta.query_audit). Run after `USE <lake>`, in a
-- transaction of its own. "at" is quoted: DuckDB reads a bare AT as time travel.
INSERT INTO meta.query_audit (
    query_id, "at", principal, "role", "sql", "tables", sensitive_columns, rows_returned,
    allowed, reason
)
VALUES (
    $query_id, $at, $principal, $role, $sql, $tables, $sensitive_columns, $rows_returned,
    $allowed, $reason
)
