//! The status the Sync page polls, checked from another HTTP client while runs go on: step
//! progress is visible mid-step (integration included, though it holds one long transaction)
//! and follows the rule "first report sets the total, later ones set done" (done never goes
//! back, even when a central grows during the pull); and
//! `recordsToPush` counts the records a run will send, not changelog rows.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::Method;
use outpost::records;
use outpost_api::{Asset, Location, StepKey, SyncSettingsInput, SyncStatus};
use outpost_testkit::prelude::*;

/// Poll `GET /api/sync/status` from its own client until `stop`; every answer, in order.
fn poll_status(url: String, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Vec<SyncStatus>> {
    tokio::spawn(async move {
        let client = outpost_testkit::http_client();
        let mut seen = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let reply = client.get(format!("{url}/api/sync/status")).send().await.unwrap();
            seen.push(reply.json::<SyncStatus>().await.unwrap());
        }
        seen
    })
}

/// Within one run, per step: the total never changes once set, and done never goes back.
fn assert_progress_only_moves_forward(looks: &[SyncStatus]) {
    let mut last: HashMap<StepKey, (Option<u64>, Option<u64>)> = HashMap::new();
    for look in looks {
        for step in &look.steps {
            if let Some((total, done)) = last.get(&step.key) {
                if total.is_some() {
                    assert_eq!(step.total, *total, "{:?}: the total changed", step.key);
                }
                assert!(step.done >= *done, "{:?}: done went back from {done:?} to {:?}", step.key, step.done);
            }
            if let (Some(total), Some(done)) = (step.total, step.done) {
                assert!(done <= total, "{:?}: done {done} above total {total}", step.key);
            }
            last.insert(step.key, (step.total, step.done));
        }
    }
}

fn seen_mid_step(looks: &[SyncStatus], key: StepKey) -> usize {
    looks
        .iter()
        .filter_map(|l| l.steps.iter().find(|s| s.key == key))
        .filter(|s| matches!((s.total, s.done), (Some(t), Some(d)) if 0 < d && d < t))
        .count()
}

#[tokio::test]
async fn pull_and_integration_progress_is_visible_to_other_connections_during_the_run() {
    let world = World::start().await;
    world.add_site("live", "pw", &["live-store"]).await;
    outpost::central_v5::seed::seed(&world.v5_state.db, 5_000, &["live-store".to_owned()]).await.unwrap();
    let site = TestSite::start(fast()).await;
    let stop = Arc::new(AtomicBool::new(false));
    let poller = poll_status(site.url.clone(), stop.clone());
    let input = SyncSettingsInput {
        url: world.v5_url.clone(),
        site_name: "live".into(),
        password: "pw".into(),
        interval_seconds: 3600,
        batch_size_push: None,
        batch_size_pull: Some(250),
        is_disabled: false,
    };
    // Saving starts the first run, which pulls and integrates everything.
    outpost::site::settings::save(&site.state, input).await.unwrap();
    site.state.sync.wait_for_runs(1).await;
    stop.store(true, Ordering::Relaxed);
    assert_eq!(site.state.sync.latest_error(), None);
    let looks: Vec<SyncStatus> = poller.await.unwrap().into_iter().filter(|l| l.is_syncing).collect();
    let (pull, integration) = (seen_mid_step(&looks, StepKey::PullRemote), seen_mid_step(&looks, StepKey::Integration));
    eprintln!("{} looks during the run: {pull} mid Pull Remote, {integration} mid Integrate", looks.len());
    assert!(pull > 0, "Pull Remote was never seen part-way");
    assert!(integration > 0, "Integrate was never seen part-way");
    assert_progress_only_moves_forward(&looks);
    let end = site.status().await;
    let integrate = end.steps.iter().find(|s| s.key == StepKey::Integration).unwrap();
    assert!(integrate.total.unwrap() >= 5_000 && integrate.done == integrate.total, "{integrate:?}");
}

fn location(id: &str, name: &str) -> Location {
    Location {
        id: id.into(),
        store_id: "count-store".into(),
        code: id.to_uppercase(),
        name: name.into(),
        on_hold: false,
    }
}

