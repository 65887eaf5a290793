-- Files in the data path the catalog never took: a load killed between placing its versions
-- file and COMMIT leaves one. Only files older than a day go, so a load still running keeps
-- its own.
CALL ducklake_delete_orphaned_files($lake, older_than => now() - to_hours($orphan_hours))
