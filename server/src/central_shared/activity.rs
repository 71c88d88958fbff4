//! Which sites are busy right now (initialising their queue, or integrating what they pushed).
//! The reference answers `sync_is_running` (503) to a site while either runs, and reports it
//! through `site_status`; this is that bookkeeping. What outlives the work (a failed
//! integration, the records it refused) is in the database: `central_shared::push_refused`.
//!
//! # One process, or several replicas
//!
//! On SQLite a central is one process, and the bookkeeping is in its memory.
//!
//! On PostgreSQL several replicas may serve one database behind a load balancer, and a site's
//! next call (a `site_status` poll, its next push) may reach any of them, so the claim is a row
//! (`site_activity`: the site, what runs, the replica that runs it, and a lease). A replica
//! claims a site with one conditional upsert that only succeeds when no live claim exists, so
//! two replicas never run work for one site at once; while the work runs, the claim's lease is
//! renewed every third of [`DEFAULT_LEASE`] (or `--integration-lease-secs`), and it is deleted
//! when the work ends. Every replica reads the row, so any of them answers `site_status`
//! truthfully.
//!
//! A replica killed mid-work (`kill -9`, a lost machine) leaves its claim behind, and the
//! lease then runs out: the claim is *orphaned* ([`Busy::orphaned`]). The work it stood for is
//! still owed (a push buffer that was never integrated: the killed integration's transaction
//! rolled back with its connection, so nothing of it was applied), and the site is still told
//! the work runs. The next replica the site (or anyone) asks about that site takes the work over
//! ([`Activities::begin`] succeeds on an orphaned claim), so the site's own status polls, which
//! continue until it sees the central idle, are what drive a takeover: no background sweeper,
//! and no buffer waits longer than a lease plus one poll. Integration is exactly-once on top of
//! this by its own transaction (see `integration`): it takes a per-site transaction lock, and
//! deletes exactly the buffered copies it read, so two integrations of one site (a replica that
//! stalled past its lease and the one that took over) run one after the other and the second
//! finds only what the first did not apply.
//!
//! # Renewals and takeovers under load
//!
//! A replica renews all its claims at once, with one statement, from one task on a connection
//! of its own (not one of the pool's): renewals that waited for a pool drained by busy requests
//! were late past the lease, so a live replica lost its claims and the takeovers that followed
//! added load (review finding 6). Before a claim is made, the site's integration lock is tried
//! without waiting (`pg_try_advisory_xact_lock`): held means an integration of the site still
//! runs (a replica that stalled past its lease, but is alive), so the site is answered busy and
//! no integration is started to block on it. A replica that stopped without closing its
//! connections has its session ended by PostgreSQL (`db::SessionLimits`), and its lock with it.
//!
//! A preparation (many transactions) is fenced by its claim: each chunk checks, in its own
//! transaction, that the claim is still this replica's ([`BusyGuard::fence`]), and stops when
//! it is not, so a preparation taken over never runs twice at once (review finding 5).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sqlx::{AnyConnection, ConnectOptions};

use tokio::sync::{OwnedRwLockWriteGuard, RwLock};

use crate::db::{Backend, CentralDb};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Initialising,
    Integrating,
}

impl Activity {
    fn as_str(self) -> &'static str {
        match self {
            Activity::Initialising => "initialising",
            Activity::Integrating => "integrating",
        }
    }

    fn parse(s: &str) -> Activity {
        if s == "initialising" { Activity::Initialising } else { Activity::Integrating }
    }
}

/// What a site is busy with, and whether the replica running it is gone (its lease ran out:
/// the work is owed, and the next replica asked takes it over).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    pub activity: Activity,
    pub orphaned: bool,
}

/// How long a replica's claim on a site lives without being renewed: a replica that died is
/// taken over this long after its last renewal at most. Renewed every third of it, so a
/// replica must stall for two renewals (a database unreachable for seconds) before another
/// may start the same work; integration stays exactly-once even then (see the module doc).
/// Defined with the database sessions' limits, which derive from it ([`crate::db::SessionLimits`]).
pub const DEFAULT_LEASE: Duration = crate::db::DEFAULT_LEASE;

/// The advisory lock of `site_id`'s integration, as `pg_advisory_xact_lock` (or `lock_fn`)
/// takes it. The two-key form, with a constant first key of our own ('OPIN'), keeps site ids
/// apart from any other advisory lock on the database. Its second key is an INTEGER, and site
/// ids are BIGINT (`--site-id` takes any): a larger id takes the one-key form with the id
/// itself, whose key space PostgreSQL keeps apart from the two-key one, so no two sites share a
/// lock, and replicas of an older version lock the ids they can.
pub(crate) fn site_lock_sql(lock_fn: &str, site_id: i64) -> String {
    if i32::try_from(site_id).is_ok() {
        format!("SELECT {lock_fn}(1330661710, CAST($1 AS INTEGER))")
    } else {
        format!("SELECT {lock_fn}(CAST($1 AS BIGINT))")
    }
}

