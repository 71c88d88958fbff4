//! Scenario `cellular` (issue 14): the first sync of a site over a cellular line, 1 Mbit/s each
//! way with 300 ms round trip, shaped in the test kit's relay ([`outpost_testkit::relay::link`])
//! in front of both centrals. Its own world, seeded with `--cellular-records` realistic records
//! (default 100,000, which takes minutes at this rate: the line moves 125 KB/s).
//!
//! Figures: how busy the line was while the site pulled (bytes received ÷ (rate × time of the
//! pull steps)), and the longest request as the site saw it (first byte sent to last byte of
//! the answer received). A site whose pages are too small for the line leaves it idle for a
//! round trip or two per page; pages too big make one request run for minutes.

use std::time::Duration;

use outpost_testkit::relay::link::Link;

use crate::BenchOptions;
use crate::report::Figure;
use crate::world::BenchWorld;

/// The line: 1 Mbit/s each way, 300 ms round trip.
pub const RATE_BITS_PER_S: u64 = 1_000_000;
pub const ROUND_TRIP: Duration = Duration::from_millis(300);

pub async fn run(options: &BenchOptions) -> anyhow::Result<Figure> {
    let mut sized = options.clone();
    sized.records = options.cellular_records;
    let world = BenchWorld::start(&sized).await?;
    let link = Link::new(RATE_BITS_PER_S, ROUND_TRIP);
    for relay in [&world.centrals.v5_relay, &world.centrals.v6_relay].into_iter().flatten() {
        relay.set_link(Some(link.clone()));
    }
    let sync = crate::initial_sync::run(&sized, &world).await;
    world.stop().await;
    let sync = sync?;
    let pull: f64 = sync.steps.iter().filter(|(step, _)| step.starts_with("Pull")).map(|(_, s)| s).sum();
    let busy = sync.bytes_down as f64 * 8.0 / (RATE_BITS_PER_S as f64 * pull.max(1e-9));
    let longest = link.longest_request().as_secs_f64();
    let mut f = Figure::new("cellular")
        .value("records", sync.records)
        .value("seconds", round2(sync.seconds))
        .value("pull_seconds", round2(pull))
        .value("bytes_down", sync.bytes_down)
        .value("bytes_up", sync.bytes_up)
        .value("link_busy_percent", round2(busy * 100.0))
        .value("longest_request_s", round2(longest))
        .value("rate_bits_per_s", RATE_BITS_PER_S)
        .value("round_trip_ms", ROUND_TRIP.as_millis() as u64);
    // Where the pull time went (which step left the line idle), as the initial_sync figure has it.
    let steps: serde_json::Map<String, serde_json::Value> =
        sync.steps.iter().map(|(k, s)| (k.clone(), (round2(*s)).into())).collect();
    f = f.value("step_seconds", serde_json::Value::Object(steps));
    f.figure = format!(
        "{} records in {:.1} s; pull steps {pull:.1} s, {:.0} KB down; longest request {longest:.2} s",
        sync.records,
        sync.seconds,
        sync.bytes_down as f64 / 1024.0
    );
    f.reference = format!(
        "the line: {} kbit/s, {} ms round trip → {:.1} s to move those bytes",
        RATE_BITS_PER_S / 1000,
        ROUND_TRIP.as_millis(),
        sync.bytes_down as f64 * 8.0 / RATE_BITS_PER_S as f64
    );
    f.ratio = format!("line busy {:.0} % of the pull time", busy * 100.0);
    f.target = "line busy ≥ 75 % of the pull time, no request longer than 10 s".into();
    f.met = Some(busy >= 0.75 && longest <= 10.0);
    Ok(f)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
