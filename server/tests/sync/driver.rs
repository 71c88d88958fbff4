//! The driver's promises, observed from outside: a press during a run queues exactly one
//! follow-up, the interval is re-read from the settings on every loop, a disabled site runs
//! nothing and says so, and a successful run clears the previous run's error.
//!
//! Runs are caught mid-way by holding the site-info call (the first request of every run) at
//! a relay in front of the V5 central, so "during a run" is a state, not a race.

use std::time::Duration;

use outpost::site::sync::kv;
use outpost_api::{RunQueued, SyncSettingsInput};
use outpost_testkit::prelude::*;

const SITE_INFO: &str = "/sync/v5/site";

fn input(url: &str, name: &str, interval_seconds: u64, is_disabled: bool) -> SyncSettingsInput {
    SyncSettingsInput {
        url: url.into(),
        site_name: name.into(),
        password: "pw".into(),
        interval_seconds,
        batch_size_push: None,
        batch_size_pull: None,
        is_disabled,
    }
}

/// A site talking to the V5 central through a proxy, configured and synced once.
async fn synced_site(world: &World, name: &str) -> (TestSite, Relay) {
    let v5 = Relay::start(&world.v5_url).await;
    world.add_site(name, "pw", &[&format!("{name}-store")]).await;
    let site = TestSite::start(fast()).await;
    // Saving triggers the first run.
    outpost::site::settings::save(&site.state, input(&v5.url, name, 3600, false)).await.unwrap();
    site.state.sync.wait_for_runs(1).await;
    assert_eq!(site.state.sync.latest_error(), None);
    (site, v5)
}

/// Press Sync now the way the app does (no admin needed, only the CSRF header).
async fn press(site: &TestSite) -> reqwest::Response {
    outpost_testkit::http_client()
        .post(format!("{}/api/sync/run", site.url))
        .header(outpost_api::CSRF_HEADER, "1")
        .send()
        .await
        .unwrap()
}

async fn press_queued(site: &TestSite) -> bool {
    let reply = press(site).await;
    assert_eq!(reply.status().as_u16(), 202);
    reply.json::<RunQueued>().await.unwrap().queued
}

async fn logged_runs(site: &TestSite) -> i64 {
    site.count("SELECT COUNT(*) FROM sync_log").await
}

#[tokio::test]
async fn two_presses_during_a_run_queue_one_follow_up_run_not_two() {
    let world = World::start().await;
    let (site, v5) = synced_site(&world, "press").await;
    let (runs, logged) = (site.state.sync.completed_runs(), logged_runs(&site).await);
    v5.hold(Hold::every(SITE_INFO));

    // Idle: the press starts a run at once, nothing is "queued".
    assert!(!press_queued(&site).await);
    v5.wait_held(1).await;
    assert!(site.state.sync.is_running());
    assert!(press_queued(&site).await, "the first press during a run queues the follow-up");
    assert!(!press_queued(&site).await, "a second press during the same run adds nothing");

    // Let the run end; the follow-up starts and is caught at its own site-info call.
    v5.release(1);
    v5.wait_held(2).await;
    assert_eq!(site.state.sync.completed_runs(), runs + 1);
    // The queue is empty again (a press can queue), so the two presses made one follow-up.
    assert!(press_queued(&site).await, "nothing else was left queued behind the follow-up");

    v5.release_all();
    site.state.sync.wait_for_runs(runs + 3).await;
    assert_eq!(logged_runs(&site).await, logged + 3, "the run, its one follow-up, and the last press's");
    assert_eq!(site.state.sync.latest_error(), None);
}

#[tokio::test]
async fn a_shorter_interval_saved_in_the_settings_starts_runs_without_a_trigger() {
    let world = World::start().await;
    let (site, v5) = synced_site(&world, "interval").await;
    let runs = site.state.sync.completed_runs();
    let reply = site
        .admin()
        .await
        .put(format!("{}/api/settings/sync", site.url))
        .json(&input(&v5.url, "interval", 1, false))
        .send()
        .await
        .unwrap();
    assert!(reply.status().is_success(), "{}", reply.status());
    // Saving triggers one run; the next comes from the new 1-second interval, not a trigger.
    site.state.sync.wait_for_runs(runs + 1).await;
    let logged = logged_runs(&site).await;
    eventually(Duration::from_secs(10), || async { logged_runs(&site).await > logged }).await;
    eventually(Duration::from_secs(10), || async { site.state.sync.completed_runs() >= runs + 2 }).await;
    assert_eq!(site.state.sync.latest_error(), None);
}

#[tokio::test]
async fn disabled_sync_runs_nothing_and_sync_now_says_it_is_disabled() {
    let world = World::start().await;
    let (site, v5) = synced_site(&world, "off").await;
    let admin = site.admin().await;
    let reply = admin
        .put(format!("{}/api/settings/sync", site.url))
        .json(&input(&v5.url, "off", 3600, true))
        .send()
        .await
        .unwrap();
    assert!(reply.status().is_success(), "{}", reply.status());
    let before = site.status().await;
    let logged = logged_runs(&site).await;
    v5.hold(Hold::every(SITE_INFO));

    let reply = press(&site).await;
    assert_eq!(reply.status().as_u16(), 409);
    let body: outpost_api::ApiErrorBody = reply.json().await.unwrap();
    assert!(body.error.message.contains("disabled"), "{}", body.error.message);

    // A run asked for in-process passes through the driver and does nothing at all.
    assert_eq!(site.sync().await, None);
    assert_eq!(v5.held(), 0, "no call reached the central");
    assert_eq!(logged_runs(&site).await, logged, "no run was logged");
    let after = site.status().await;
    assert!(!after.is_syncing);
    assert_eq!(after.last_sync, before.last_sync);
    v5.release_all();
}

#[tokio::test]
async fn the_error_clears_on_the_next_successful_run() {
    let world = World::start().await;
    let (site, _v5) = synced_site(&world, "clears").await;
    let right = kv::get_string(&site.state.db, kv::PASSWORD_SHA256).await.unwrap().unwrap();
    site.set_kv_string(kv::PASSWORD_SHA256, &outpost::wire::v5::password_sha256("wrong")).await;
    assert_eq!(site.sync().await.map(|e| e.variant).as_deref(), Some("INCORRECT_PASSWORD"));
    assert!(site.status().await.error.is_some());

    site.set_kv_string(kv::PASSWORD_SHA256, &right).await;
    assert_eq!(site.sync().await, None);
    let status = site.status().await;
    assert_eq!(status.error, None, "the last run succeeded, so no error is shown");
    let (last, success) = (status.last_sync.unwrap(), status.last_successful_sync.unwrap());
    assert_eq!(last.started, success.started, "the last run is the last successful one");
}
