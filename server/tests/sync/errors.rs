//! Each sync error variant provoked for real against the real V5 central (and a stalled link),
//! checking the variant, its message and hint, the full error, and the step that failed.

use std::time::Duration;

use outpost::site::sync::kv;
use outpost_api::{StepKey, StepState, SyncSettingsInput};
use outpost_testkit::prelude::*;

async fn configured_site(world: &World, name: &str) -> TestSite {
    world.add_site(name, "secret", &[&format!("{name}-store")]).await;
    let site = TestSite::start(fast()).await;
    site.configure(world, name, "secret").await;
    site
}

#[tokio::test]
async fn wrong_password_fails_the_run_as_incorrect_password_before_any_step() {
    let world = World::start().await;
    let site = configured_site(&world, "pw").await;
    site.set_kv_string(kv::PASSWORD_SHA256, &outpost::wire::v5::password_sha256("wrong")).await;
    let error = site.sync().await.expect("the run fails");
    assert_eq!(error.variant, "INCORRECT_PASSWORD");
    assert_eq!(error.message, "Incorrect password");
    assert!(error.hint.is_some());
    assert!(error.full_error.contains("route: '/sync/v5/site'"), "{}", error.full_error);
    assert_eq!(error.step, None, "site info fails before any step");
    let status = site.status().await;
    assert!(!status.is_syncing);
    assert_eq!(status.error.unwrap().variant, "INCORRECT_PASSWORD");
}

#[tokio::test]
async fn saving_settings_with_a_wrong_password_is_refused_on_the_password_field() {
    let world = World::start().await;
    world.add_site("pw2", "secret", &["pw2-store"]).await;
    let site = TestSite::start(fast()).await;
    let input = SyncSettingsInput {
        url: world.v5_url.clone(),
        site_name: "pw2".into(),
        password: "nope".into(),
        interval_seconds: 60,
        ..Default::default()
    };
    let reply = site.admin().await.put(format!("{}/api/settings/sync", site.url)).json(&input).send().await.unwrap();
    assert_eq!(reply.status().as_u16(), 422);
    let body: outpost_api::ApiErrorBody = reply.json().await.unwrap();
    assert_eq!(body.error.field.as_deref(), Some("password"));
    assert!(body.error.message.contains("Incorrect password"), "{}", body.error.message);
}

#[tokio::test]
async fn the_saved_password_is_never_reused_for_another_url() {
    let world = World::start().await;
    world.add_site("moving", "secret", &["moving-store"]).await;
    let site = TestSite::start(fast()).await;
    site.configure(&world, "moving", "secret").await;
    let elsewhere = SyncSettingsInput {
        url: "http://127.0.0.1:9".into(),
        site_name: "moving".into(),
        password: String::new(),
        interval_seconds: 60,
        ..Default::default()
    };
    let reply =
        site.admin().await.put(format!("{}/api/settings/sync", site.url)).json(&elsewhere).send().await.unwrap();
    assert_eq!(reply.status().as_u16(), 422);
    let body: outpost_api::ApiErrorBody = reply.json().await.unwrap();
    assert_eq!(body.error.field.as_deref(), Some("password"));
    // Same URL and name: an empty password keeps the saved one.
    let same = SyncSettingsInput { url: world.v5_url.clone(), ..elsewhere };
    let reply = site.admin().await.put(format!("{}/api/settings/sync", site.url)).json(&same).send().await.unwrap();
    assert_eq!(reply.status().as_u16(), 200, "{}", reply.text().await.unwrap());
}

#[tokio::test]
async fn unknown_site_fails_as_site_name_not_found() {
    let world = World::start().await;
    let site = configured_site(&world, "known").await;
    site.set_kv_string(kv::SITE_NAME, "unknown").await;
    let error = site.sync().await.expect("the run fails");
    assert_eq!(error.variant, "SITE_NAME_NOT_FOUND");
}

#[tokio::test]
async fn another_device_fails_as_hardware_id_mismatch() {
    let world = World::start().await;
    let site = configured_site(&world, "hw").await;
    // Settings validation bound the site to this device; pretend to be another one.
    site.set_kv_string(kv::HARDWARE_ID, "another-device").await;
    let error = site.sync().await.expect("the run fails");
    assert_eq!(error.variant, "HARDWARE_ID_MISMATCH");
    assert_eq!(error.message, "Incorrect hardware ID");
}

