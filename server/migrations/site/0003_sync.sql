-- The sync engine's bookkeeping: received records waiting for (or failed at) integration,
-- and one log row per run with one row per step.

-- Keyed by table AND record id (the reference keys by record id alone, so two tables sharing
-- an id would overwrite each other). A newer copy of a record replaces the older pending or
-- failed one, which is also how a quarantined record gets fixed from the central.
CREATE TABLE sync_buffer (
    table_name TEXT NOT NULL,
    record_id TEXT NOT NULL,
    -- Which protocol's shape `data` has: 'v5' (legacy field names) or 'v6' (snake_case row).
    source TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('UPSERT', 'DELETE', 'MERGE')),
    data TEXT,
    source_site_id INTEGER,
    received_datetime TEXT NOT NULL,
    integration_datetime TEXT,
    integration_error TEXT,
    PRIMARY KEY (table_name, record_id)
);

-- Integration only ever looks at rows still to do (pending or quarantined); a partial index
-- keeps that lookup independent of how many records were ever received.
CREATE INDEX sync_buffer_to_integrate ON sync_buffer (table_name, action)
    WHERE integration_datetime IS NULL OR integration_error IS NOT NULL;

CREATE TABLE sync_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_datetime TEXT NOT NULL,
    finished_datetime TEXT,
    duration_in_seconds REAL,
    error_code TEXT,
    error_message TEXT,
    error_full TEXT,
    error_hint TEXT,
    error_step TEXT
);

CREATE TABLE sync_log_step (
    sync_log_id INTEGER NOT NULL REFERENCES sync_log (id) ON DELETE CASCADE,
    step TEXT NOT NULL,
    started_datetime TEXT,
    finished_datetime TEXT,
    progress_total INTEGER,
    progress_done INTEGER,
    skipped INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (sync_log_id, step)
);

-- "Last successful sync" without scanning every run ever made.
CREATE INDEX sync_log_successful ON sync_log (id) WHERE finished_datetime IS NOT NULL AND error_code IS NULL;
