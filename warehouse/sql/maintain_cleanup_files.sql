-- Files no snapshot refers to any more are deleted once they are older than the grace period.
CALL ducklake_cleanup_old_files($lake, older_than => now() - to_hours($grace_hours))
