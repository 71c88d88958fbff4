-- How many bytes (table name + record id + JSON text) each site holds in the push buffer, kept
-- with every change to it, so a push is checked against the per-site cap without summing the
-- buffer. Rows already waiting are counted once here.
CREATE TABLE push_buffer_usage (
    site_id BIGINT PRIMARY KEY,
    bytes BIGINT NOT NULL
);
INSERT INTO push_buffer_usage (site_id, bytes)
SELECT site_id, SUM(length(CAST(table_name AS BLOB)) + length(CAST(record_id AS BLOB)) + COALESCE(length(CAST(data AS BLOB)), 0)) FROM push_buffer GROUP BY site_id;
