//! Background integration of a site's push buffer, the same way on both centrals: the site is
//! marked integrating (so it is answered "sync is running" / `integrationInProgress` meanwhile),
//! the work runs on its own task behind the integration gate, and the push that asked for it
//! waits a little for it to finish.

use std::future::Future;

use super::INTEGRATION_WAIT;
use super::activity::{Activities, Activity};

/// Start `integrate` for `site_id` on its own task and wait up to [`INTEGRATION_WAIT`] for it.
/// `Err` with what the site is already doing when it is busy; nothing is started then.
///
/// A site's next call is a status poll, repeated until it sees the integration end. A push of a
/// usual size integrates in milliseconds, so answering once it has (or after a short while)
/// lets the first poll find the site idle, and a fleet of sites does not spend its round trips
/// polling. Integration runs to its end either way; a failure is logged and reported by
/// `site_status` until the next integration starts (the buffer stays, so the next final push
/// integrates it again).
pub async fn integrate_in_background<F>(
    activities: &Activities,
    metrics: &super::metrics::Metrics,
    site_id: i64,
    role: &'static str,
    integrate: F,
) -> Result<(), Activity>
where
    F: Future<Output = anyhow::Result<usize>> + Send + 'static,
{
    let busy = activities.begin(site_id, Activity::Integrating)?;
    let (activities, metrics) = (activities.clone(), metrics.clone());
    let (done, finished) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _permit = activities.integration_permit().await;
        let started = std::time::Instant::now();
        let result = integrate.await;
        metrics.integrated(started.elapsed(), result.is_ok());
        if let Err(e) = result {
            // Logged under an id (by `internal_message`); the site is told that it failed and where to look, not the internals.
            let told = super::error::internal_message(role, &e.context("integration of pushed records failed"));
            activities.integration_failed(site_id, told);
        }
        drop(busy);
        let _ = done.send(());
    });
    let _ = tokio::time::timeout(INTEGRATION_WAIT, finished).await;
    Ok(())
}
