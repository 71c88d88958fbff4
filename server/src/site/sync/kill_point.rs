//! Named places inside a run where the crash harness (`server/tests/reliability/crash`) kills
//! the site with `kill -9`, for places no request marks (inside a transaction, between two
//! writes): the relay in front of the centrals can hold a request, but not a local commit.
//!
//! Test-only: with `OUTPOST_TEST_KILL_POINT=<name>=<file>` in the environment, the run that
//! reaches the point named `<name>` creates `<file>` and then waits forever, so the test knows
//! the site is there and kills it. Nothing happens when the variable is unset (always, outside
//! the tests); it is read each time, so a restarted site without it runs through.
//!
//! Only in builds with the `test-kill-points` feature (the tests'; `crate::kill_point`): any
//! other binary ignores the variable, so an
//! environment a service manager passes on can neither wedge a production site's sync run
//! forever nor make it write a file wherever the variable says.

/// The environment variable the crash harness sets.
pub const ENV: &str = "OUTPOST_TEST_KILL_POINT";

/// Stop here forever when the crash harness asked for `name` (see the module doc).
pub async fn reached(name: &str) {
    let Some(marker) = crate::kill_point::asked(ENV, name) else { return };
    if let Err(e) = std::fs::write(&marker, name) {
        tracing::error!(error = %e, marker, "cannot write the kill point marker");
    }
    std::future::pending::<()>().await;
}
