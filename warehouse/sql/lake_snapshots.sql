-- How many snapshots the lake has and which is the latest.
SELECT
    count(*) AS snapshots,
    max(snapshot_id) AS latest_snapshot_id,
    max(snapshot_time) AS latest_snapshot_at
FROM ducklake_snapshots($lake)
