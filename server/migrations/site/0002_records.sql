-- The synced tables and their changelog.
--
-- Modelled V5/V6 fields are real columns; every other field a central sends is kept verbatim in
-- `legacy_extra` (V5 tables) or `v6_extra` (asset), a JSON object, so a push sends back exactly
-- what came in. Optional references that point nowhere are stored as NULL (the original value is
-- then kept in the extra column); required parents are enforced by foreign keys. Every foreign-key
-- column is indexed, because SQLite scans the child table on each parent delete otherwise.

CREATE TABLE unit (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT,
    comment TEXT,
    order_number INTEGER,
    legacy_extra TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE item (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT,
    code TEXT,
    unit_id TEXT REFERENCES unit (id),
    type TEXT,
    default_pack_size REAL,
    legacy_extra TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX item_unit_id ON item (unit_id);

CREATE TABLE name (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT,
    code TEXT,
    type TEXT,
    is_customer INTEGER,
    is_supplier INTEGER,
    -- Not a foreign key: store refers to name, so name cannot refer back to store.
    supplying_store_id TEXT,
    legacy_extra TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE store (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT,
    code TEXT,
    name_id TEXT REFERENCES name (id),
    -- V5 `sync_id_remote_site`: the site that owns this store's data.
    site_id INTEGER,
    store_mode TEXT,
    disabled INTEGER,
    legacy_extra TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX store_name_id ON store (name_id);
CREATE INDEX store_site_id ON store (site_id);

CREATE TABLE name_store_join (
    id TEXT PRIMARY KEY NOT NULL,
    name_id TEXT NOT NULL REFERENCES name (id),
    store_id TEXT NOT NULL REFERENCES store (id),
    inactive INTEGER,
    legacy_extra TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX name_store_join_name_id ON name_store_join (name_id);
CREATE INDEX name_store_join_store_id ON name_store_join (store_id);

CREATE TABLE location (
    id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT NOT NULL REFERENCES store (id),
    code TEXT,
    name TEXT,
    on_hold INTEGER,
    legacy_extra TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX location_store_id ON location (store_id);

CREATE TABLE stock_line (
    id TEXT PRIMARY KEY NOT NULL,
    item_id TEXT NOT NULL REFERENCES item (id),
    store_id TEXT NOT NULL REFERENCES store (id),
    location_id TEXT REFERENCES location (id),
    supplier_id TEXT REFERENCES name (id),
    batch TEXT,
    expiry_date TEXT,
    pack_size REAL,
    available_number_of_packs REAL,
    total_number_of_packs REAL,
    cost_price_per_pack REAL,
    sell_price_per_pack REAL,
    on_hold INTEGER,
    note TEXT,
    legacy_extra TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX stock_line_item_id ON stock_line (item_id);
CREATE INDEX stock_line_store_id ON stock_line (store_id);
CREATE INDEX stock_line_location_id ON stock_line (location_id);
CREATE INDEX stock_line_supplier_id ON stock_line (supplier_id);

CREATE TABLE invoice (
    id TEXT PRIMARY KEY NOT NULL,
    name_id TEXT NOT NULL REFERENCES name (id),
    store_id TEXT NOT NULL REFERENCES store (id),
    type TEXT,
    status TEXT,
    invoice_number INTEGER,
    created_date TEXT,
    their_reference TEXT,
    comment TEXT,
    legacy_extra TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX invoice_name_id ON invoice (name_id);
CREATE INDEX invoice_store_id ON invoice (store_id);

CREATE TABLE invoice_line (
    id TEXT PRIMARY KEY NOT NULL,
    invoice_id TEXT NOT NULL REFERENCES invoice (id),
    -- The invoice's store, copied on write: the changelog and the push filter need the owning
    -- store of a line without a join.
    store_id TEXT REFERENCES store (id),
    item_id TEXT NOT NULL REFERENCES item (id),
    stock_line_id TEXT REFERENCES stock_line (id),
    location_id TEXT REFERENCES location (id),
    item_name TEXT,
    type TEXT,
    batch TEXT,
    expiry_date TEXT,
    pack_size REAL,
    number_of_packs REAL,
    cost_price_per_pack REAL,
    sell_price_per_pack REAL,
    line_number INTEGER,
    note TEXT,
    legacy_extra TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX invoice_line_invoice_id ON invoice_line (invoice_id);
CREATE INDEX invoice_line_store_id ON invoice_line (store_id);
CREATE INDEX invoice_line_item_id ON invoice_line (item_id);
CREATE INDEX invoice_line_stock_line_id ON invoice_line (stock_line_id);
CREATE INDEX invoice_line_location_id ON invoice_line (location_id);

-- V6 only (snake_case rows); pushed to the V6 central.
CREATE TABLE asset (
    id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT NOT NULL REFERENCES store (id),
    code TEXT,
    serial_number TEXT,
    notes TEXT,
    created_datetime TEXT,
    modified_datetime TEXT,
    v6_extra TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX asset_store_id ON asset (store_id);

-- One row per change of a synced table, written in the same transaction as the change.
CREATE TABLE changelog (
    cursor INTEGER PRIMARY KEY AUTOINCREMENT,
    table_name TEXT NOT NULL,
    record_id TEXT NOT NULL,
    row_action TEXT NOT NULL CHECK (row_action IN ('UPSERT', 'DELETE')),
    store_id TEXT,
    is_sync_update INTEGER NOT NULL DEFAULT 0,
    source_site_id INTEGER
);
-- The latest row of a record: the dedup view's correlated MAX(cursor) is one index probe.
CREATE INDEX changelog_table_record_cursor ON changelog (table_name, record_id, cursor);
-- Counting and selecting what a push will send from a cursor: local rows only, in cursor order.
CREATE INDEX changelog_local_cursor ON changelog (is_sync_update, cursor);

-- Only the latest change of each record: many edits of one record push one record, and a
-- received copy that arrives after a local edit (is_sync_update = 1) hides the edit.
CREATE VIEW changelog_deduped AS
SELECT c.cursor, c.table_name, c.record_id, c.row_action, c.store_id, c.is_sync_update, c.source_site_id
FROM changelog c
WHERE c.cursor = (
    SELECT MAX(d.cursor) FROM changelog d
    WHERE d.table_name = c.table_name AND d.record_id = c.record_id
);
