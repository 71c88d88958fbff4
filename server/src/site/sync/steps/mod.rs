//! The steps of a run, one module each, all behind the same small interface: `run(&Ctx)`,
//! which reports the step's start, progress and end through the run's [`Report`] and returns
//! a [`RunError`] on failure (the run places it at the step it was in).

pub mod batch;
pub mod integrate;
pub mod prepare;
pub mod pull_central;
pub mod pull_remote;
pub mod pull_v6;
pub mod push;
pub mod push_v6;

use std::future::Future;
use std::time::{Duration, Instant};

use sqlx::SqlitePool;

use super::EngineConfig;
use super::errors::{RunError, Variant};
use super::plan::Plan;
use super::report::Report;
use crate::wire::v5::SiteInfo;
use crate::wire::v5_client::V5Client;
use crate::wire::v6_client::V6Client;

/// How this run reaches the V6 central, as the V5 site info decided.
pub enum V6 {
    At(V6Client),
    /// This server is the V6 central itself: no V6 steps.
    IsCentral,
    /// The V5 central gave no usable V6 URL (the value it gave).
    NotConfigured(String),
}

impl V6 {
    pub fn client(&self) -> Result<Option<&V6Client>, RunError> {
        match self {
            V6::At(c) => Ok(Some(c)),
            V6::IsCentral => Ok(None),
            V6::NotConfigured(url) => Err(RunError::new(
                Variant::CentralV6NotConfigured,
                "Error while reaching the V6 central",
                format!("the V5 central gave no usable V6 central URL ({url:?})"),
            )),
        }
    }
}

/// What every step can reach during a run.
pub struct Ctx<'a> {
    pub db: &'a SqlitePool,
    pub report: &'a Report,
    pub config: &'a EngineConfig,
    /// The settings and flags this run works from (read once, as it started).
    pub plan: &'a Plan,
    /// Page sizes of the V5 pull steps: one for both, they share the central and its link
    /// ([`batch`], "One [`batch::PullBatch`] serves both").
    pub pull_batch: &'a std::sync::Mutex<batch::PullBatch>,
    pub v5: &'a V5Client,
    pub v6: &'a V6,
    pub site: &'a SiteInfo,
}

pub(crate) fn db(context: &'static str) -> impl Fn(sqlx::Error) -> RunError + Copy {
    move |e| RunError::db(context, e)
}

/// Whether a central refused a call because it is still integrating this site's last push.
pub(crate) fn central_is_busy(e: &crate::wire::client::CallError) -> bool {
    use crate::wire::client::Problem;
    match &e.problem {
        Problem::V5 { error, .. } => error.code == crate::wire::v5::code::SYNC_IS_RUNNING,
        Problem::V6(crate::wire::v6::ErrorValue::IntegrationInProgress) => true,
        _ => false,
    }
}

/// Make a call (a push, a pull, an acknowledgement); when the central answers that it is still
/// integrating (a retried final push whose first answer was lost, a duplicated final push, the
/// previous run's integration), wait until `idle` says so and make the same call again. Pushes
/// buffer by upsert and pulls are idempotent, so a call that did arrive the first time is not
/// doubled; one that did not arrive is not lost by treating "busy" as success.
pub(crate) async fn call_when_idle<T, P, PF, I, IF>(
    ctx: &Ctx<'_>,
    context: &'static str,
    push: P,
    idle: I,
) -> Result<T, RunError>
where
    P: FnMut() -> PF,
    PF: Future<Output = Result<T, crate::wire::client::CallError>>,
    I: FnMut() -> IF,
    IF: Future<Output = Result<bool, RunError>>,
{
    call_when_idle_or(ctx, context, push, idle, |_| None::<std::convert::Infallible>)
        .await
        .map(|r| r.unwrap_or_else(|never| match never {}))
}

/// [`call_when_idle`], but an error `keep` recognises is handed back as `Ok(Err(_))` instead
/// of ending the step (a push refused for some of its records).
pub(crate) async fn call_when_idle_or<T, X, P, PF, I, IF, K>(
    ctx: &Ctx<'_>,
    context: &'static str,
    mut push: P,
    mut idle: I,
    keep: K,
) -> Result<Result<T, X>, RunError>
where
    P: FnMut() -> PF,
    PF: Future<Output = Result<T, crate::wire::client::CallError>>,
    I: FnMut() -> IF,
    IF: Future<Output = Result<bool, RunError>>,
    K: Fn(&crate::wire::client::CallError) -> Option<X>,
{
    let mut attempts = 0;
    loop {
        match push().await {
            Ok(reply) => return Ok(Ok(reply)),
            Err(e) if central_is_busy(&e) && attempts < 3 => {
                attempts += 1;
                let timeout = RunError::call(context, &e);
                wait_until(ctx.config.push_poll, ctx.config.push_wait, timeout, &mut idle).await?;
            }
            Err(e) => return keep(&e).map(Err).ok_or_else(|| RunError::call(context, &e)),
        }
    }
}

/// The first pause between polls; it doubles up to the configured interval.
const FIRST_POLL: Duration = Duration::from_millis(2);

/// Poll `done` until it says yes or `limit` passes (then `on_timeout`). The pause starts at
/// [`FIRST_POLL`] and doubles up to `every`: a central that integrates a small push in a few
/// milliseconds is not waited on for a whole interval (that made a run with nothing to do
/// take a second), while a long wait still polls only every `every`.
///
/// Deviation (README): the reference polls at a fixed interval (1 s after a push, 15 s while
/// the central prepares). `every` defaults to those intervals; only the first few polls of a
/// wait come sooner (about 10 in its first second), which a central answers from memory.
pub(crate) async fn wait_until<F, Fut>(
    every: Duration,
    limit: Duration,
    on_timeout: RunError,
    mut done: F,
) -> Result<(), RunError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, RunError>>,
{
    let start = Instant::now();
    let mut pause = FIRST_POLL.min(every);
    loop {
        if done().await? {
            return Ok(());
        }
        if start.elapsed() >= limit {
            return Err(on_timeout);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(every);
    }
}

/// Whether the V6 central has finished integrating this site's pushes (for [`call_when_idle`]).
pub(crate) async fn v6_idle(client: &V6Client) -> Result<bool, RunError> {
    let status = client.site_status().await.map_err(|e| RunError::call("Error while polling the V6 central", &e))?;
    Ok(!status.is_integrating)
}
