//! Whole runs against the real centrals: the first sync restores a site, the push routing
//! ("processed twice, sent once"), live totals, and the skipped pushes before initialisation.

use outpost::records;
use outpost_api::{Asset, Initialisation, Location, StepKey, StepState, SyncStatus};
use outpost_testkit::prelude::*;
use serde_json::json;

fn step(status: &SyncStatus, key: StepKey) -> &outpost_api::SyncStep {
    status.steps.iter().find(|s| s.key == key).unwrap()
}

fn location(id: &str, store: &str) -> Location {
    Location {
        id: id.into(),
        store_id: store.into(),
        code: id.to_uppercase(),
        name: format!("Shelf {id}"),
        on_hold: false,
    }
}

fn asset(id: &str, store: &str) -> Asset {
    Asset {
        id: id.into(),
        store_id: store.into(),
        code: id.to_uppercase(),
        serial_number: format!("SN-{id}"),
        notes: String::new(),
    }
}

async fn central_location(world: &World, id: &str, store: &str) {
    let record = json!({"ID": id, "code": id, "Description": format!("Central {id}"), "Comment": "", "Volume": 0,
        "type_ID": "", "object_type": "", "parent_id": "", "Colour": "", "bottom_y_coordinate": 0,
        "summary_only": false, "store_ID": store, "priority": 0, "hold": false, "replenishment_type": "", "asset_ID": ""});
    outpost::central_v5::admin::upsert(&world.v5_state.db, "Location", &record).await.unwrap();
}

#[tokio::test]
async fn first_sync_skips_pushes_and_integrates_what_the_centrals_hold() {
    let world = World::start().await;
    world.add_site("first", "pw", &["first-store"]).await;
    central_location(&world, "loc-central", "first-store").await;
    let site = TestSite::start(fast()).await;
    // Saving the settings starts the first run.
    site.configure(&world, "first", "pw").await;
    site.state.sync.wait_for_runs(1).await;
    assert_eq!(site.state.sync.latest_error(), None);
    let status = site.status().await;
    assert_eq!(status.initialisation, Initialisation::Initialised);
    assert_eq!(step(&status, StepKey::PrepareInitial).state, StepState::Done);
    assert_eq!(step(&status, StepKey::PushV6).state, StepState::Skipped);
    assert_eq!(step(&status, StepKey::Push).state, StepState::Skipped);
    for key in [StepKey::PullCentral, StepKey::PullRemote, StepKey::PullV6, StepKey::Integration] {
        assert_eq!(step(&status, key).state, StepState::Done, "{key:?}");
    }
    let integrate = step(&status, StepKey::Integration);
    assert!(integrate.total.unwrap() > 0 && integrate.done == integrate.total, "{integrate:?}");
    assert_eq!(site.count("SELECT COUNT(*) FROM location WHERE id = 'loc-central'").await, 1);
    assert_eq!(site.count("SELECT COUNT(*) FROM store WHERE id = 'first-store'").await, 1);
    assert_eq!(site.count("SELECT COUNT(*) FROM sync_buffer WHERE integration_error IS NOT NULL").await, 0);
    assert_eq!(status.records_to_push, 0, "received records are never pushed back");
    assert!(status.last_successful_sync.is_some());

    // A second run: Prepare is not repeated and the pushes now run.
    assert_eq!(site.sync().await, None);
    let status = site.status().await;
    assert_eq!(step(&status, StepKey::PrepareInitial).state, StepState::Skipped);
    assert_eq!(step(&status, StepKey::Push).state, StepState::Done);
}

#[tokio::test]
async fn two_locations_and_two_assets_are_processed_by_both_pushes_and_sent_once_each() {
    let world = World::start().await;
    world.add_site("route", "pw", &["route-store"]).await;
    let site = TestSite::start(fast()).await;
    site.configure(&world, "route", "pw").await;
    assert_eq!(site.sync().await, None);
    let locations_before = world.v5_count("Location").await;
    let assets_before = world.v6_count("asset").await;
    {
        let mut conn = site.conn().await;
        records::upsert_location(&mut conn, &location("l1", "route-store")).await.unwrap();
        records::upsert_location(&mut conn, &location("l2", "route-store")).await.unwrap();
        records::upsert_asset(&mut conn, &asset("a1", "route-store")).await.unwrap();
        records::upsert_asset(&mut conn, &asset("a2", "route-store")).await.unwrap();
    }
    assert_eq!(site.status().await.records_to_push, 4);
    assert_eq!(site.sync().await, None);
    let status = site.status().await;
    assert_eq!(step(&status, StepKey::PushV6).total, Some(4));
    assert_eq!(step(&status, StepKey::PushV6).done, Some(4));
    assert_eq!(step(&status, StepKey::Push).total, Some(4));
    assert_eq!(step(&status, StepKey::Push).done, Some(4));
    assert_eq!(world.v5_count("Location").await - locations_before, 2, "2 locations reach the V5 central");
    assert_eq!(world.v6_count("asset").await - assets_before, 2, "2 assets reach the V6 central");
    assert_eq!(status.records_to_push, 0);
}

#[tokio::test]
async fn a_new_device_restores_the_sites_data_from_the_v5_queue_and_from_v6() {
    let world = World::start().await;
    world.add_site("restore", "pw", &["restore-store"]).await;
    let old = TestSite::start(fast()).await;
    old.configure(&world, "restore", "pw").await;
    assert_eq!(old.sync().await, None);
    {
        let mut conn = old.conn().await;
        records::upsert_location(&mut conn, &location("kept-loc", "restore-store")).await.unwrap();
        records::upsert_asset(&mut conn, &asset("kept-asset", "restore-store")).await.unwrap();
    }
    assert_eq!(old.sync().await, None);
    old.running.stop().await;

    // The old device is gone; the site is unlocked for a new one with an empty database.
    outpost::central_v5::admin::reset_hardware_id(&world.v5_state.db, "restore").await.unwrap();
    let new = TestSite::start(fast()).await;
    new.configure(&world, "restore", "pw").await;
    new.state.sync.wait_for_runs(1).await;
    assert_eq!(new.state.sync.latest_error(), None);
    assert_eq!(new.count("SELECT COUNT(*) FROM location WHERE id = 'kept-loc'").await, 1, "from the V5 queue");
    assert_eq!(new.count("SELECT COUNT(*) FROM asset WHERE id = 'kept-asset'").await, 1, "from V6");
    assert_eq!(new.status().await.records_to_push, 0, "restored records are not pushed back");
}
