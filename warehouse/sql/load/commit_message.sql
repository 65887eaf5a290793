-- Label the snapshot this transaction commits (none is made if it writes nothing), so
-- `lake.snapshots()` says which batch each snapshot loaded.
SELECT * FROM lake.set_commit_message($author, $message, extra_info => $extra_info)