/// The database clock in milliseconds: every replica compares leases against one clock.
const NOW_MS: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

#[derive(Clone)]
struct Shared {
    db: CentralDb,
    /// This replica, as its claims name it.
    owner: Arc<str>,
    lease: Duration,
    renewals: Arc<Renewals>,
}

/// The claims this replica renews, and whether its renewal task runs.
#[derive(Default)]
struct Renewals {
    held: Mutex<HashSet<i64>>,
    started: AtomicBool,
}

/// Thrown when a claim this replica held is no longer its own (taken over): work that spans
/// many transactions stops on it (see [`BusyGuard::fence`]).
#[derive(Debug, thiserror::Error)]
#[error("the claim on site {0} was taken over by another replica; this replica stopped its work")]
pub struct ClaimLost(pub i64);

#[derive(Clone, Default)]
pub struct Activities {
    busy: Arc<Mutex<HashMap<i64, Activity>>>,
    /// Integration takes this for reading; tests hold it for writing to freeze integration at a
    /// known point and observe the "integrating" state deterministically (in this process).
    gate: Arc<RwLock<()>>,
    /// On PostgreSQL: the claims are rows (see the module doc).
    shared: Option<Shared>,
}

/// Marks a site busy until released (or dropped).
pub struct BusyGuard {
    busy: Arc<Mutex<HashMap<i64, Activity>>>,
    site_id: i64,
    /// On PostgreSQL: the claim's row, renewed (see [`Renewals`]) until released.
    shared: Option<Shared>,
}

impl BusyGuard {
    /// Inside a transaction of work that spans several (a preparation): fail with [`ClaimLost`]
    /// unless the claim is still this replica's, and keep it so until the transaction ends
    /// (`FOR SHARE`: a takeover's upsert of the row waits for this transaction), so nothing this
    /// transaction writes lands after another replica took the work over. Nothing on SQLite
    /// (one process; nothing takes a claim over).
    pub async fn fence(&self, conn: &mut AnyConnection) -> anyhow::Result<()> {
        let Some(shared) = &self.shared else { return Ok(()) };
        let ours: Option<i64> =
            sqlx::query_scalar("SELECT site_id FROM site_activity WHERE site_id = $1 AND owner = $2 FOR SHARE")
                .bind(self.site_id)
                .bind(&*shared.owner)
                .fetch_optional(conn)
                .await?;
        match ours {
            Some(_) => Ok(()),
            None => Err(ClaimLost(self.site_id).into()),
        }
    }

    /// End the claim now (on PostgreSQL: delete its row, so the next poll finds the site idle).
    pub async fn release(mut self) {
        if let Some(shared) = self.shared.take() {
            shared.renewals.forget(self.site_id);
            if let Err(e) = delete_claim(&shared, self.site_id).await {
                // The lease runs out by itself; the site is told "busy" until then, and the
                // replica it asks next finds the claim orphaned and runs the (then empty) work.
                tracing::warn!(site_id = self.site_id, error = %e, "could not end the claim on a site");
            }
        }
    }
}

async fn delete_claim(shared: &Shared, site_id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM site_activity WHERE site_id = $1 AND owner = $2")
        .bind(site_id)
        .bind(&*shared.owner)
        .execute(&shared.db.pool)
        .await?;
    Ok(())
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.busy.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.site_id);
        if let Some(shared) = self.shared.take() {
            shared.renewals.forget(self.site_id);
            let site_id = self.site_id;
            // Dropped without `release` (a task cancelled): end the claim as soon as possible.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = delete_claim(&shared, site_id).await;
                });
            }
        }
    }
}

