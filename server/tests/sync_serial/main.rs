//! Sync tests that need the process to themselves, so each takes [`ONE_AT_A_TIME`]: the status
//! route's query plans (a process-wide subscriber records every SQL statement run meanwhile),
//! and integration cut short part-way (a 150 ms stall watchdog against a busy SQLite, whose
//! timing other tests' load in the same process would skew).

mod integration;
mod status_plans;

/// Held for the whole of every test of this binary.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
