-- Sites known to the legacy central (filled in by the central-servers issue).
CREATE TABLE site (
    site_id BIGINT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE
);
