//! A record integration cannot apply is quarantined with its reason, never blocks the others,
//! is retried, and integrates once the central sends a fixed copy.

use outpost_api::QuarantinedRecord;
use outpost_testkit::prelude::*;
use serde_json::{Value, json};

fn location(id: &str, store: &str, hold: Value) -> Value {
    json!({"ID": id, "code": id, "Description": id, "Comment": "", "Volume": 0, "type_ID": "", "object_type": "",
        "parent_id": "", "Colour": "", "bottom_y_coordinate": 0, "summary_only": false, "store_ID": store,
        "priority": 0, "hold": hold, "replenishment_type": "", "asset_ID": ""})
}

async fn quarantine(site: &TestSite) -> Vec<QuarantinedRecord> {
    outpost_testkit::http_get(format!("{}/api/sync/quarantine", site.url)).await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn a_poison_record_is_quarantined_while_others_integrate_and_integrates_once_fixed() {
    let world = World::start().await;
    world.add_site("q", "pw", &["q-store"]).await;
    let db = &world.v5_state.db;
    outpost::central_v5::admin::upsert(db, "Location", &location("good", "q-store", json!(false))).await.unwrap();
    outpost::central_v5::admin::upsert(db, "Location", &location("poison", "q-store", json!("not a bool")))
        .await
        .unwrap();
    let site = TestSite::start(fast()).await;
    site.configure(&world, "q", "pw").await;
    site.state.sync.wait_for_runs(1).await;
    assert_eq!(site.state.sync.latest_error(), None, "a bad record does not fail the run");
    assert_eq!(site.count("SELECT COUNT(*) FROM location WHERE id = 'good'").await, 1);
    assert_eq!(site.count("SELECT COUNT(*) FROM location WHERE id = 'poison'").await, 0);
    let held = quarantine(&site).await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!((held[0].table.as_str(), held[0].record_id.as_str()), ("location", "poison"));
    assert!(!held[0].reason.is_empty());

    // Retried on the next run (still bad: still quarantined, nothing else affected).
    let retry = site.admin().await.post(format!("{}/api/sync/quarantine/retry", site.url)).send().await.unwrap();
    assert_eq!(retry.status().as_u16(), 202);
    assert_eq!(site.sync().await, None);
    assert_eq!(quarantine(&site).await.len(), 1);

    // Fixed at the central: the new copy replaces the quarantined one and integrates.
    outpost::central_v5::admin::upsert(db, "Location", &location("poison", "q-store", json!(true))).await.unwrap();
    assert_eq!(site.sync().await, None);
    assert_eq!(site.count("SELECT COUNT(*) FROM location WHERE id = 'poison'").await, 1);
    assert!(quarantine(&site).await.is_empty());
}

#[tokio::test]
async fn a_site_record_that_cannot_be_rendered_for_a_push_is_listed_as_outgoing_not_skipped_silently() {
    let world = World::start().await;
    world.add_site("render", "pw", &["render-store"]).await;
    let site = TestSite::start(fast()).await;
    site.configure(&world, "render", "pw").await;
    assert_eq!(site.sync().await, None, "the first sync");
    let admin = site.admin().await;
    for id in ["broken", "fine"] {
        let body = json!({"id": id, "storeId": "render-store", "code": id, "name": id});
        let r = admin.post(format!("{}/api/store-data/locations", site.url)).json(&body).send().await.unwrap();
        assert!(r.status().is_success());
    }
    sqlx::query("UPDATE location SET legacy_extra = 'not json' WHERE id = 'broken'")
        .execute(&site.state.db)
        .await
        .unwrap();
    assert_eq!(site.sync().await, None, "the run goes on");
    assert_eq!(world.v5_count("Location").await, 1, "the other location was sent");
    let listed = quarantine(&site).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!((listed[0].direction, listed[0].record_id.as_str()), (outpost_api::Direction::Outgoing, "broken"));
    assert!(listed[0].reason.contains("corrupt legacy_extra"), "{}", listed[0].reason);
    assert_eq!(site.state.sync.records_to_push().await.unwrap(), 0);
}
