-- Settings, cursors and the site's identity, one row per key.
CREATE TABLE key_value_store (
    id TEXT PRIMARY KEY NOT NULL,
    value_string TEXT,
    value_int INTEGER
);
