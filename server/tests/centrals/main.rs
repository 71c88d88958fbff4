//! The central servers as a site meets them: the V5 (legacy) central's sync API and admin
//! commands, and the V6 central's, each on SQLite and (when `OUTPOST_TEST_POSTGRES_URL` is set)
//! PostgreSQL.

mod v5;
mod v6;
