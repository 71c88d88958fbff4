//! Background integration of a site's push buffer, the same way on both centrals: the site is
//! marked integrating (so it is answered "sync is running" / `integrationInProgress` meanwhile),
//! the work runs on its own task behind the integration gate, and the push that asked for it
//! waits a little for it to finish.
//!
//! On PostgreSQL the mark is a claim row that every replica sees (`activity`), and the
//! integration transaction itself is made exactly-once by [`lock_site`]: a replica that took
//! over an orphaned claim, and one that stalled past its lease, integrate one after the other,
//! and the second reads only what the first left (integration deletes exactly what it read).

use std::future::Future;

use super::INTEGRATION_WAIT;
use super::activity::{Activities, Activity};
use super::push_refused;
use crate::db::{Backend, CentralDb};

/// How long an integration waits for its site's lock before it lets go of its transaction and
/// tries again later ([`retry_while_site_locked`]). The lock is held by another integration of
/// the site only after a takeover: the replica that stalled past its lease still integrates (it
/// will commit, or PostgreSQL ends its session once it has sat idle in its transaction for
/// `db::SessionLimits::idle_in_transaction`). Waiting in short turns, without a connection
/// between them, keeps a takeover from holding one of its pool's connections for that long.
pub const SITE_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The longest pause between two tries of an integration whose site was locked.
const SITE_LOCK_BACKOFF_MAX: std::time::Duration = std::time::Duration::from_secs(5);

/// Inside an integration transaction, before reading the site's push buffer: on PostgreSQL,
/// take the site's integration lock for the rest of the transaction, so two integrations of
/// one site (on two replicas) never read the same buffer; the lock goes with the transaction,
/// or with the connection of a replica that died holding it. SQLite has one writer anyway.
///
/// The wait is bounded by [`SITE_LOCK_WAIT`]: past it the statement fails (the transaction
/// with it), and [`is_site_locked`] says so; the caller tries again later.
pub async fn lock_site(conn: &mut sqlx::AnyConnection, backend: Backend, site_id: i64) -> sqlx::Result<()> {
    if backend == Backend::Postgres {
        let wait_ms = SITE_LOCK_WAIT.as_millis().to_string();
        sqlx::query("SELECT set_config('lock_timeout', $1, true)").bind(wait_ms).execute(&mut *conn).await?;
        let sql = super::activity::site_lock_sql("pg_advisory_xact_lock", site_id);
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(site_id).execute(&mut *conn).await?;
        // The rest of the transaction waits as any other (the change log's lock, rows).
        sqlx::query("SELECT set_config('lock_timeout', '0', true)").execute(&mut *conn).await?;
    }
    Ok(())
}

/// Whether `error` carries PostgreSQL's SQLSTATE `code`.
fn has_sqlstate(error: &anyhow::Error, code: &str) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<sqlx::Error>()
            .and_then(|e| e.as_database_error())
            .is_some_and(|e| e.code().as_deref() == Some(code))
    })
}

/// Whether `error` is PostgreSQL's `lock_not_available` (a `lock_timeout` ran out), as
/// [`lock_site`] fails when another integration of the site holds its lock.
pub fn is_site_locked(error: &anyhow::Error) -> bool {
    has_sqlstate(error, "55P03")
}

/// Whether PostgreSQL ended `error`'s transaction to break a deadlock (`deadlock_detected`).
/// An integration locks many record rows, in the order the site pushed them; a change made on
/// the central at the same moment (admin, another site's push of a shared record) may lock two
/// of them the other way round. PostgreSQL then rolls one of the two back; nothing of it was
/// applied, and the same integration run again simply succeeds.
pub fn is_deadlock(error: &anyhow::Error) -> bool {
    has_sqlstate(error, "40P01")
}

/// How many times one integration is run again after PostgreSQL chose it to break a deadlock,
/// before its failure is reported (the site's next run tries again).
const DEADLOCK_RETRIES: u32 = 3;