#[tokio::test]
async fn a_version_the_central_does_not_support_fails_as_api_version_incompatible() {
    let world = World::start().await;
    world.add_site("ver", "secret", &["ver-store"]).await;
    let good = TestSite::start(fast()).await;
    good.configure(&world, "ver", "secret").await;
    let hardware_id = kv::hardware_id(&good.state.db).await.unwrap();
    // Same device, same database, a client speaking version 99.
    let dir = good.dir;
    good.running.stop().await;
    let site = TestSite::start_in(dir, outpost::site::sync::EngineConfig { v5_api_version: 99, ..fast() }).await;
    assert_eq!(kv::hardware_id(&site.state.db).await.unwrap(), hardware_id);
    let error = site.sync().await.expect("the run fails");
    assert_eq!(error.variant, "API_VERSION_INCOMPATIBLE");
}

#[tokio::test]
async fn a_v6_version_the_central_does_not_support_fails_at_pull_v6() {
    let world = World::start().await;
    world.add_site("ver6", "secret", &["ver6-store"]).await;
    let site = TestSite::start(outpost::site::sync::EngineConfig { v6_version: 99, ..fast() }).await;
    site.configure(&world, "ver6", "secret").await;
    let error = site.sync().await.expect("the run fails");
    assert_eq!(error.variant, "V6_API_VERSION_INCOMPATIBLE");
    assert_eq!(error.step, Some(StepKey::PullV6));
}

#[tokio::test]
async fn a_central_that_is_down_fails_as_connection_error() {
    let mut world = World::start().await;
    let site = configured_site(&world, "down").await;
    world.stop_v5().await;
    let error = site.sync().await.expect("the run fails");
    assert_eq!(error.variant, "CONNECTION_ERROR");
    assert_eq!(error.message, "Unable to connect to server");
}

#[tokio::test]
async fn a_site_without_a_v6_central_fails_at_pull_v6_as_central_v6_not_configured() {
    let world = World::start().await;
    world.add_site_with_v6("nov6", "secret", &["nov6-store"], "").await;
    let site = TestSite::start(fast()).await;
    site.configure(&world, "nov6", "secret").await;
    let error = site.sync().await.expect("the run fails");
    assert_eq!(error.variant, "CENTRAL_V6_NOT_CONFIGURED");
    assert_eq!(error.step, Some(StepKey::PullV6));
    let status = site.status().await;
    let pull_v6 = status.steps.iter().find(|s| s.key == StepKey::PullV6).unwrap();
    assert_eq!(pull_v6.state, StepState::Error);
    let pull_central = status.steps.iter().find(|s| s.key == StepKey::PullCentral).unwrap();
    assert_eq!(pull_central.state, StepState::Done);
}

#[tokio::test]
async fn a_central_that_stops_answering_fails_as_timeout_not_unknown() {
    let world = World::start().await;
    let mut config = fast();
    config.timeouts.idle_read = Duration::from_millis(300);
    world.add_site("slow", "secret", &["slow-store"]).await;
    let site = TestSite::start(config).await;
    site.configure(&world, "slow", "secret").await;
    let (silent, _task) = silent_server().await;
    site.set_kv_string(kv::URL, &silent).await;
    let error = site.sync().await.expect("the run fails");
    assert_eq!(error.variant, "TIMEOUT");
    assert!(error.full_error.contains("Timed out"), "{}", error.full_error);
}

#[tokio::test]
async fn a_run_with_no_progress_for_the_stall_limit_fails_as_timeout() {
    let world = World::start().await;
    let mut config = fast();
    // The link itself would wait much longer; the run's own watchdog must end it.
    config.timeouts.idle_read = Duration::from_secs(60);
    config.stall_timeout = Duration::from_millis(400);
    world.add_site("stall", "secret", &["stall-store"]).await;
    let site = TestSite::start(config).await;
    site.configure(&world, "stall", "secret").await;
    let (silent, _task) = silent_server().await;
    site.set_kv_string(kv::URL, &silent).await;
    let started = std::time::Instant::now();
    let error = site.sync().await.expect("the run fails");
    assert_eq!(error.variant, "TIMEOUT");
    assert!(error.full_error.contains("no progress"), "{}", error.full_error);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn sync_now_before_configuring_is_a_clear_not_configured_error() {
    let site = TestSite::start(fast()).await;
    // Sync now needs no admin, only the CSRF header every state-changing request carries.
    let reply = outpost_testkit::http_client()
        .post(format!("{}/api/sync/run", site.url))
        .header(outpost_api::CSRF_HEADER, "1")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 409);
    let body: outpost_api::ApiErrorBody = reply.json().await.unwrap();
    assert_eq!(body.error.variant, "NOT_CONFIGURED");
    let status = site.status().await;
    assert!(!status.configured);
    assert_eq!(status.initialisation, outpost_api::Initialisation::PreInitialisation);
    assert_eq!(status.steps.len(), 7);
}

