//! Prepare never lets a site count as initialised without its data: a preparation that died
//! part-way on the central is asked for again, and the site's store data arrives.

use outpost_api::{Initialisation, StepKey, StepState};
use outpost_testkit::prelude::*;
use serde_json::json;

#[tokio::test]
async fn a_preparation_left_started_by_a_central_restart_is_asked_for_again() {
    let world = World::start().await;
    let record = json!({"ID": "loc-own", "code": "A1", "Description": "Own shelf", "Comment": "", "Volume": 0,
        "type_ID": "", "object_type": "", "parent_id": "", "Colour": "", "bottom_y_coordinate": 0,
        "summary_only": false, "store_ID": "restarted-store", "priority": 0, "hold": false, "replenishment_type": "", "asset_ID": ""});
    // Written before the store is active on any site, so only a preparation queues it.
    outpost::central_v5::admin::upsert(&world.v5_state.db, "Location", &record).await.unwrap();
    world.add_site("restarted", "pw", &["restarted-store"]).await;
    // The central died while preparing this site: its status stays "started", nothing queued.
    sqlx::query("UPDATE site SET initialisation_status = 'started' WHERE name = 'restarted'")
        .execute(&world.v5_state.db.pool)
        .await
        .unwrap();

    let site = TestSite::start(fast()).await;
    site.configure(&world, "restarted", "pw").await;
    site.state.sync.wait_for_runs(1).await;
    assert_eq!(site.state.sync.latest_error(), None);
    let status = site.status().await;
    assert_eq!(status.initialisation, Initialisation::Initialised);
    let prepare = status.steps.iter().find(|s| s.key == StepKey::PrepareInitial).unwrap();
    assert_eq!(prepare.state, StepState::Done);
    assert_eq!(
        site.count("SELECT COUNT(*) FROM location WHERE id = 'loc-own'").await,
        1,
        "the site's own data arrived"
    );
}

/// A central that never completes a preparation (it restarts mid-way every time; here its
/// "completed" is silently dropped) fails the run with a variant that says so, never UNKNOWN,
/// and the next run after the central recovers initialises the site.
#[tokio::test]
async fn a_preparation_that_never_completes_fails_as_incomplete_and_the_next_run_initialises() {
    let world = World::start().await;
    world.add_site("flaky-prep", "pw", &["store_a"]).await;
    let drop_completed = "CREATE TRIGGER drop_completed BEFORE UPDATE OF initialisation_status ON site \
        WHEN NEW.initialisation_status = 'completed' BEGIN SELECT RAISE(IGNORE); END;";
    sqlx::raw_sql(sqlx::AssertSqlSafe(drop_completed)).execute(&world.v5_state.db.pool).await.unwrap();

    let site = TestSite::start(fast()).await;
    site.configure(&world, "flaky-prep", "pw").await;
    site.state.sync.wait_for_runs(1).await;
    let error = site.state.sync.latest_error().expect("the run cannot succeed");
    assert_eq!(error.variant, "PREPARATION_INCOMPLETE", "{error:#?}");
    assert!(error.full_error.contains("Started"), "the full error says what the central reported: {error:#?}");
    assert_ne!(site.status().await.initialisation, Initialisation::Initialised);

    sqlx::raw_sql("DROP TRIGGER drop_completed").execute(&world.v5_state.db.pool).await.unwrap();
    assert_eq!(site.sync().await, None, "the central recovered: the next run prepares the site");
    assert_eq!(site.status().await.initialisation, Initialisation::Initialised);
}

