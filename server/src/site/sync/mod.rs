//! The site's sync engine: a driver that decides when to run ([`driver`]), a run that walks the
//! steps in the reference's order ([`run`], [`steps`]) from a [`plan`] read once as it starts,
//! and what people watch: the in-memory [`progress`] model (published by the run alone), the
//! [`run_log`] on disk (`sync_log`, crash recovery), the [`view`] the routes under
//! `/api/sync` ([`api`]) return.
//!
//! The engine talks to the centrals only through the clients in `crate::wire`, so tests can
//! point it at the real centrals in-process or through a fault-injecting proxy.
//!
//! # Sync protocol
//!
//! A run talks to two centrals: the V5 central (`{url}/sync/v5/…`, the URL in the settings)
//! and the V6 central (`{url}/central/sync/…`, all `POST`, the URL the V5 central gives in
//! its site info; every V6 call carries the V5 credentials, which the V6 central checks with
//! the V5 central). Site-side state lives in `key_value_store` under the keys named in
//! [`kv`]; received records wait in `sync_buffer` until Integrate applies them. Request bodies
//! are plain JSON, as the reference's client sends them, and compressed only for a central whose
//! answer in this run carried `x-outpost-accepts-compressed-requests` (ours say `gzip, zstd`:
//! the site then sends zstd; gzip to one that lists gzip alone). Answers come in zstd or gzip,
//! as `Accept-Encoding` negotiates. Pull page sizes adapt to the link (`steps::batch`); V6 bodies carry
//! `syncVersion` as a string and V6 records upstream's actions (`Insert|Update|Delete|Merge`).
//!
//! Before any step, every run: `GET /sync/v5/site` (site info). It stores
//! `SettingsSyncSiteUuid`, `SettingsSyncSiteId` and `SettingsSyncCentralServerSiteId`, and
//! refuses to go on (`SITE_UUID_IS_BEING_CHANGED`) when an initialised site would change
//! uuid. A failure here names no step.
//!
//! Each step, its calls, where its cursor lives and when the cursor moves:
//!
//! - **Prepare** (first sync only). V5: `POST initialise` (unless a preparation is already
//!   going: status `started` and the central busy; `started` with the central idle is asked
//!   again, a deviation, see README), `GET site_status` until idle, then `GET site` to check the
//!   preparation completed.
//!   The central answers `initialise` at once and prepares in the background, in short
//!   transactions (a large site's preparation outlasts any one call's timeout, and must not
//!   hold up other sites' writes); only the polling waits for it.
//!   No cursor: the flag `SyncQueueInitialised`, set after that check, so the central fills
//!   this site's queue once per site database (even if a later step of that run fails).
//! - **Push V6**. V6: `push` batches of the pushable changelog rows, with the ones routed to V6
//!   (every batch is sent, as the reference does, even with none; nothing when no row is left;
//!   `isLastBatch` makes the central integrate), then `site_status` until it is not integrating. Cursor on the site:
//!   `SyncPushCursorV6` (the next changelog row to process), moved after the central accepted
//!   the batch, so a crash in between resends it (the central buffers by upsert). Before the
//!   cursor moves, `SyncPushV6Unfinished` records whether batches are open (set by a batch,
//!   cleared by the last one).
//! - **Push** (to V5). V5: `POST queued_records` for every batch, with the rows routed to V5
//!   (`queueLength` = rows left, as the reference: even a batch with none is sent), then a final push with `queueLength: 0` and no records, which starts the
//!   central's integration, then `GET site_status` until idle. Cursor on the site:
//!   `RemoteSyncPushCursor`, moved after each accepted batch, as Push V6.
//! - **Pull Central**. V5: `GET central_records?cursor&limit` (central data; the next page is
//!   fetched while this one is stored). Cursor on the site: `CentralSyncPullCursor`, the last
//!   change-log id received, stored in the same transaction as its page in `sync_buffer` (an
//!   empty page below `maxCursor` steps the cursor over a gap).
//! - **Pull Remote**. V5: `GET queued_records?limit`, store the page in `sync_buffer` and
//!   commit, then `POST acknowledged_records` with its `syncOutId`s; until a page is empty.
//!   Cursor on the central: this site's `sync_out` queue, which a row leaves when acknowledged
//!   (a lost acknowledgement makes the central send the row again; storing is an upsert).
//! - **Pull V6**. V6: `pull` (`cursor`, `batchSize`, `isInitialised`) until `isLastBatch`.
//!   Cursor on the site: `SyncPullCursorV6` = the batch's `endCursor` + 1 (never backwards),
//!   stored in the same transaction as its batch in `sync_buffer`.
//! - **Integrate**. No call: `sync_buffer` → the site's tables in one transaction. Per buffer
//!   row, `integration_datetime` (applied) or `integration_error` (quarantined, retried by every
//!   run), written in that transaction.
//!
//! A record a central refuses (`sync_record_rejected`; the ownership rule) never stops a push:
//! it is set aside as an outgoing refusal with the central's reason ([`refusals`]: named by the
//! central, or found by splitting the batch), the rest is sent, the cursor moves past it, and
//! the run goes on. A record refused only at integration (it changed hands after the central
//! buffered it) is answered by the idle `site_status` after the push (V5 `data.refused`, V6
//! `refused`, Outpost extensions) and listed the same way. A central's failed integration
//! (`integration_error` from V5 `site_status`, `integration_error` in V6 `site_status`) ends
//! the run as `INTEGRATION_ERROR`.
//!
//! While a central is still integrating this site's previous push it answers "busy"
//! (`sync_is_running` / `IntegrationInProgress`); pushes and Pull Remote then wait for it to be
//! idle and send the same request again (`steps::call_when_idle`).
//!
//! Steps that need an initialised site: Push V6 and Push are skipped (and shown skipped) until
//! the first run succeeded; Pull V6 sends `isInitialised: false` until then, so the V6 central
//! also returns what this site pushed before (restoring its data). The V6 steps are skipped
//! (Push V6) or not logged at all (Pull V6) when this server is the V6 central itself, and fail
//! with `CENTRAL_V6_NOT_CONFIGURED` when the V5 central gave no usable V6 URL.
//!
//! The end of the first successful run, inside the first Integrate's transaction: both push
//! cursors jump to the end of the changelog (what was just integrated came from the centrals
//! and is never pushed back) and `SyncIsInitialised` is set. Inside it, because that
//! transaction holds the site's write lock: a local edit commits before it (and the site held
//! no store of its own to edit yet) or after it, above the end, and is pushed.
//!
//! Why no cursor passes a committed row, per cursor (each module says it in full):
//!
//! - V5 change log (`central_v5::changelog`, Pull Central) and V6 pull (`central_v6::pull`):
//!   the centrals write their change logs in transactions that commit in cursor order (on
//!   PostgreSQL a lock on the log from before the first cursor is taken until the commit; a
//!   sequence value is taken at insert, so without it cursor 10 could commit after 11 was
//!   read), and each answer's end is read no later than its page (V5: `maxCursor` before the
//!   page; V6: page and `endCursor` in one snapshot), so everything up to the end is visible.
//! - V5 queue (Pull Remote): no cursor; a row leaves only when acknowledged after storing.
//! - The site's push cursors: the site's changelog is SQLite with one writer at a time, so
//!   rowids are taken in commit order, and a push batch is read by one statement.
//! - The first-sync jump: taken inside Integrate's transaction (above).
//!
//! `reliability::cursors` checks each with concurrent writers, on SQLite and PostgreSQL.
//!
//! Flags that persist across runs (and restarts): `SyncIsInitialised` (first run succeeded),
//! `SyncQueueInitialised` (Prepare done), `SyncPushV6Unfinished` (V6 batches sent that no
//! last batch closed yet, so a resumed run still sends the last batch), `SyncHardwareId` (this
//! device, sent as `msupply-site-uuid`), the site identity above, the four cursors, and the
//! quarantine marks in `sync_buffer`. Nothing else carries from one run to the next: a run
//! reads the settings and the initialised flag once into its [`plan::Plan`].

