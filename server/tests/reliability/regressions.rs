//! Regression tests for what the fault harness (`reliability::faults`) found, one per bug, each
//! reproducing the fault directly so it stays fixed without the harness.

use outpost::site::sync::kv;
use outpost_testkit::prelude::*;

/// A server that accepts each connection and closes it before answering (a dropped request).
async fn closing_server() -> String {
    let listener = tokio::net::TcpListener::bind(any_port()).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    url
}

#[tokio::test]
async fn a_connection_closed_before_the_answer_is_a_connection_error_not_unknown() {
    let world = World::start().await;
    world.add_site("closed", "pw", &["closed-store"]).await;
    let site = TestSite::start(fast()).await;
    site.configure(&world, "closed", "pw").await;
    assert_eq!(site.sync().await, None);
    site.set_kv_string(kv::URL, &closing_server().await).await;
    let error = site.sync().await.expect("the run fails");
    assert_eq!(error.variant, "CONNECTION_ERROR", "{}", error.full_error);
}

#[tokio::test]
async fn a_push_refused_while_the_central_is_still_integrating_waits_and_is_sent_again() {
    use outpost::central_shared::activity::Activity;
    let world = World::start().await;
    let site_id = world.add_site("busy", "pw", &["busy-store"]).await;
    let site = TestSite::start(fast()).await;
    site.configure(&world, "busy", "pw").await;
    assert_eq!(site.sync().await, None);
    {
        let mut conn = site.conn().await;
        let l = outpost_api::Location {
            id: "busy-loc".into(),
            store_id: "busy-store".into(),
            code: "B".into(),
            name: "n".into(),
            on_hold: false,
        };
        outpost::records::upsert_location(&mut conn, &l).await.unwrap();
    }
    // The previous integration (or a lost answer's) is still running when this run pushes.
    let busy = world
        .v5_state
        .activity
        .begin(site_id, Activity::Integrating)
        .await
        .unwrap()
        .unwrap_or_else(|_| panic!("idle before"));
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        drop(busy);
    });
    assert_eq!(site.sync().await, None, "the push waited for the central instead of failing");
    assert_eq!(world.v5_count("Location").await, 1);
}

/// Configure `site` to sync with the V5 central through `relay` (password "pw", `batch` records
/// a page both ways, or the defaults) without starting a run: saved disabled, then enabled in
/// its store, so the test decides when each run starts.
async fn configure_through(site: &TestSite, relay: &Relay, name: &str, batch: Option<u32>) {
    let input = outpost_api::SyncSettingsInput {
        url: relay.url.clone(),
        site_name: name.into(),
        password: "pw".into(),
        interval_seconds: 3600,
        batch_size_push: batch,
        batch_size_pull: batch,
        is_disabled: true,
    };
    outpost::site::settings::save(&site.state, input).await.unwrap();
    kv::set_bool(&site.state.db, kv::IS_DISABLED, false).await.unwrap();
}

/// Soak seed 9221416561697227009: a duplicated final push started a second integration on the
/// V5 central after Push had seen it idle, so Pull Remote's call met `sync_is_running` and the
/// run failed as UNKNOWN. Reproduced exactly: the relay holds Pull Remote's call (`method path`),
/// the final push is delivered again while the central's integration is paused, and the held
/// call then reaches a central that is still integrating. The run must wait and succeed.
async fn pull_remote_call_meets_a_central_still_integrating(method: axum::http::Method, path: &'static str) {
    use outpost::central_shared::activity::Activity;
    let world = World::start().await;
    let site_id = world.add_site("remote-busy", "pw", &["rb-store"]).await;
    let v5 = Relay::start(&world.v5_url).await;
    let site = TestSite::start(fast()).await;
    configure_through(&site, &v5, "remote-busy", Some(2)).await;
    assert_eq!(site.sync().await, None);
    // Store data for the site's queue, so Pull Remote fetches and acknowledges a page.
    let location = serde_json::json!({"ID": "rb-loc", "code": "RB", "Description": "Shelf", "store_ID": "rb-store", "hold": false});
    outpost::central_v5::admin::upsert(&world.v5_state.db, "Location", &location).await.unwrap();

    v5.hold(Hold::nth(method.clone(), path, 0).when(When::Before));
    let run = tokio::spawn({
        let state = site.state.clone();
        async move { state.sync.sync_and_wait().await }
    });
    assert!(v5.held_within(std::time::Duration::from_secs(20)).await, "Pull Remote never called {path}");
    let paused = world.v5_state.activity.pause_integration().await;
    assert_eq!(
        v5.replay_last(axum::http::Method::POST, "/sync/v5/queued_records").await,
        200,
        "the final push delivered again"
    );
    eventually(std::time::Duration::from_secs(5), || async {
        world.v5_state.activity.current(site_id).await.unwrap().map(|b| b.activity) == Some(Activity::Integrating)
    })
    .await;
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        drop(paused);
    });
    v5.release(1);
    let error = run.await.unwrap();
    assert_eq!(error, None, "Pull Remote waited for the central instead of failing");
    let refused =
        v5.entries().iter().filter(|e| e.method == method && e.path.ends_with(path) && e.status == 503).count();
    assert!(refused >= 1, "the central refused {path} while integrating (else this test proves nothing)");
    assert_eq!(site.count("SELECT COUNT(*) FROM location WHERE id = 'rb-loc'").await, 1);
}