#[tokio::test]
async fn a_preparation_still_running_after_its_request_timed_out_is_waited_for_not_failed() {
    let world = World::start().await;
    world.add_site("slow-prep", "pw", &["store_a"]).await;
    // Hold every preparation on the central, so the site's initialise call hears nothing and
    // its idle-read limit gives up; its retry then meets the preparation still running.
    let hold = world.v5_state.activity.pause_integration().await;
    let mut config = fast();
    config.timeouts.idle_read = std::time::Duration::from_millis(300);
    let site = TestSite::start(config).await;
    site.configure(&world, "slow-prep", "pw").await;
    eventually(std::time::Duration::from_secs(10), || async {
        site.status().await.steps.iter().any(|s| s.key == StepKey::PrepareInitial && s.state == StepState::Active)
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    drop(hold);

    site.state.sync.wait_for_runs(1).await;
    assert_eq!(site.state.sync.latest_error(), None, "the run waited for the central's preparation");
    let status = site.status().await;
    assert_eq!(status.initialisation, Initialisation::Initialised);
    let prepare = status.steps.iter().find(|s| s.key == StepKey::PrepareInitial).unwrap();
    assert_eq!(prepare.state, StepState::Done);
}

/// Store records of `store` on the V5 central, so a preparation has something to copy.
async fn locations(world: &World, store: &str, n: usize) {
    for i in 0..n {
        let id = format!("{store}-loc-{i}");
        outpost::central_v5::admin::upsert(&world.v5_state.db, "Location", &location(&id, store)).await.unwrap();
    }
}

#[tokio::test]
async fn a_preparation_slower_than_the_sites_call_timeout_completes_and_the_run_succeeds() {
    // Six chunks (one per store table, and the transactions), each after a 250 ms pause.
    let world = World::builder().v5_tweak(|s| s.prepare_pause = std::time::Duration::from_millis(250)).start().await;
    world.add_site("slow", "pw", &["slow-store"]).await;
    locations(&world, "slow-store", 3).await;
    let mut config = fast();
    // The site hears nothing for at most 400 ms per call: far less than the preparation takes.
    config.timeouts.idle_read = std::time::Duration::from_millis(400);
    let site = TestSite::start(config).await;
    let started = std::time::Instant::now();
    site.configure(&world, "slow", "pw").await;
    site.state.sync.wait_for_runs(1).await;
    assert_eq!(site.state.sync.latest_error(), None, "the run waited for the preparation by polling");
    assert!(started.elapsed() > std::time::Duration::from_millis(1000), "the preparation was slow");
    assert_eq!(site.count("SELECT COUNT(*) FROM location WHERE store_id = 'slow-store'").await, 3);
    assert_eq!(site.status().await.initialisation, Initialisation::Initialised);
}

#[tokio::test]
async fn initialise_answers_at_once_and_other_sites_writes_do_not_wait_for_the_preparation() {
    use outpost::wire::v5::SiteStatusCode;
    let world = World::builder().v5_tweak(|s| s.prepare_pause = std::time::Duration::from_millis(400)).start().await;
    world.add_site("big", "pw", &["big-store"]).await;
    world.add_site("other", "pw", &["other-store"]).await;
    locations(&world, "big-store", 5).await;
    let big = V5Site::new(&world.v5_url, "big", "pw");
    let other = V5Site::new(&world.v5_url, "other", "pw");
    other.status().await;

    let asked = std::time::Instant::now();
    let answer = big.post("initialise", &json!({})).await;
    assert_eq!(answer.status(), 200);
    let answered = asked.elapsed();
    assert!(answered < std::time::Duration::from_millis(1500), "initialise answered after {answered:?}");
    assert_eq!(big.status().await, SiteStatusCode::InitialisationInProgress);
    // Asked again while it runs: "sync is running", and the site polls.
    assert_eq!(v5_error(big.post("initialise", &json!({})).await).await.0, 503);

    // Another site pushes and integrates meanwhile, without waiting for the preparation.
    let pushed = std::time::Instant::now();
    other.push(vec![push_record("Location", "other-loc", location("other-loc", "other-store"))]).await;
    other.push_end_and_wait().await;
    assert_eq!(
        big.status().await,
        SiteStatusCode::InitialisationInProgress,
        "the other site's push finished first ({:?})",
        pushed.elapsed()
    );
    assert_eq!(world.v5_count("Location").await, 6);

    eventually(std::time::Duration::from_secs(20), || async { big.status().await == SiteStatusCode::Idle }).await;
    let info: outpost::wire::v5::SiteInfo = V5Site::ok_json(big.get("site").await).await;
    assert_eq!(info.initialisation_status, outpost::wire::v5::InitialisationStatus::Completed);
    assert_eq!(big.drain(50).await.len(), 5, "the whole store was queued");
}
