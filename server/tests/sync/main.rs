//! The site's sync engine against the real centrals: a run's steps (prepare, push, pull,
//! integrate), its errors and retries, resuming, the driver (Sync now!, intervals) and the
//! status it reports. Integration cut short part-way and the status route's query plans are in
//! `sync_serial`, which runs its tests one at a time.

mod driver;
mod errors;
mod history;
mod metrics;
mod pages;
mod prepare;
mod quarantine;
mod resume;
mod run;
mod status;
