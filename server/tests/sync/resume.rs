//! A run interrupted at each step resumes on the next run without losing or repeating data:
//! cursors advance per batch, pages and cursors commit together, the queue is acknowledged
//! only after its batch is stored. Faults come from a proxy in front of each central.

use axum::http::Method;
use outpost::records;
use outpost_api::{Asset, Location, StepKey};
use outpost_testkit::prelude::*;
use serde_json::json;

async fn site_behind_proxies(world: &World, name: &str) -> (TestSite, Relay, Relay) {
    let v5 = Relay::start(&world.v5_url).await;
    let v6 = Relay::start(&world.v6_url).await;
    world.add_site_with_v6(name, "pw", &[&format!("{name}-store")], &v6.url).await;
    let site = TestSite::start(fast()).await;
    let input = outpost_api::SyncSettingsInput {
        url: v5.url.clone(),
        site_name: name.into(),
        password: "pw".into(),
        interval_seconds: 3600,
        batch_size_push: Some(2),
        batch_size_pull: Some(3),
        is_disabled: true,
    };
    // Saved disabled so no run starts behind our back; then enabled without a trigger.
    outpost::site::settings::save(&site.state, input).await.unwrap();
    outpost::site::sync::kv::set_bool(&site.state.db, outpost::site::sync::kv::IS_DISABLED, false).await.unwrap();
    (site, v5, v6)
}

#[tokio::test]
async fn pulls_interrupted_at_every_step_resume_without_loss_or_duplication() {
    let world = World::start().await;
    let (site, v5, v6) = site_behind_proxies(&world, "pulls").await;
    for i in 0..5 {
        let record = json!({"ID": format!("loc{i}"), "code": format!("L{i}"), "Description": "", "store_ID": "pulls-store", "hold": false});
        outpost::central_v5::admin::upsert(&world.v5_state.db, "Location", &record).await.unwrap();
    }
    for i in 0..4 {
        let asset = json!({"id": format!("asset{i}"), "store_id": "pulls-store", "notes": "", "asset_number": format!("A{i}"),
                           "created_datetime": "2024-01-01T00:00:00", "modified_datetime": "2024-01-01T00:00:00"});
        outpost::central_v6::records::upsert_asset(&world.v6_state.db, &asset, None).await.unwrap();
    }
    let faults = [
        (&v5, Method::GET, "/sync/v5/central_records", 1, StepKey::PullCentral),
        (&v5, Method::GET, "/sync/v5/queued_records", 1, StepKey::PullRemote),
        (&v5, Method::POST, "/sync/v5/acknowledged_records", 0, StepKey::PullRemote),
        (&v6, Method::POST, "/central/sync/pull", 1, StepKey::PullV6),
    ];
    for (proxy, method, path, skip, step) in faults {
        proxy.fail(method, path, skip);
        let error = site.sync().await.unwrap_or_else(|| panic!("a fault at {path} ends the run"));
        assert_eq!(error.step, Some(step), "{path}: {error:?}");
    }
    assert_eq!(site.sync().await, None);
    assert_eq!(v5.failures() + v6.failures(), 4);
    assert_eq!(site.count("SELECT COUNT(*) FROM location WHERE id LIKE 'loc%'").await, 5);
    assert_eq!(site.count("SELECT COUNT(*) FROM asset WHERE id LIKE 'asset%'").await, 4);
    assert_eq!(
        site.count(
            "SELECT COUNT(*) FROM sync_buffer WHERE integration_datetime IS NULL OR integration_error IS NOT NULL"
        )
        .await,
        0
    );
    // Each record was integrated once per copy received: a location from the queue, not twice.
    assert_eq!(site.count("SELECT COUNT(DISTINCT record_id) FROM changelog WHERE table_name = 'location'").await, 5);
}

#[tokio::test]
async fn pushes_interrupted_mid_way_resume_and_send_every_record_once() {
    let world = World::start().await;
    let (site, v5, v6) = site_behind_proxies(&world, "pushes").await;
    assert_eq!(site.sync().await, None);
    let (locations_before, assets_before) = (world.v5_count("Location").await, world.v6_count("asset").await);
    {
        let mut conn = site.conn().await;
        for i in 0..5 {
            let l = Location {
                id: format!("pl{i}"),
                store_id: "pushes-store".into(),
                code: format!("P{i}"),
                name: "n".into(),
                on_hold: false,
            };
            records::upsert_location(&mut conn, &l).await.unwrap();
            let a = Asset {
                id: format!("pa{i}"),
                store_id: "pushes-store".into(),
                code: format!("A{i}"),
                serial_number: "s".into(),
                notes: String::new(),
            };
            records::upsert_asset(&mut conn, &a).await.unwrap();
        }
    }
    assert_eq!(site.status().await.records_to_push, 10);
    v6.fail(Method::POST, "/central/sync/push", 1);
    assert_eq!(site.sync().await.unwrap().step, Some(StepKey::PushV6));
    v5.fail(Method::POST, "/sync/v5/queued_records", 1);
    assert_eq!(site.sync().await.unwrap().step, Some(StepKey::Push));
    assert!(site.status().await.records_to_push < 10, "what went through stays sent");
    assert_eq!(site.sync().await, None);
    assert_eq!(world.v5_count("Location").await - locations_before, 5);
    assert_eq!(world.v6_count("asset").await - assets_before, 5);
    assert_eq!(site.status().await.records_to_push, 0);
}
