//! The centrals' `/metrics` as an operator's Prometheus sees them: the counters move with a
//! real site's sync and push, and a caller off this machine (or forwarded by a reverse proxy on
//! it) needs the token.

use outpost::records;
use outpost_api::{Asset, Location};
use outpost_testkit::prelude::*;

/// The sum of every sample of `name` (all label sets) in an OpenMetrics text.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.strip_prefix(name).is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{')))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

async fn metrics(url: &str) -> String {
    let response = outpost_testkit::http_get(format!("{url}/metrics")).await.unwrap();
    assert_eq!(response.status(), 200, "{url}: a caller on this machine may read the metrics");
    let kind = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    response.text().await.unwrap()
}

#[tokio::test]
async fn the_centrals_count_requests_records_pushed_and_pulled_integrations_and_sites_after_a_sync() {
    let world = World::start().await;
    world.add_site("metered", "pw", &["metered-store"]).await;
    outpost::central_v5::seed::seed(&world.v5_state.db, 40, &["metered-store".to_owned()]).await.unwrap();
    let site = TestSite::start(fast()).await;
    site.configure(&world, "metered", "pw").await;
    assert_eq!(site.sync().await, None);
    let (v5, v6) = (metrics(&world.v5_url).await, metrics(&world.v6_url).await);
    assert!(sample(&v5, "outpost_records_pulled_total") >= 40.0, "the site pulled the seeded records:\n{v5}");
    // The site, and the V6 central's own site there (it reads the store mapping as a V5 client).
    assert_eq!(sample(&v5, "outpost_sites_seen"), 2.0, "{v5}");
    assert!(
        sample(&v5, "outpost_http_requests_total{route=\"/sync/v5/queued_records\",status=\"2xx\"}") >= 1.0,
        "{v5}"
    );
    assert_eq!(sample(&v5, "outpost_records_pushed_total"), 0.0, "nothing to push yet");

    {
        let mut conn = site.conn().await;
        let location = Location {
            id: "m-loc".into(),
            store_id: "metered-store".into(),
            code: "M".into(),
            name: "Shelf M".into(),
            on_hold: false,
        };
        records::upsert_location(&mut conn, &location).await.unwrap();
        for id in ["m-a1", "m-a2"] {
            let asset = Asset {
                id: id.into(),
                store_id: "metered-store".into(),
                code: id.into(),
                serial_number: format!("SN-{id}"),
                notes: String::new(),
            };
            records::upsert_asset(&mut conn, &asset).await.unwrap();
        }
    }
    assert_eq!(site.sync().await, None);
    let (v5, v6_after) = (metrics(&world.v5_url).await, metrics(&world.v6_url).await);
    assert_eq!(sample(&v5, "outpost_records_pushed_total"), 1.0, "the location went to V5:\n{v5}");
    assert_eq!(sample(&v6_after, "outpost_records_pushed_total"), 2.0, "the assets went to V6:\n{v6_after}");
    assert!(sample(&v6_after, "outpost_integration_seconds_count") >= 1.0, "{v6_after}");
    assert!(sample(&v5, "outpost_integration_seconds_count") >= 1.0, "{v5}");
    assert_eq!(sample(&v6_after, "outpost_sites_seen"), 1.0, "{v6_after}");
    let pushes = "outpost_http_requests_total{route=\"/central/sync/push\",status=\"2xx\"}";
    assert!(sample(&v6_after, pushes) > sample(&v6, pushes), "{v6_after}");
    assert!(sample(&v6_after, "outpost_records_pulled_total") >= sample(&v6, "outpost_records_pulled_total"));
}

#[tokio::test]
async fn metrics_off_this_machine_need_the_token() {
    use tower::ServiceExt;
    let db = TestDb::sqlite();
    let mut state = outpost::central_v5::V5State::open(&db.url).await.unwrap();
    let request = || axum::http::Request::get("/metrics").body(axum::body::Body::empty()).unwrap();
    // Driven without a connection, the caller is not on loopback.
    let answer = outpost::central_v5::router(state.clone()).oneshot(request()).await.unwrap();
    assert_eq!(answer.status(), 403, "no token: only loopback callers");
    state.metrics = outpost::central_shared::metrics::Metrics::new(Some("a-long-random-token"));
    let router = outpost::central_v5::router(state);
    assert_eq!(router.clone().oneshot(request()).await.unwrap().status(), 403);
    let mut wrong = request();
    wrong.headers_mut().insert("authorization", "Bearer not-it".parse().unwrap());
    assert_eq!(router.clone().oneshot(wrong).await.unwrap().status(), 403);
    let mut right = request();
    right.headers_mut().insert("authorization", "Bearer a-long-random-token".parse().unwrap());
    assert_eq!(router.oneshot(right).await.unwrap().status(), 200);
}

/// Behind a reverse proxy on the same host every caller's connection comes from loopback, so
/// without a token a request the proxy says it forwarded is refused, with the hint; the same
/// scrape made on this machine directly is answered.
#[tokio::test]
async fn without_a_token_metrics_forwarded_by_a_reverse_proxy_on_this_machine_are_refused() {
    let db = TestDb::sqlite();
    let state = outpost::central_v5::V5State::open(&db.url).await.unwrap();
    let server = outpost::central_v5::serve_state(any_port(), state).await.unwrap();
    let url = format!("{}/metrics", server.url());
    for (name, value) in [("x-forwarded-for", "203.0.113.9"), ("forwarded", "for=203.0.113.9;proto=https")] {
        let answer = outpost_testkit::http_client().get(&url).header(name, value).send().await.unwrap();
        assert_eq!(answer.status(), 403, "{name}");
        assert!(answer.text().await.unwrap().contains("--metrics-token"), "the refusal says what to do");
    }
    metrics(&server.url()).await;
}
