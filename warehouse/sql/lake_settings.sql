-- What the catalog itself records: its kind, the extension version, its data path.
SELECT catalog_type, extension_version, data_path
FROM ducklake_settings($lake)
