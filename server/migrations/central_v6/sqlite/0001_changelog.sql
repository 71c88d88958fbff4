-- The V6 central's change log (filled in by the central-servers issue).
CREATE TABLE central_meta (
    id TEXT PRIMARY KEY NOT NULL,
    value TEXT
);