pub mod api;
pub mod buffer;
pub mod changelog;
pub mod driver;
pub mod errors;
pub mod kill_point;
pub mod kv;
pub mod plan;
pub mod progress;
pub mod refusals;
pub mod report;
pub mod run;
pub mod run_log;
pub mod steps;
pub mod view;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use sqlx::SqlitePool;
use tokio::sync::{mpsc, watch};

use super::SiteState;
use crate::records::Central;
use crate::site::settings::{self, Stored};
use crate::wire::client::{ActivityHook, Timeouts};
use crate::wire::v5_client::{V5Client, V5Credentials};
use progress::{Activity, Progress, Publisher};

/// Knobs of the engine; the defaults are the reference's numbers. Tests shrink the waits.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// A run in which nothing moves for this long fails with `TIMEOUT`.
    pub stall_timeout: Duration,
    pub timeouts: Timeouts,
    /// The V5 `version` header and V6 `syncV6Version` sent (tests provoke mismatches).
    pub v5_api_version: u32,
    pub v6_version: u32,
    /// Prepare: how often to ask whether the central finished initialising, and for how long.
    pub prepare_poll: Duration,
    pub prepare_wait: Duration,
    /// After a push: how often to ask whether the central integrated it, and for how long.
    pub push_poll: Duration,
    pub push_wait: Duration,
    /// Start a run when the engine starts, if sync is configured.
    pub run_at_start: bool,
    /// Largest answer accepted from a central, decompressed (tests make it small to reach it;
    /// see `steps::batch` for what a pull does about an answer over it).
    pub max_response_bytes: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            // Longer than a call's idle-read timeout, so a silent central ends the call with
            // its own timeout error first, and the watchdog only catches what no timeout does.
            stall_timeout: crate::wire::client::IDLE_READ + Duration::from_secs(60),
            timeouts: Timeouts::default(),
            v5_api_version: crate::wire::v5::API_VERSION,
            v6_version: crate::wire::v6::SYNC_V6_VERSION,
            prepare_poll: Duration::from_secs(15),
            prepare_wait: Duration::from_secs(30 * 60),
            push_poll: Duration::from_secs(1),
            push_wait: Duration::from_secs(30),
            run_at_start: true,
            max_response_bytes: crate::wire::client::MAX_RESPONSE_BYTES,
        }
    }
}

