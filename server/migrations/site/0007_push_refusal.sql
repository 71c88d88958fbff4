-- Outgoing records a central refused (issue 11): the push cursor moves past them so they never
-- block a run, and they stay here, with the central's reason, until the site sends the record
-- again and it is accepted, or a pull replaces it or moves its store to another site.
CREATE TABLE sync_push_refusal (
    table_name TEXT NOT NULL,
    record_id TEXT NOT NULL,
    -- 'v5' or 'v6': the central that refused it.
    central TEXT NOT NULL,
    store_id TEXT,
    reason TEXT NOT NULL,
    refused_datetime TEXT NOT NULL,
    PRIMARY KEY (table_name, record_id)
);