/// Run `attempt` (an integration) until it ends other than on a site held by another
/// integration ([`is_site_locked`]), pausing between tries (doubling up to a few seconds) with
/// no connection held, or on a deadlock ([`is_deadlock`], up to [`DEADLOCK_RETRIES`] times).
/// The claim on the site stays this replica's meanwhile, so the site is told "integrating",
/// which it is.
pub async fn retry_while_site_locked<F, Fut>(site_id: i64, mut attempt: F) -> anyhow::Result<usize>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<usize>>,
{
    let mut pause = std::time::Duration::from_millis(250);
    let mut deadlocks = 0;
    loop {
        match attempt().await {
            Err(e) if is_site_locked(&e) => {
                tracing::info!(site_id, "another integration of the site still holds its lock; trying again later");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(SITE_LOCK_BACKOFF_MAX);
            }
            Err(e) if is_deadlock(&e) && deadlocks < DEADLOCK_RETRIES => {
                deadlocks += 1;
                tracing::info!(site_id, deadlocks, "integration rolled back to break a deadlock; running it again");
            }
            other => return other,
        }
    }
}

async fn clear(db: &CentralDb, site_id: i64) -> sqlx::Result<()> {
    let mut conn = db.pool.acquire().await?;
    push_refused::clear_failure(&mut conn, site_id).await
}

async fn remember(db: &CentralDb, site_id: i64, told: &str) -> sqlx::Result<()> {
    let mut conn = db.pool.acquire().await?;
    push_refused::set_failure(&mut conn, site_id, told).await
}

/// Start `integrate` for `site_id` on its own task and wait up to [`INTEGRATION_WAIT`] for it.
/// `Ok(Err)` with what the site is already doing when it is busy (on PostgreSQL: on any
/// replica); nothing is started then. A claim orphaned by a dead replica is taken over.
///
/// A site's next call is a status poll, repeated until it sees the integration end. A push of a
/// usual size integrates in milliseconds, so answering once it has (or after a short while)
/// lets the first poll find the site idle, and a fleet of sites does not spend its round trips
/// polling. Integration runs to its end either way; a failure is logged and reported by
/// `site_status` until the next integration starts (kept in the database table
/// `integration_failure`, so a restart or another replica still reports it). The buffer stays,
/// so the next final push integrates it again.
pub async fn integrate_in_background<F>(
    activities: &Activities,
    metrics: &super::metrics::Metrics,
    db: &CentralDb,
    site_id: i64,
    role: &'static str,
    integrate: F,
) -> sqlx::Result<Result<(), Activity>>
where
    F: Future<Output = anyhow::Result<usize>> + Send + 'static,
{
    let busy = match activities.begin(site_id, Activity::Integrating).await? {
        Ok(busy) => busy,
        Err(current) => return Ok(Err(current)),
    };
    let (activities, metrics, db) = (activities.clone(), metrics.clone(), db.clone());
    let (done, finished) = tokio::sync::oneshot::channel::<()>();
    // Spawned right after the claim, with nothing awaited between: a caller that hangs up
    // meanwhile would drop the claim with its future, and the work it stands for with it (the
    // next poll found the site idle, its buffer never integrated).
    tokio::spawn(async move {
        // The last failure is no longer news once another integration starts. If this cannot
        // be cleared the integration still runs; a success clears it below.
        if let Err(e) = clear(&db, site_id).await {
            tracing::warn!(site_id, error = %e, "could not clear the last integration failure");
        }
        let _permit = activities.integration_permit().await;
        let started = std::time::Instant::now();
        let result = integrate.await;
        metrics.integrated(started.elapsed(), result.is_ok());
        match result {
            Err(e) => {
                // Logged under an id (by `internal_message`); the site is told that it failed and where to look, not the internals.
                let told = super::error::internal_message(role, &e.context("integration of pushed records failed"));
                if let Err(e) = remember(&db, site_id, &told).await {
                    tracing::error!(site_id, error = %e, "could not store the integration failure for site_status");
                }
            }
            Ok(_) => {
                if let Err(e) = clear(&db, site_id).await {
                    tracing::warn!(site_id, error = %e, "could not clear the last integration failure");
                }
            }
        }
        busy.release().await;
        let _ = done.send(());
    });
    let _ = tokio::time::timeout(INTEGRATION_WAIT, finished).await;
    Ok(Ok(()))
}
