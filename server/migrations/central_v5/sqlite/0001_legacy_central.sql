-- The legacy (V5) central: sites, central data, its global change log, per-site queues and
-- the per-site push buffer that integration drains.

-- A site that syncs with this central. The password is kept only as an Argon2id hash of the
-- lower-case hex SHA-256 the site sends; hardware_id is bound at the first successful call.
CREATE TABLE site (
    site_id BIGINT PRIMARY KEY NOT NULL,
    site_uuid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    code TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    hardware_id TEXT,
    initialisation_status TEXT NOT NULL DEFAULT 'new',
    om_supply_central_server_url TEXT NOT NULL DEFAULT ''
);

-- Every record the central holds, central or store-owned, as its legacy JSON.
-- store_id: the owning store (NULL for central data such as unit/item/name/store).
-- active_site_id: for store records only, the site the store is active on
-- (= recordData.sync_id_remote_site), so queries need no JSON functions.
CREATE TABLE record (
    table_name TEXT NOT NULL,
    record_id TEXT NOT NULL,
    store_id TEXT,
    active_site_id BIGINT,
    data TEXT NOT NULL,
    PRIMARY KEY (table_name, record_id)
);
CREATE INDEX record_store ON record (store_id, table_name);
CREATE INDEX record_active_site ON record (active_site_id);

-- The global change log of central data; its id is the cursor of central_records.
CREATE TABLE central_change (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    table_name TEXT NOT NULL,
    record_id TEXT NOT NULL,
    action TEXT NOT NULL,
    data TEXT
);

-- Each site's outgoing queue (sync_out). A row stays until the site acknowledges it.
CREATE TABLE sync_out (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id BIGINT NOT NULL,
    table_name TEXT NOT NULL,
    record_id TEXT NOT NULL,
    action TEXT NOT NULL,
    data TEXT
);
CREATE INDEX sync_out_site ON sync_out (site_id, id);

-- Records a site pushed, waiting for the "integrate now" signal (a push with queueLength 0).
CREATE TABLE push_buffer (
    site_id BIGINT NOT NULL,
    table_name TEXT NOT NULL,
    record_id TEXT NOT NULL,
    action TEXT NOT NULL,
    store_id TEXT,
    data TEXT,
    PRIMARY KEY (site_id, table_name, record_id)
);
