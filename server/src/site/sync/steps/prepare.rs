//! Prepare (first sync only): ask the V5 central to fill this site's queue with everything the
//! site should hold, then wait until it says it is idle, and check that it says the site is
//! prepared. Done at most once per site database, even if a later step of that first run
//! fails; skipped (and shown skipped) afterwards. Never marked done unless the central reports
//! the preparation completed: otherwise the site would count as initialised without its data.

use outpost_api::StepKey;

use super::{Ctx, central_is_busy, db, wait_until};
use crate::site::sync::errors::{RunError, Variant};
use crate::site::sync::kv;
use crate::wire::client::{Failure, Problem};
use crate::wire::v5::{InitialisationStatus, SiteStatusCode};

const STEP: StepKey = StepKey::PrepareInitial;
/// How many times one run asks the central to prepare this site before it gives up.
const MAX_ASKS: u32 = 2;
/// How many preparations that began after the run's wait had ended (a duplicated request's,
/// see the loop in [`run`]) one run waits for, besides its own.
const MAX_LATE_WAITS: u32 = 3;

pub async fn run(ctx: &Ctx<'_>) -> Result<(), RunError> {
    let log = db("Error while logging");
    if kv::get_bool(ctx.db, kv::QUEUE_INITIALISED).await.map_err(db("Error while reading sync state"))? {
        return ctx.report.step_skipped(STEP).await.map_err(log);
    }
    ctx.report.step_started(STEP).await.map_err(log)?;
    // Deviation (README): the reference never re-asks when the status is "started". "Started"
    // with an idle central means an earlier preparation died part-way (a central restart), and
    // waiting would mark the site initialised without its data: ask again. Started with a busy
    // central means one is under way: wait for it first, as the reference does.
    let mut needs_initialise = match ctx.site.initialisation_status {
        InitialisationStatus::Started => central_is_idle(ctx).await?,
        _ => true,
    };
    let (mut asked, mut late_waits) = (0, 0);
    loop {
        let mut lost_answer = None;
        if needs_initialise {
            asked += 1;
            // Our central answers at once and prepares in the background; the reference's
            // blocks until done. Either way a dropped connection or a timeout does not mean it
            // failed, so carry on and let the status polling (and the check after it) tell.
            match ctx.v5.initialise().await {
                Ok(_) => {}
                // A proxy's 502 or 504 is the same: the request may have reached the central.
                Err(e)
                    if matches!(
                        e.problem,
                        Problem::Transport(
                            Failure::Connect(_) | Failure::Timeout(_) | Failure::Status { status: 502 | 504, .. }
                        )
                    ) =>
                {
                    tracing::warn!(error = %crate::site::sync::errors::chain(&e), "initialise request failed; polling site status");
                    lost_answer = Some(e);
                }
                // The central is already preparing this site (our earlier request whose answer
                // was lost is still running there): wait for that one.
                Err(e) if central_is_busy(&e) => {}
                Err(e) => return Err(RunError::call("Error while initialising the site's queue", &e)),
            }
        }
        let timeout = RunError::new(
            Variant::Timeout,
            "Error while waiting for the central to prepare this site",
            format!("the central was still preparing after {} seconds", ctx.config.prepare_wait.as_secs()),
        );
        wait_until(ctx.config.prepare_poll, ctx.config.prepare_wait, timeout, || central_is_idle(ctx)).await?;
        let info =
            ctx.v5.site_info().await.map_err(|e| RunError::call("Error while checking the site's preparation", &e))?;
        match info.initialisation_status {
            InitialisationStatus::Completed => break,
            // "Started" and busy again: a preparation began after our wait ended (a request of
            // ours that a link delivered twice, whose copy the central met after the first had
            // completed: it set "started" anew). Wait for that one; it is not a failed ask.
            InitialisationStatus::Started if late_waits < MAX_LATE_WAITS && !central_is_idle(ctx).await? => {
                late_waits += 1;
                needs_initialise = false;
            }
            // The preparation we waited for died part-way (the central restarted while it
            // ran), or our request never started one: ask once more in this run rather than
            // fail a run the central can finish.
            _ if asked < MAX_ASKS => needs_initialise = true,
            status => {
                return Err(match lost_answer {
                    // The request never got through: say so, with its own variant.
                    Some(e) => RunError::call("Error while initialising the site's queue", &e),
                    // Asked twice and still not completed: each preparation died part-way (a
                    // central restart) or failed there; the status says which.
                    None => RunError::new(
                        Variant::PreparationIncomplete,
                        "Error while initialising the site's queue",
                        format!(
                            "the central reports this site's preparation as {status:?}, not completed, after {asked} requests"
                        ),
                    ),
                });
            }
        }
    }
    kv::set_bool(ctx.db, kv::QUEUE_INITIALISED, true).await.map_err(db("Error while storing sync state"))?;
    ctx.report.step_done(STEP).await.map_err(log)
}

/// Whether the V5 central is doing nothing for this site right now.
async fn central_is_idle(ctx: &Ctx<'_>) -> Result<bool, RunError> {
    let status =
        ctx.v5.site_status().await.map_err(|e| RunError::call("Error while polling the central's site status", &e))?;
    Ok(status.code == SiteStatusCode::Idle)
}
