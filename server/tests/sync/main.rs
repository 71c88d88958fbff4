//! The site's sync engine against the real centrals: a run's steps (prepare, push, pull,
//! integrate), its errors and retries, resuming, the driver (Sync now!, intervals) and the
//! status it reports.

mod driver;
mod errors;
mod integration;
mod prepare;
mod quarantine;
mod resume;
mod run;
mod status;
