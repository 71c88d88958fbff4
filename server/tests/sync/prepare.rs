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
