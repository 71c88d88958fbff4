-- Push buffers cleared by what was read, and never an older copy over a newer one (issue 11).
-- version: the site's changelog cursor of the pushed copy (V6 `cursor`, V5 `syncOutId`; 0 when
-- the site sent none), which grows with every change the site makes to a record. Integration
-- deletes exactly the (record, version) it read, so a copy pushed meanwhile stays buffered.
ALTER TABLE push_buffer ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

-- The newest version of each record of a site that integration has handled: a late duplicate of
-- an older batch (a request delivered twice, the second long after) is then recognised as older
-- and dropped instead of applied over the newer copy. Cleared when the site starts again from
-- an empty database (its changelog cursors restart).
CREATE TABLE push_applied (
    site_id BIGINT NOT NULL,
    table_name TEXT NOT NULL,
    record_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (site_id, table_name, record_id)
);
