//! Scenario 5: how long a person waits after pressing Sync now. A run with nothing to do, and
//! a run that carries one record changed on the site to the V5 central (timed until the
//! central holds it). Both are compared with one bare HTTP round trip to the site, measured in
//! the same run; medians of several tries, because one try on a shared machine is noise.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::Row;

use crate::BenchOptions;
use crate::report::Figure;
use crate::world::{BenchWorld, STORES};

pub async fn run(options: &BenchOptions, world: &BenchWorld) -> anyhow::Result<Figure> {
    let tries = if options.smoke { 3 } else { 15 };
    let mut rtt = Vec::new();
    for _ in 0..tries * 4 {
        let t = Instant::now();
        world.http.get(format!("{}/api/health", world.site.url)).send().await?.error_for_status()?;
        rtt.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mut idle = Vec::new();
    for _ in 0..tries {
        let before = world.status().await?.last_sync.map(|l| l.started);
        let t = Instant::now();
        world.trigger().await?;
        world.wait_run_after(before, Duration::from_millis(1), Duration::from_secs(60)).await?;
        idle.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mut one = Vec::new();
    for i in 0..tries {
        let id = format!("bench-latency-{i}-{}", uuid::Uuid::new_v4().simple());
        let location =
            json!({"id": id, "storeId": STORES[0], "code": format!("L{i}"), "name": "Latency shelf", "onHold": false});
        world
            .http
            .post(format!("{}/api/store-data/locations", world.site.url))
            .json(&location)
            .send()
            .await?
            .error_for_status()?;
        let before = world.status().await?.last_sync.map(|l| l.started);
        let t = Instant::now();
        world.trigger().await?;
        loop {
            let found = sqlx::query("SELECT 1 FROM record WHERE table_name = 'Location' AND record_id = $1")
                .bind(&id)
                .fetch_optional(&world.centrals.v5_state.db.pool)
                .await?;
            if found.is_some_and(|r| r.get::<i32, _>(0) == 1) {
                break;
            }
            anyhow::ensure!(t.elapsed() < Duration::from_secs(60), "the changed record never reached the V5 central");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        one.push(t.elapsed().as_secs_f64() * 1000.0);
        // Let the run end before the next try, so each try starts from an idle engine.
        world.wait_run_after(before, Duration::from_millis(2), Duration::from_secs(60)).await?;
    }
    let (rtt, idle, one) = (median(&mut rtt), median(&mut idle), median(&mut one));
    let mut f = Figure::new("latency")
        .value("round_trip_ms", round2(rtt))
        .value("nothing_to_do_ms", round2(idle))
        .value("one_record_to_v5_ms", round2(one))
        .value("tries", tries);
    f.figure = format!("nothing to do {idle:.1} ms; one record on V5 after {one:.1} ms (medians)");
    f.reference = format!("one bare HTTP round trip to the site {rtt:.2} ms");
    f.ratio = format!("{:.0}× and {:.0}× a round trip", idle / rtt.max(1e-9), one / rtt.max(1e-9));
    f.target = "≤ 30 ms and ≤ 150 ms".into();
    f.met = Some(idle <= 30.0 && one <= 150.0);
    Ok(f)
}

pub fn median(xs: &mut [f64]) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

pub fn percentile(xs: &mut [f64], p: f64) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_by(|a, b| a.total_cmp(b));
    let i = ((xs.len() as f64 * p).ceil() as usize).clamp(1, xs.len()) - 1;
    xs[i]
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
