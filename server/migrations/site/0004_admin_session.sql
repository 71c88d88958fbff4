-- Admin sessions of the site's browser app. Only a SHA-256 of each session token is kept, so a
-- copy of the database does not let anyone sign in. The admin password's Argon2id hash lives in
-- key_value_store (`admin_password_argon2id`).
CREATE TABLE admin_session (
    token_sha256 TEXT PRIMARY KEY NOT NULL,
    created_datetime TEXT NOT NULL,
    expires_datetime TEXT NOT NULL
);