impl Activities {
    /// The bookkeeping for `db`: in this process on SQLite, in `site_activity` on PostgreSQL,
    /// with claims that live `lease` without renewal.
    pub fn for_database(db: &CentralDb, lease: Duration) -> Activities {
        let shared = (db.backend == Backend::Postgres).then(|| Shared {
            db: db.clone(),
            owner: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()).into(),
            lease: lease.max(Duration::from_millis(300)),
            renewals: Default::default(),
        });
        Activities { shared, ..Default::default() }
    }

    /// What `site_id` is busy with, if anything (on PostgreSQL: whichever replica runs it).
    pub async fn current(&self, site_id: i64) -> sqlx::Result<Option<Busy>> {
        let Some(shared) = &self.shared else {
            let busy = self.busy.lock().unwrap_or_else(|e| e.into_inner()).get(&site_id).copied();
            return Ok(busy.map(|activity| Busy { activity, orphaned: false }));
        };
        let row: Option<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT activity, CASE WHEN lease_until < {NOW_MS} THEN 1 ELSE 0 END FROM site_activity WHERE site_id = $1"
        )))
        .bind(site_id)
        .fetch_optional(&shared.db.pool)
        .await?;
        Ok(row.map(|(activity, orphaned)| Busy { activity: Activity::parse(&activity), orphaned: orphaned == 1 }))
    }

    /// Mark `site_id` busy with `activity`, or return what it is already busy with. An orphaned
    /// claim (its replica is gone, see the module doc) is taken over.
    pub async fn begin(&self, site_id: i64, activity: Activity) -> sqlx::Result<Result<BusyGuard, Activity>> {
        let Some(shared) = &self.shared else {
            let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(current) = busy.get(&site_id) {
                return Ok(Err(*current));
            }
            busy.insert(site_id, activity);
            return Ok(Ok(BusyGuard { busy: self.busy.clone(), site_id, shared: None }));
        };
        let lease_ms = shared.lease.as_millis() as i64;
        let mut tx = shared.db.pool.begin().await?;
        // Held: an integration of the site runs (a replica past its lease, still alive), so the
        // site is busy; starting another would only wait for it, holding a connection.
        let sql = site_lock_sql("pg_try_advisory_xact_lock", site_id);
        let free: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(site_id).fetch_one(&mut *tx).await?;
        if !free {
            tx.rollback().await?;
            let current = self.current(site_id).await?;
            return Ok(Err(current.map_or(Activity::Integrating, |b| b.activity)));
        }
        // One statement: of replicas claiming at once, exactly one inserts (or replaces an
        // orphaned claim); the others' conflict finds a live claim and changes nothing.
        let claimed: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "INSERT INTO site_activity (site_id, activity, owner, lease_until) VALUES ($1, $2, $3, {NOW_MS} + $4)
             ON CONFLICT (site_id) DO UPDATE SET activity = excluded.activity, owner = excluded.owner,
             lease_until = excluded.lease_until WHERE site_activity.lease_until < {NOW_MS}
             RETURNING site_id"
        )))
        .bind(site_id)
        .bind(activity.as_str())
        .bind(&*shared.owner)
        .bind(lease_ms)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        if claimed.is_none() {
            let current = self.current(site_id).await?;
            // Gone between the two statements: busy a moment ago, so say so (the caller retries).
            return Ok(Err(current.map_or(activity, |b| b.activity)));
        }
        self.busy.lock().unwrap_or_else(|e| e.into_inner()).insert(site_id, activity);
        shared.renewals.hold(site_id);
        if !shared.renewals.started.swap(true, Ordering::SeqCst) {
            tokio::spawn(renew(
                Arc::downgrade(&shared.renewals),
                shared.db.clone(),
                shared.owner.clone(),
                shared.lease,
            ));
        }
        Ok(Ok(BusyGuard { busy: self.busy.clone(), site_id, shared: Some(shared.clone()) }))
    }

    /// Hold back every integration of this process until the guard is dropped (for tests and
    /// maintenance).
    pub async fn pause_integration(&self) -> OwnedRwLockWriteGuard<()> {
        self.gate.clone().write_owned().await
    }

    pub(crate) async fn integration_permit(&self) -> tokio::sync::OwnedRwLockReadGuard<()> {
        self.gate.clone().read_owned().await
    }
}

impl Renewals {
    fn hold(&self, site_id: i64) {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).insert(site_id);
    }

    fn forget(&self, site_id: i64) {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).remove(&site_id);
    }
}

/// Renew every claim of this replica (`owner`) every third of the lease, with one statement on
/// a connection of its own (opened with the pool's options, outside the pool, so a pool
/// drained by requests never delays a renewal). Ends once the replica's bookkeeping is gone.
async fn renew(renewals: Weak<Renewals>, db: CentralDb, owner: Arc<str>, lease: Duration) {
    let lease_ms = lease.as_millis() as i64;
    let mut conn: Option<AnyConnection> = None;
    loop {
        tokio::time::sleep(lease / 3).await;
        let Some(renewals) = renewals.upgrade() else { return };
        let held: Vec<i64> = renewals.held.lock().unwrap_or_else(|e| e.into_inner()).iter().copied().collect();
        if held.is_empty() {
            continue;
        }
        if conn.is_none() {
            match db.pool.connect_options().connect().await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::warn!(error = %e, "could not connect to renew this replica's claims");
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let renewed: sqlx::Result<Vec<i64>> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "UPDATE site_activity SET lease_until = {NOW_MS} + $2 WHERE owner = $1 RETURNING site_id"
        )))
        .bind(&*owner)
        .bind(lease_ms)
        .fetch_all(&mut *c)
        .await;
        match renewed {
            Ok(renewed) => {
                for site_id in held.into_iter().filter(|s| !renewed.contains(s)) {
                    // Released meanwhile, or taken over after this replica stalled past its
                    // lease: integration waits for this one's transaction and a preparation
                    // stops at its next chunk (see the module doc).
                    if renewals.held.lock().unwrap_or_else(|e| e.into_inner()).remove(&site_id) {
                        tracing::warn!(site_id, "the claim on a site was taken over by another replica");
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not renew this replica's claims");
                conn = None;
            }
        }
    }
}