#[tokio::test]
async fn records_to_push_counts_records_that_will_be_sent_not_changelog_rows() {
    let world = World::start().await;
    let v6 = Relay::start(&world.v6_url).await;
    world.add_site_with_v6("count", "pw", &["count-store"], &v6.url).await;
    let central = serde_json::json!({"ID": "count-central", "code": "C", "Description": "Central", "store_ID": "count-store", "hold": false});
    outpost::central_v5::admin::upsert(&world.v5_state.db, "Location", &central).await.unwrap();
    let site = TestSite::start(fast()).await;
    site.configure(&world, "count", "pw").await;
    site.state.sync.wait_for_runs(1).await;
    assert_eq!(site.state.sync.latest_error(), None);
    // Received rows (the store, the central's location, …) are in the changelog, but not to send.
    assert!(site.count("SELECT COUNT(*) FROM changelog WHERE is_sync_update = 1").await > 0);
    assert_eq!(site.status().await.records_to_push, 0);

    let mut conn = site.conn().await;
    for name in ["first", "second", "third"] {
        records::upsert_location(&mut conn, &location("loc", name)).await.unwrap();
    }
    assert_eq!(site.count("SELECT COUNT(*) FROM changelog WHERE record_id = 'loc'").await, 3);
    assert_eq!(site.status().await.records_to_push, 1, "three edits of one location send one record");

    let asset = Asset {
        id: "asset".into(),
        store_id: "count-store".into(),
        code: "A".into(),
        serial_number: "S".into(),
        notes: String::new(),
    };
    records::upsert_asset(&mut conn, &asset).await.unwrap();
    assert_eq!(site.status().await.records_to_push, 2, "a location (to V5) and an asset (to V6)");

    // A change of a table no central takes from a site (an item) is never sent.
    sqlx::query("INSERT INTO changelog (table_name, record_id, row_action, is_sync_update) VALUES ('item', 'some-item', 'UPSERT', 0)")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(site.status().await.records_to_push, 2);

    // A push that fails sends nothing, so the count stays.
    v6.fail(Method::POST, "/central/sync/push", 0);
    assert_eq!(site.sync().await.and_then(|e| e.step), Some(StepKey::PushV6));
    assert_eq!(site.status().await.records_to_push, 2);
    assert_eq!(site.sync().await, None);
    assert_eq!(site.status().await.records_to_push, 0);
}

fn done(status: &SyncStatus, key: StepKey) -> Option<u64> {
    status.steps.iter().find(|s| s.key == key).unwrap().done
}

#[tokio::test]
async fn pull_progress_never_goes_back_when_the_central_grows_during_the_pull() {
    let world = World::start().await;
    world.add_site("grow", "pw", &["grow-store"]).await;
    outpost::central_v5::seed::seed(&world.v5_state.db, 30, &[]).await.unwrap();
    let v5 = Relay::start(&world.v5_url).await;
    let site = TestSite::start(fast()).await;
    let input = SyncSettingsInput {
        url: v5.url.clone(),
        site_name: "grow".into(),
        password: "pw".into(),
        interval_seconds: 3600,
        batch_size_push: None,
        batch_size_pull: Some(3),
        is_disabled: true,
    };
    // Saved disabled so no run starts on its own; enabled without a trigger.
    outpost::site::settings::save(&site.state, input).await.unwrap();
    outpost::site::sync::kv::set_bool(&site.state.db, outpost::site::sync::kv::IS_DISABLED, false).await.unwrap();

    // Catch Pull Central between pages: after page 1 is stored, more central data arrives.
    v5.hold(Hold::every("/sync/v5/central_records"));
    let engine = site.state.sync.clone();
    let run = tokio::spawn(async move { engine.sync_and_wait().await });
    v5.wait_held(1).await;
    v5.release(1);
    v5.wait_held(2).await;
    // Pull Central asks for page 2 while it stores page 1: wait for page 1's report.
    let before = loop {
        if let Some(d) = done(&site.status().await, StepKey::PullCentral).filter(|d| *d > 0) {
            break d;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    outpost::central_v5::seed::seed(&world.v5_state.db, 30, &[]).await.unwrap();
    v5.release(1);
    v5.wait_held(3).await;
    let after = done(&site.status().await, StepKey::PullCentral).unwrap();
    assert!(after >= before, "done went back from {before} to {after}");

    v5.release_all();
    assert_eq!(run.await.unwrap(), None);
    let status = site.status().await;
    let pull = status.steps.iter().find(|s| s.key == StepKey::PullCentral).unwrap();
    assert_eq!(pull.done, pull.total, "the step ends complete");
}
