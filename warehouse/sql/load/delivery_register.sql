-- A delivery stored in the raw zone, recorded once per content (sha256).
INSERT INTO lake.meta.deliveries (
    sha256, feed, source, raw_path, size_bytes, received_at, resource
)
SELECT $sha256, $feed, $source, $raw_path, $size_bytes, $received_at, $resource
WHERE NOT EXISTS (SELECT 1 FROM lake.meta.deliveries AS d WHERE d.sha256 = $sha256)
