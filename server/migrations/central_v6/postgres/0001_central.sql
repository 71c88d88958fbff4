-- The Open mSupply (V6) central: current rows, their change log, and per-site push buffers.

-- Current state of every V6 row, serialised with its own snake_case columns.
CREATE TABLE record (
    table_name TEXT NOT NULL,
    record_id TEXT NOT NULL,
    store_id TEXT,
    data TEXT NOT NULL,
    PRIMARY KEY (table_name, record_id)
);

-- The change log pull pages through. source_site_id: the site whose push produced the row
-- (NULL for rows authored on the central), so an initialised site does not get its own back.
CREATE TABLE changelog (
    cursor BIGSERIAL PRIMARY KEY,
    table_name TEXT NOT NULL,
    record_id TEXT NOT NULL,
    row_action TEXT NOT NULL,
    store_id TEXT,
    source_site_id BIGINT
);
CREATE INDEX changelog_record ON changelog (table_name, record_id, cursor);

-- Records a site pushed, integrated in the background once the last batch arrives.
CREATE TABLE sync_buffer (
    site_id BIGINT NOT NULL,
    table_name TEXT NOT NULL,
    record_id TEXT NOT NULL,
    action TEXT NOT NULL,
    store_id TEXT,
    data TEXT,
    PRIMARY KEY (site_id, table_name, record_id)
);
