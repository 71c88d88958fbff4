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

/// Inside an integration transaction, before reading the site's push buffer: on PostgreSQL,
/// take the site's integration lock for the rest of the transaction, so two integrations of
/// one site (on two replicas) never read the same buffer; the lock goes with the transaction,
/// or with the connection of a replica that died holding it. SQLite has one writer anyway.
pub async fn lock_site(conn: &mut sqlx::AnyConnection, backend: Backend, site_id: i64) -> sqlx::Result<()> {
    if backend == Backend::Postgres {
        // The two-key form, with a constant first key of our own ('OPIN'), keeps site ids
        // apart from any other advisory lock on the database. Its second key is an INTEGER,
        // and site ids are BIGINT (`--site-id` takes any): a larger id takes the one-key form
        // with the id itself, whose key space PostgreSQL keeps apart from the two-key one, so
        // no two sites share a lock, and replicas of an older version lock the ids they can.
        let sql = if i32::try_from(site_id).is_ok() {
            "SELECT pg_advisory_xact_lock(1330661710, CAST($1 AS INTEGER))"
        } else {
            "SELECT pg_advisory_xact_lock(CAST($1 AS BIGINT))"
        };
        sqlx::query(sql).bind(site_id).execute(conn).await?;
    }
    Ok(())
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
