-- No progress bar on a loader's own connection: it would land in the task logs.
SET enable_progress_bar = false