/// What a trigger asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// The whole run.
    Full,
    /// Only Integrate: re-try quarantined records without talking to a central.
    IntegrateOnly,
}

/// (end of changelog, V5 push cursor, V6 push cursor, initialised).
type PushCountKey = (u64, u64, u64, bool);

/// The engine handle: cheap to clone, shared by the HTTP handlers and the driver.
#[derive(Clone)]
pub struct SyncEngine {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub db: SqlitePool,
    pub config: EngineConfig,
    /// The progress model, as published by the run (see [`progress`]).
    progress: watch::Receiver<Progress>,
    /// Bytes from a central: the stall watchdog's second sign of life.
    activity: Activity,
    /// The engine's copy of the settings, so a status poll needs no database read: loaded at
    /// start, replaced when settings are saved and when a run reads them.
    settings: watch::Sender<Option<Stored>>,
    /// Held while the settings are read (or saved and read back) and then published to
    /// `settings` ([`SyncEngine::read_settings`]), so reads publish in the order they happened:
    /// a run at start that read "not configured" just before a save once published that after
    /// the save's copy, and a configured site said "not configured" until its next run.
    settings_order: tokio::sync::Mutex<()>,
    trigger: mpsc::Sender<RunKind>,
    /// Completed runs so far, for callers that wait for a run.
    runs: watch::Sender<u64>,
    /// Numbered requests for a run, and the highest request a finished run has covered (a run
    /// covers every request made before it started), so a caller can wait for *its* run.
    requested: AtomicU64,
    covered: watch::Sender<u64>,
    /// `recordsToPush` for (end of changelog, V5 cursor, V6 cursor, initialised): the count is
    /// only redone when one of them moved, so polling the status stays cheap however big the
    /// changelog.
    push_count: Mutex<Option<(PushCountKey, u64)>>,
}

impl SyncEngine {
    /// Load the last status and start the driver.
    pub async fn start(db: SqlitePool, config: EngineConfig) -> anyhow::Result<SyncEngine> {
        let initialised = kv::get_bool(&db, kv::IS_INITIALISED).await?;
        let (publisher, progress) = Publisher::new(run_log::recover(&db, initialised).await?);
        let (settings, _) = watch::channel(settings::load(&db).await?);
        let (trigger, triggers) = mpsc::channel(1);
        let (runs, _) = watch::channel(0);
        let (covered, _) = watch::channel(0);
        let inner = Inner {
            db,
            config,
            progress,
            activity: Activity::default(),
            settings,
            settings_order: tokio::sync::Mutex::new(()),
            trigger,
            runs,
            requested: AtomicU64::new(0),
            covered,
            push_count: Mutex::new(None),
        };
        let engine = SyncEngine { inner: Arc::new(inner) };
        tokio::spawn(driver::drive(engine.clone(), triggers, publisher));
        Ok(engine)
    }

