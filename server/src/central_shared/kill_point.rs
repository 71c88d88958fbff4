//! Named places inside a central's work where the tests kill a replica with `kill -9`, for
//! places no request marks (inside the integration transaction, after the records are written
//! and before the commit): the relay in front of the replicas can hold a request, but not the
//! work a request started in the background. The central's counterpart of the site's
//! `site::sync::kill_point`.
//!
//! Test-only: with `OUTPOST_TEST_CENTRAL_KILL_POINT=<name>=<file>` in the environment, the first
//! replica to reach the point named `<name>` creates `<file>` (holding its process id) and then
//! waits forever, so the test knows which replica is there and kills it. The file is created
//! only if it does not exist yet: replicas started with the same variable stop at most once
//! between them, so the replica that takes the work over runs through. Nothing happens when the
//! variable is unset (always, outside the tests).
//!
//! Only in builds with the `test-kill-points` feature (the tests'; `crate::kill_point`): any
//! other binary ignores the variable, so an
//! environment a service manager passes on can neither wedge a production central nor make it
//! write a file wherever the variable says.

/// The environment variable the tests set.
pub const ENV: &str = "OUTPOST_TEST_CENTRAL_KILL_POINT";

/// Stop here forever when a test asked for `name` and no replica stopped there yet.
pub async fn reached(name: &str) {
    let Some(marker) = crate::kill_point::asked(ENV, name) else { return };
    let created = std::fs::OpenOptions::new().write(true).create_new(true).open(&marker);
    let Ok(mut file) = created else { return };
    use std::io::Write;
    if let Err(e) = write!(file, "{}", std::process::id()) {
        tracing::error!(error = %e, marker, "cannot write the kill point marker");
    }
    drop(file);
    std::future::pending::<()>().await;
}
