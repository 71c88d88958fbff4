//! One sync run, in the reference's order: the site-info call, then Prepare (first sync only),
//! Push V6, Push, Pull Central, Pull Remote, Pull V6, Integrate. Any error ends the run at the
//! step it happened in; cursors already stored make the next run resume, not restart.

use outpost_api::StepKey;

use super::errors::{RunError, Variant};
use super::plan::Plan;
use super::report::Report;
use super::steps::{self, Ctx, V6};
use super::{RunKind, SyncEngine, kv};
use crate::wire::v6_client::V6Client;

pub(crate) async fn execute(engine: &SyncEngine, report: &Report, plan: &Plan) -> Result<(), RunError> {
    let db = engine.db();
    let dberr = |context: &'static str| move |e: sqlx::Error| RunError::db(context, e);
    let (settings, initialised) = (&plan.settings, plan.initialised);

    if plan.kind == RunKind::IntegrateOnly {
        for key in StepKey::ALL.into_iter().filter(|k| *k != StepKey::Integration) {
            report.step_skipped(key).await.map_err(dberr("Error while logging"))?;
        }
        return report.step(StepKey::Integration, steps::integrate::run(db, report, false)).await;
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

    let pull_batch =
        steps::batch::PullBatch::new(plan.settings.batch_size_pull).with_cap(engine.config().max_response_bytes);
    let pull_batch = std::sync::Mutex::new(pull_batch);
    let ctx = Ctx { db, report, config: engine.config(), plan, pull_batch: &pull_batch, v5: &v5, v6: &v6, site: &site };
    report.step(StepKey::PrepareInitial, steps::prepare::run(&ctx)).await?;
    report.step(StepKey::PushV6, steps::push_v6::run(&ctx)).await?;
    report.step(StepKey::Push, steps::push::run(&ctx)).await?;
    report.step(StepKey::PullCentral, steps::pull_central::run(&ctx)).await?;
    report.step(StepKey::PullRemote, steps::pull_remote::run(&ctx)).await?;
    report.step(StepKey::PullV6, steps::pull_v6::run(&ctx)).await?;
    // The first run's Integrate also ends the first sync, in its own transaction.
    report.step(StepKey::Integration, steps::integrate::run(db, report, !initialised)).await?;
    if !initialised {
        report.initialised();
    }
    Ok(())
}
