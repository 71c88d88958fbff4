//! Scenario 6: `GET /api/sync/status` under 500 concurrent pollers (the Sync page polls while
//! it is open: 500 open pages). Each poller asks once per [`PERIOD`], four times as often as a
//! page does during a run (once a second), from a random phase; back-to-back requests with no pause would measure queueing on two cores, not
//! the API. The p99 is compared with the p50 of one lone poller measured just before.

use std::time::{Duration, Instant};

use crate::BenchOptions;
use crate::latency::percentile;
use crate::report::Figure;
use crate::world::BenchWorld;

/// How often each poller asks: a quarter of the Sync page's one second during a run
/// (app/src/pages/sync.rs), so the load is harsher than 500 real pages.
const PERIOD: Duration = Duration::from_millis(250);

pub async fn run(options: &BenchOptions, world: &BenchWorld) -> anyhow::Result<Figure> {
    let (pollers, seconds) = if options.smoke { (20, 1.5) } else { (500, 10.0) };
    let url = format!("{}/api/sync/status", world.site.url);
    let mut alone = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        world.http.get(&url).send().await?.error_for_status()?.bytes().await?;
        alone.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let alone = percentile(&mut alone, 0.5);
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for i in 0..pollers {
        // One connection per poller, as 500 browsers would have.
        let client = outpost_testkit::http_client_builder().no_proxy().build()?;
        let url = url.clone();
        let phase = PERIOD.mul_f64(i as f64 / pollers as f64);
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut next = Instant::now() + phase;
            while next < until {
                tokio::time::sleep_until(next.into()).await;
                next += PERIOD;
                let t = Instant::now();
                let ok = match client.get(&url).send().await {
                    Ok(r) => r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if ok {
                    times.push(t.elapsed().as_secs_f64() * 1000.0);
                }
            }
            times
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    let requests = all.len();
    let (p50, p99) = (percentile(&mut all, 0.5), percentile(&mut all, 0.99));
    let mut f = Figure::new("status_api")
        .value("pollers", pollers)
        .value("requests", requests)
        .value("requests_per_s", (requests as f64 / seconds).round())
        .value("p50_ms", (p50 * 100.0).round() / 100.0)
        .value("p99_ms", (p99 * 100.0).round() / 100.0)
        .value("alone_p50_ms", (alone * 100.0).round() / 100.0);
    f.figure =
        format!("p99 {p99:.2} ms, p50 {p50:.2} ms, {:.0} requests/s with {pollers} pollers", requests as f64 / seconds);
    f.reference = format!("one poller alone: p50 {alone:.2} ms");
    f.ratio = format!("p99 = {:.1}× a lone request", p99 / alone.max(1e-9));
    f.target = "p99 ≤ 5 ms with 500 pollers".into();
    f.met = Some(p99 <= 5.0);
    Ok(f)
}