    pub fn db(&self) -> &SqlitePool {
        &self.inner.db
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    pub fn is_running(&self) -> bool {
        self.inner.progress.borrow().running
    }

    /// Whether the site's first run succeeded.
    pub fn is_initialised(&self) -> bool {
        self.inner.progress.borrow().initialised
    }

    /// The settings as last saved or read by a run; `None` while sync is not configured.
    pub fn settings(&self) -> Option<Stored> {
        self.inner.settings.borrow().clone()
    }

    /// Read the settings with `read` (a save writes them first) and make them the engine's
    /// copy, under one lock (`settings_order`), so copies follow the order of the reads. A
    /// failed read leaves the copy as it was.
    pub(crate) async fn read_settings<E>(
        &self,
        read: impl Future<Output = Result<Option<Stored>, E>>,
    ) -> Result<Option<Stored>, E> {
        let _order = self.inner.settings_order.lock().await;
        let settings = read.await?;
        self.settings_seen(settings.clone());
        Ok(settings)
    }

    fn settings_seen(&self, settings: Option<Stored>) {
        let configured = settings.is_some();
        let was = self.inner.settings.send_replace(settings).is_some();
        if configured != was {
            tracing::info!(configured, "sync settings changed");
        }
    }

    pub(crate) fn activity(&self) -> &Activity {
        &self.inner.activity
    }

    /// Ask for a run. Returns true when a run was going and this queued the one follow-up run;
    /// a press while a follow-up is already queued changes nothing (reference §1.1).
    pub fn trigger(&self) -> bool {
        let running = self.is_running();
        self.inner.trigger.try_send(RunKind::Full).is_ok() && running
    }

    /// Queue an Integrate-only run for quarantined records. A queued full run integrates too,
    /// so nothing is lost when the channel is already full.
    pub fn retry_quarantine(&self) {
        let _ = self.inner.trigger.try_send(RunKind::IntegrateOnly);
    }

    /// Trigger a run and wait for it (and a run already going) to end; the run's error if any.
    pub async fn sync_and_wait(&self) -> Option<outpost_api::SyncError> {
        let mut covered = self.inner.covered.subscribe();
        let mine = self.inner.requested.fetch_add(1, Ordering::SeqCst) + 1;
        // Full channel: the queued trigger's run starts after this request, so it covers it.
        let _ = self.inner.trigger.try_send(RunKind::Full);
        let _ = covered.wait_for(|c| *c >= mine).await;
        self.latest_error()
    }

    /// Called by the driver as a run starts: the requests this run answers.
    pub(crate) fn requests_so_far(&self) -> u64 {
        self.inner.requested.load(Ordering::SeqCst)
    }

    /// Wait until `n` runs in total have completed since the engine started.
    pub async fn wait_for_runs(&self, n: u64) {
        let mut runs = self.inner.runs.subscribe();
        let _ = runs.wait_for(|done| *done >= n).await;
    }

    pub fn completed_runs(&self) -> u64 {
        *self.inner.runs.borrow()
    }

    pub(crate) fn run_completed(&self, covered: u64) {
        self.inner.covered.send_modify(|c| *c = (*c).max(covered));
        self.inner.runs.send_modify(|n| *n += 1);
    }

    pub fn latest_error(&self) -> Option<outpost_api::SyncError> {
        let progress = self.inner.progress.borrow();
        progress.latest.as_ref().and_then(|r| r.error.as_ref()).map(|e| e.to_api())
    }

    /// `GET /api/sync/status`: memory, plus the changelog count (cached).
    pub async fn status(&self) -> anyhow::Result<outpost_api::SyncStatus> {
        let configured = self.inner.settings.borrow().is_some();
        let to_push = self.records_to_push().await?;
        let progress = self.inner.progress.borrow();
        Ok(view::status(&progress, configured, to_push))
    }

    /// Records the next run will really send, to either central (cached per cursor state).
    pub async fn records_to_push(&self) -> sqlx::Result<u64> {
        let mut conn = self.inner.db.acquire().await?;
        let key = (
            changelog::end_cursor(&mut conn).await?,
            kv::cursor(&mut *conn, kv::V5_PUSH_CURSOR).await?,
            kv::cursor(&mut *conn, kv::V6_PUSH_CURSOR).await?,
            self.is_initialised(),
        );
        if let Some((k, n)) = *self.inner.push_count.lock().expect("count lock")
            && k == key
        {
            return Ok(n);
        }
        // Before the first sync nothing is pushed: both cursors jump past the initial data.
        let n = if key.3 {
            changelog::to_send(&mut conn, key.1, Central::V5).await?
                + changelog::to_send(&mut conn, key.2, Central::V6).await?
        } else {
            0
        };
        *self.inner.push_count.lock().expect("count lock") = Some((key, n));
        Ok(n)
    }

    /// A V5 client for these credentials with this device's hardware id.
    pub async fn v5_client(&self, url: &str, site_name: &str, password_sha256: &str) -> sqlx::Result<V5Client> {
        let creds = V5Credentials {
            url: url.to_owned(),
            site_name: site_name.to_owned(),
            password_sha256: password_sha256.to_owned(),
            hardware_id: kv::hardware_id(&self.inner.db).await?,
            api_version: self.inner.config.v5_api_version,
        };
        Ok(V5Client::new(creds, &self.inner.config.timeouts, Some(self.activity_hook()))
            .with_max_response_bytes(self.inner.config.max_response_bytes))
    }

    /// Bytes arriving from a central count as progress for the stall watchdog (and only for
    /// it: they are not shown).
    pub fn activity_hook(&self) -> ActivityHook {
        let activity = self.inner.activity.clone();
        Arc::new(move || activity.beat())
    }
}

/// Routes under `/api/sync`.
pub fn routes() -> Router<SiteState> {
    api::routes()
}
