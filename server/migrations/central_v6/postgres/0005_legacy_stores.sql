-- What the V6 central learns as a V5 client of the legacy central (reference 3.4, "Other
-- duties"): which site each store is active on (from the `store` records of Pull Central), the
-- cursor of that pull, and the hardware id it signs in with.
CREATE TABLE legacy_store (
    store_id TEXT PRIMARY KEY NOT NULL,
    site_id BIGINT
);
CREATE INDEX legacy_store_site ON legacy_store (site_id);

CREATE TABLE legacy_client (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
