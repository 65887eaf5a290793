-- Snapshots older than the retention stop being reachable by time travel.
CALL ducklake_expire_snapshots($lake, older_than => now() - to_days($retention_days))
