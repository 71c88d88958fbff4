-- How many bytes (table name + record id + JSON text) each site holds in the push buffer, kept
-- with every change to it, so a push is checked against the per-site cap without summing the
-- buffer. Rows already waiting are counted once here.
CREATE TABLE push_buffer_usage (
    site_id BIGINT PRIMARY KEY,
    bytes BIGINT NOT NULL
);
INSERT INTO push_buffer_usage (site_id, bytes)
SELECT site_id, SUM(octet_length(table_name) + octet_length(record_id) + COALESCE(octet_length(data), 0)) FROM push_buffer GROUP BY site_id;