/// A trigger that makes every write of `record_id` into a central's `record` table fail, as a
/// full disk or a broken constraint would fail the central's integration.
async fn break_central_writes_of(db: &outpost::db::CentralDb, record_id: &str) {
    let sql = format!(
        "CREATE TRIGGER break_integration BEFORE INSERT ON record WHEN NEW.record_id = '{record_id}'
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&db.pool).await.unwrap();
}

async fn mend_central_writes(db: &outpost::db::CentralDb) {
    sqlx::query("DROP TRIGGER break_integration").execute(&db.pool).await.unwrap();
}

async fn initialised_site_with(world: &World, name: &str, kind: &str, body: serde_json::Value) -> TestSite {
    let site = configured_site(world, name).await;
    assert_eq!(site.sync().await, None, "the first sync");
    let r = site.admin().await.post(format!("{}/api/store-data/{kind}", site.url)).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    site
}

#[tokio::test]
async fn a_v5_central_whose_integration_of_the_push_failed_is_shown_as_integration_error_and_the_next_run_applies_it() {
    let world = World::start().await;
    let body = serde_json::json!({"id": "loc-boom", "storeId": "ie5-store", "code": "B", "name": "boom"});
    let site = initialised_site_with(&world, "ie5", "locations", body).await;
    break_central_writes_of(&world.v5_state.db, "loc-boom").await;
    let error = site.sync().await.expect("the run fails");
    assert_eq!(error.variant, "INTEGRATION_ERROR");
    assert_eq!(error.step, Some(StepKey::Push));
    assert_eq!(error.message, "The server experienced a problem.");
    assert!(error.hint.as_deref().is_some_and(|h| h.contains("Nothing is lost")), "{:?}", error.hint);
    assert!(error.full_error.contains("integration_error"), "{}", error.full_error);
    assert_eq!(world.v5_count("Location").await, 0);
    // Kept in the central's database, so a restart or another replica still reports it.
    let failures = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM integration_failure")
            .fetch_one(&world.v5_state.db.pool)
            .await
            .unwrap()
    };
    assert_eq!(failures().await, 1);

    mend_central_writes(&world.v5_state.db).await;
    assert_eq!(site.sync().await, None, "the next run integrates what the central kept");
    assert_eq!(world.v5_count("Location").await, 1);
    assert_eq!(failures().await, 0, "a successful integration clears it");
}

#[tokio::test]
async fn a_v6_central_whose_integration_of_the_push_failed_is_shown_as_integration_error_and_the_next_run_applies_it() {
    let world = World::start().await;
    let body = serde_json::json!({"id": "asset-boom", "storeId": "ie6-store", "code": "B", "serialNumber": "", "notes": "boom"});
    let site = initialised_site_with(&world, "ie6", "assets", body).await;
    break_central_writes_of(&world.v6_state.db, "asset-boom").await;
    let error = site.sync().await.expect("the run fails");
    assert_eq!(error.variant, "INTEGRATION_ERROR");
    assert_eq!(error.step, Some(StepKey::PushV6));
    assert!(error.full_error.contains("could not integrate"), "{}", error.full_error);
    assert_eq!(world.v6_count("asset").await, 0);

    // Nothing new to send, yet the next run asks the central to integrate what it holds.
    mend_central_writes(&world.v6_state.db).await;
    assert_eq!(site.sync().await, None);
    assert_eq!(world.v6_count("asset").await, 1);
}

#[tokio::test]
async fn a_failing_site_database_is_shown_as_database_error_not_unknown() {
    let world = World::start().await;
    let site = configured_site(&world, "dbe").await;
    assert_eq!(site.sync().await, None, "the first sync");
    outpost::central_v5::admin::upsert(&world.v5_state.db, "unit", &serde_json::json!({"ID": "u-new", "units": "box"}))
        .await
        .unwrap();
    // Storing what Pull Central received fails, as a full disk would.
    sqlx::query(
        "CREATE TRIGGER break_buffer BEFORE INSERT ON sync_buffer BEGIN SELECT RAISE(ABORT, 'injected disk failure'); END",
    )
    .execute(&site.state.db)
    .await
    .unwrap();
    let error = site.sync().await.expect("the run fails");
    assert_eq!(error.variant, "DATABASE_ERROR");
    assert_eq!(error.step, Some(StepKey::PullCentral));
    assert_eq!(error.message, "This server's database could not be read or written");
    assert!(error.hint.as_deref().is_some_and(|h| h.contains("disk")), "{:?}", error.hint);
    assert!(error.full_error.contains("injected disk failure"), "{}", error.full_error);
}
