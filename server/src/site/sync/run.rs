//! One sync run, in the reference's order: the site-info call, then Prepare (first sync only),
//! Push V6, Push, Pull Central, Pull Remote, Pull V6, Integrate. Any error ends the run at the
//! step it happened in; cursors already stored make the next run resume, not restart.
//!
//! [`Report`] is the run's one way to say where it stands: each change goes to the progress
//! model first (what people watch) and then to the run log on disk.

use std::future::Future;
use std::sync::Arc;

use chrono::Utc;
use outpost_api::StepKey;
use sqlx::SqlitePool;

use super::errors::{RunError, Variant};
use super::plan::Plan;
use super::progress::Publisher;
use super::run_log::RunLog;
use super::steps::{self, Ctx, V6};
use super::{RunKind, SyncEngine, changelog, kv};
use crate::wire::v6_client::V6Client;

/// Where the run stands, as the run tells it.
pub struct Report {
    log: RunLog,
    out: Arc<Publisher>,
}

impl Report {
    /// Open the run: a `sync_log` row, then the model shows it going.
    pub async fn start(db: &SqlitePool, out: Arc<Publisher>) -> sqlx::Result<Report> {
        let (log, run) = RunLog::start(db).await?;
        out.run_started(run);
        Ok(Report { log, out })
    }

    /// Run one step: while `step` goes, the run is in `key`, so a failure (its own, or the
    /// watchdog's) is placed there.
    pub async fn step(&self, key: StepKey, step: impl Future<Output = Result<(), RunError>>) -> Result<(), RunError> {
        self.out.enter(key);
        step.await?;
        self.out.leave();
        Ok(())
    }

    pub async fn step_started(&self, key: StepKey) -> sqlx::Result<()> {
        let s = self.out.step(key, |s| s.started = Some(Utc::now()));
        self.log.write_step(key, &s).await
    }

    pub async fn step_done(&self, key: StepKey) -> sqlx::Result<()> {
        let s = self.out.step(key, |s| {
            s.started.get_or_insert_with(Utc::now);
            s.finished = Some(Utc::now());
        });
        self.log.write_step(key, &s).await
    }

    pub async fn step_skipped(&self, key: StepKey) -> sqlx::Result<()> {
        let now = Utc::now();
        let s = self.out.step(key, |s| {
            s.skipped = true;
            s.started = Some(now);
            s.finished = Some(now);
        });
        self.log.write_step(key, &s).await
    }

    /// Report what is left of a step; the first report of a run sets the total.
    pub async fn progress(&self, key: StepKey, remaining: u64) -> sqlx::Result<()> {
        let s = self.out.report(key, remaining);
        self.log.write_step(key, &s).await
    }

    /// Like [`Report::progress`] but in memory only, for when the database is busy with the
    /// integration transaction; the step is written when it finishes.
    pub fn progress_live(&self, key: StepKey, remaining: u64) {
        self.out.report(key, remaining);
    }

    /// The first run succeeded (the stored flag is already set).
    fn initialised(&self) {
        self.out.initialised();
    }

    /// End the run with `error`, placed at the step the run was in.
    pub async fn fail(&self, error: RunError) -> sqlx::Result<()> {
        let (steps, error) = self.out.failed(error);
        tracing::warn!(error = %error, "sync run failed");
        self.log.write_failure(&steps, &error).await
    }

    pub async fn finish(&self) -> sqlx::Result<()> {
        let run = self.out.finished(Utc::now());
        self.log.write_success(&run).await
    }
}

pub(crate) async fn execute(engine: &SyncEngine, report: &Report, plan: &Plan) -> Result<(), RunError> {
    let db = engine.db();
    let dberr = |context: &'static str| move |e: sqlx::Error| RunError::db(context, e);
    let (settings, initialised) = (&plan.settings, plan.initialised);

    if plan.kind == RunKind::IntegrateOnly {
        for key in StepKey::ALL.into_iter().filter(|k| *k != StepKey::Integration) {
            report.step_skipped(key).await.map_err(dberr("Error while logging"))?;
        }
        return report.step(StepKey::Integration, steps::integrate::run(db, report)).await;
    }

    let v5 = engine
        .v5_client(&settings.url, &settings.site_name, &settings.password_sha256)
        .await
        .map_err(dberr("Error while reading the hardware id"))?;
    // Before any step: who are we, and where is the V6 central? A failure here is shown
    // with no step highlighted, as in the reference.
    let site = v5.site_info().await.map_err(|e| RunError::call("Error while fetching site info", &e))?;
    if let Some(known) = kv::get_string(db, kv::SITE_UUID).await.map_err(dberr("Error while reading sync state"))?
        && initialised
        && known != site.id
    {
        return Err(RunError::new(
            Variant::SiteUuidIsBeingChanged,
            "Error while checking the site",
            format!("this server belongs to site {known}, the central answered for site {}", site.id),
        ));
    }
    kv::set_string(db, kv::SITE_UUID, &site.id).await.map_err(dberr("Error while storing site info"))?;
    kv::set_int(db, kv::SITE_ID, site.site_id).await.map_err(dberr("Error while storing site info"))?;
    kv::set_int(db, kv::CENTRAL_SERVER_SITE_ID, site.m_supply_central_site_id)
        .await
        .map_err(dberr("Error while storing site info"))?;

    let v6 = if site.is_om_supply_central_server {
        V6::IsCentral
    } else {
        match reqwest::Url::parse(&site.om_supply_central_server_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => V6::At(V6Client::new(
                &site.om_supply_central_server_url,
                v5.credentials(),
                engine.config().v6_version,
                &engine.config().timeouts,
                Some(engine.activity_hook()),
            )),
            _ => V6::NotConfigured(site.om_supply_central_server_url.clone()),
        }
    };

    let ctx = Ctx { db, report, config: engine.config(), plan, v5: &v5, v6: &v6, site: &site };
    report.step(StepKey::PrepareInitial, steps::prepare::run(&ctx)).await?;
    report.step(StepKey::PushV6, steps::push_v6::run(&ctx)).await?;
    report.step(StepKey::Push, steps::push::run(&ctx)).await?;
    report.step(StepKey::PullCentral, steps::pull_central::run(&ctx)).await?;
    report.step(StepKey::PullRemote, steps::pull_remote::run(&ctx)).await?;
    report.step(StepKey::PullV6, steps::pull_v6::run(&ctx)).await?;
    report.step(StepKey::Integration, steps::integrate::run(db, report)).await?;

    if !initialised {
        // What was just integrated came from the centrals: never push it back.
        let mut tx = db.begin().await.map_err(dberr("Error while finishing initialisation"))?;
        let end = changelog::end_cursor(&mut tx).await.map_err(dberr("Error while finishing initialisation"))?;
        kv::set_cursor(&mut *tx, kv::V5_PUSH_CURSOR, end)
            .await
            .map_err(dberr("Error while finishing initialisation"))?;
        kv::set_cursor(&mut *tx, kv::V6_PUSH_CURSOR, end)
            .await
            .map_err(dberr("Error while finishing initialisation"))?;
        kv::set_bool(&mut *tx, kv::IS_INITIALISED, true)
            .await
            .map_err(dberr("Error while finishing initialisation"))?;
        tx.commit().await.map_err(dberr("Error while finishing initialisation"))?;
        report.initialised();
    }
    Ok(())
}