#[tokio::test]
async fn pull_remote_waits_while_the_central_integrates_instead_of_failing() {
    pull_remote_call_meets_a_central_still_integrating(axum::http::Method::GET, "/sync/v5/queued_records").await;
}

#[tokio::test]
async fn pull_remote_acknowledgement_waits_while_the_central_integrates_instead_of_failing() {
    pull_remote_call_meets_a_central_still_integrating(axum::http::Method::POST, "/sync/v5/acknowledged_records").await;
}

/// Clean-clone CI, seed 10295678175676251554: Pull V6 met `IntegrationInProgress` (a duplicated
/// final push started a second integration on the V6 central after Push V6 had seen it idle)
/// and the run failed as UNKNOWN. Reproduced directly: the V6 central is integrating this site
/// when the run pulls; the run must wait and succeed.
#[tokio::test]
async fn pull_v6_waits_while_the_central_integrates_instead_of_failing() {
    use outpost::central_shared::activity::Activity;
    let world = World::start().await;
    let site_id = world.add_site("v6-busy", "pw", &["v6b-store"]).await;
    let site = TestSite::start(fast()).await;
    site.configure(&world, "v6-busy", "pw").await;
    assert_eq!(site.sync().await, None);
    let busy = world
        .v6_state
        .activity
        .begin(site_id, Activity::Integrating)
        .await
        .unwrap()
        .unwrap_or_else(|_| panic!("idle before"));
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        drop(busy);
    });
    let error = site.sync().await;
    assert_eq!(error, None, "Pull V6 waited for the central instead of failing");
}

/// CI seed 10052497597566903559 of the SQLite harness ended at Prepare as UNKNOWN ("preparation
/// as Started, not completed"); review 6 found how without a central restart: a duplicated
/// `initialise` reached the V5 central after the site had waited for its preparation, set
/// "started" anew and began another, so the site's check read "started" and spent its second
/// ask, and one more such duplicate failed the run. Reproduced: the relay holds Prepare's check
/// (`GET /site`, after the run's sign-in) twice, and each time the site's `initialise` is
/// delivered again while the central's preparations are paused. The run must wait for both
/// late preparations and succeed; with the wait removed it fails as PREPARATION_INCOMPLETE.
#[tokio::test]
async fn preparations_begun_by_duplicated_requests_after_the_wait_are_waited_for_not_failed() {
    use axum::http::Method;
    use outpost::central_shared::activity::Activity;
    let world = World::start().await;
    let site_id = world.add_site("late-prep", "pw", &["lp-store"]).await;
    let v5 = Relay::start(&world.v5_url).await;
    let site = TestSite::start(fast()).await;
    configure_through(&site, &v5, "late-prep", None).await;

    // The run's sign-in reads `/site` first; Prepare's check after its wait is the second read.
    v5.hold(Hold::nth(Method::GET, "/sync/v5/site", 1));
    let run = tokio::spawn({
        let state = site.state.clone();
        async move { state.sync.sync_and_wait().await }
    });
    for late in 0..2 {
        assert!(v5.held_within(std::time::Duration::from_secs(20)).await, "Prepare never checked /site ({late})");
        let paused = world.v5_state.activity.pause_integration().await;
        assert_eq!(v5.replay_last(Method::POST, "/sync/v5/initialise").await, 200, "initialise delivered again");
        eventually(std::time::Duration::from_secs(5), || async {
            world.v5_state.activity.current(site_id).await.unwrap().map(|b| b.activity) == Some(Activity::Initialising)
        })
        .await;
        if late == 0 {
            // The check after the first late preparation meets the second duplicate.
            v5.hold(Hold::nth(Method::GET, "/sync/v5/site", 0));
        }
        v5.release(1);
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            drop(paused);
        });
    }
    assert_eq!(run.await.unwrap(), None, "the run waited for both late preparations");
    let status = site.status().await;
    assert_eq!(status.initialisation, outpost_api::Initialisation::Initialised);
}

/// A server whose first request gets `first` (a status line) and every later one 200 `{}`;
/// the URL, and how many requests it has seen.
async fn first_answer_then_ok(first: &'static str) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(any_port()).await.unwrap();
    let url = format!("http://{}/central/sync/push", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let answer = if n == 0 {
                    format!("HTTP/1.1 {first}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                } else {
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}".to_owned()
                };
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    (url, seen)
}

/// Two-replica fault harness (CI seed 3221987513318788290, and 11977319780313213082 here): the
/// load balancer in front of the V6 replicas could not send a push to the replica it picked
/// (`502: error sending request`), and the run failed as CONNECTION_ERROR at once, though the
/// other replica was up. A proxy's 502 is a connect error one hop further: sent again, as those
/// are. A 504 is not (the central got that request and may still be working on it).
#[tokio::test]
async fn a_proxys_502_is_sent_again_not_a_failed_run() {
    use std::sync::atomic::Ordering;
    let client = outpost::wire::client::HttpClient::new(&fast().timeouts, None);
    let (url, seen) = first_answer_then_ok("502 Bad Gateway").await;
    let reply = client.send::<()>(axum::http::Method::GET, &url, |r| r, None).await.expect("answered");
    assert_eq!(reply.status, 200, "the second attempt, after the 502, was answered");
    assert_eq!(seen.load(Ordering::SeqCst), 2);

    let (url, seen) = first_answer_then_ok("504 Gateway Timeout").await;
    let reply = client.send::<()>(axum::http::Method::GET, &url, |r| r, None).await.expect("answered");
    assert_eq!(reply.status, 504, "a 504 is the answer: its request may still be running");
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}
