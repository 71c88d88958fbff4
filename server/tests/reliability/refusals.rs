//! Records a central refuses, end to end with the real `outpost site` process (issue 11): a
//! refused record is set aside with the central's reason, the run finishes and its pulls run,
//! and nothing is left pending. The store-move case goes through the V5 central (its admin
//! command moves the store, run as its own process); the asset-move case through the V6 central.

use std::time::{Duration, Instant};

use axum::http::Method;
use outpost_api::{Direction, QuarantinedRecord, StepKey, StepState, SyncStatus};
use outpost_testkit::process::SiteProcess;
use outpost_testkit::{Hold, World, admin_client};
use serde_json::{Value, json};
use sqlx::Row;

use crate::crash::harness::{BIN, status, trigger, wait_quiet};

const SITE: &str = "refused-site";
const PASSWORD: &str = "refused-pw";
const STORE: &str = "refused-store";
const OTHER_SITE: &str = "other-site";
const OTHER_STORE: &str = "other-store";

/// Both centrals behind relays, this site and another site with a store of its own, and this
/// site's process configured and through its first sync.
async fn start() -> (World, SiteProcess, i64) {
    let centrals = World::builder().relays().start().await;
    centrals.add_site(SITE, PASSWORD, &[STORE]).await;
    let other = centrals.add_site(OTHER_SITE, "other-pw", &[OTHER_STORE]).await;
    let site = SiteProcess::start(BIN.as_ref(), &centrals.dir.path().join("site")).await;
    let admin = admin_client(&site.url).await;
    let input = json!({"url": centrals.site_v5_url(), "siteName": SITE, "password": PASSWORD, "intervalSeconds": 3600,
                       "batchSizePush": 4, "batchSizePull": 8, "isDisabled": false});
    let r = admin.put(format!("{}/api/settings/sync", site.url)).json(&input).send().await.unwrap();
    assert!(r.status().is_success(), "saving settings: {}", r.text().await.unwrap());
    wait_quiet(&site, None, Duration::from_secs(30)).await;
    (centrals, site, other)
}

async fn store_data(site: &SiteProcess, method: Method, path: &str, body: Value) {
    let admin = admin_client(&site.url).await;
    let r = admin.request(method, format!("{}/api/store-data/{path}", site.url)).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.text().await.unwrap());
}

async fn quarantine(site: &SiteProcess) -> Vec<QuarantinedRecord> {
    outpost_testkit::http_get(format!("{}/api/sync/quarantine", site.url)).await.unwrap().json().await.unwrap()
}

async fn sync_once(site: &SiteProcess) -> SyncStatus {
    let before = status(site).await.last_sync.map(|l| l.started);
    trigger(site).await;
    wait_quiet(site, before.as_deref(), Duration::from_secs(30)).await
}

fn step(status: &SyncStatus, key: StepKey) -> StepState {
    status.steps.iter().find(|s| s.key == key).map(|s| s.state).unwrap()
}

fn assert_pulls_ran(status: &SyncStatus) {
    for key in [StepKey::Push, StepKey::PushV6, StepKey::PullCentral, StepKey::PullRemote, StepKey::PullV6] {
        assert_eq!(step(status, key), StepState::Done, "{key:?}: {status:#?}");
    }
}

async fn central_field(db: &outpost::db::CentralDb, table: &str, id: &str, field: &str) -> Value {
    let row = sqlx::query("SELECT data FROM record WHERE table_name = $1 AND record_id = $2")
        .bind(table)
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    serde_json::from_str::<Value>(&row.get::<String, _>(0)).unwrap()[field].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_location_edited_after_the_v5_central_moved_its_store_is_listed_with_the_reason_and_the_run_goes_on() {
    let (centrals, site, other) = start().await;
    let location = json!({"id": "loc-1", "storeId": STORE, "code": "L1", "name": "shelf"});
    store_data(&site, Method::POST, "locations", location).await;
    sync_once(&site).await;
    assert_eq!(central_field(&centrals.v5_state.db, "Location", "loc-1", "Description").await, "shelf");

    // The site edits the location; meanwhile the V5 central's administrator moves the store
    // to the other site with the central's own admin command.
    let edited = json!({"id": "loc-1", "storeId": STORE, "code": "L1", "name": "shelf, edited"});
    store_data(&site, Method::PUT, "locations/loc-1", edited).await;
    let store = json!({"ID": STORE, "name": STORE, "code": "RS", "name_ID": format!("{STORE}_name"),
                       "sync_id_remote_site": other, "store_mode": "store", "disabled": false, "tags": ""});
    let moved = std::process::Command::new(BIN)
        .args(["legacy-central", "--database-url", &outpost::db::sqlite_url(centrals.dir.path(), "legacy.db")])
        .args(["upsert", "--table", "store", "--json", &store.to_string()])
        .output()
        .unwrap();
    assert!(moved.status.success(), "move the store: {}", String::from_utf8_lossy(&moved.stderr));

    // Held before Pull Central asks: the push is over, the move not pulled yet.
    centrals.v5_relay().hold(Hold::nth(Method::GET, "central_records", 0));
    let before = status(&site).await.last_sync.map(|l| l.started);
    trigger(&site).await;
    assert!(centrals.v5_relay().held_within(Duration::from_secs(20)).await, "Pull Central never asked");
    let during = status(&site).await;
    assert_eq!(step(&during, StepKey::Push), StepState::Done, "the refusal did not stop Push: {during:#?}");
    let listed = quarantine(&site).await;
    let refusal = listed.iter().find(|r| r.record_id == "loc-1").unwrap_or_else(|| panic!("not listed: {listed:?}"));
    assert_eq!((refusal.direction, refusal.table.as_str()), (Direction::Outgoing, "location"));
    assert!(
        refusal.reason.contains(&format!("belongs to store {STORE}")) && refusal.reason.contains("not active"),
        "the central's reason: {}",
        refusal.reason
    );
    centrals.v5_relay().release_all();

    // The run finishes without error, every pull ran, and once the move is pulled nothing is
    // pending: the location is no longer this site's to send, so the refusal is resolved.
    let after = wait_quiet(&site, before.as_deref(), Duration::from_secs(30)).await;
    assert_pulls_ran(&after);
    assert!(quarantine(&site).await.is_empty(), "resolved by the move: {:?}", quarantine(&site).await);
    assert_eq!(after.records_to_push, 0);
    assert_eq!(central_field(&centrals.v5_state.db, "Location", "loc-1", "Description").await, "shelf");
    // And later runs are clean too.
    let again = sync_once(&site).await;
    assert!(again.error.is_none());
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asset_edited_after_the_v6_central_moved_it_to_another_store_is_listed_until_the_central_gives_it_back() {
    let (centrals, site, _) = start().await;
    let asset = json!({"id": "asset-1", "storeId": STORE, "code": "F1", "serialNumber": "", "notes": "fridge"});
    store_data(&site, Method::POST, "assets", asset).await;
    sync_once(&site).await;
    assert_eq!(central_field(&centrals.v6_state.db, "asset", "asset-1", "notes").await, "fridge");

    let edited =
        json!({"id": "asset-1", "storeId": STORE, "code": "F1", "serialNumber": "", "notes": "fridge, edited"});
    store_data(&site, Method::PUT, "assets/asset-1", edited).await;
    // A second asset in the same push batch, which must still arrive.
    let other = json!({"id": "asset-2", "storeId": STORE, "code": "F2", "serialNumber": "", "notes": "freezer"});
    store_data(&site, Method::POST, "assets", other).await;
    let moved = json!({"id": "asset-1", "store_id": OTHER_STORE, "notes": "moved", "asset_number": "F1",
                       "created_datetime": "2024-01-01T00:00:00", "modified_datetime": "2024-01-02T00:00:00"});
    outpost::central_v6::upsert_asset(&centrals.v6_state.db, &moved, None).await.unwrap();

    let started = Instant::now();
    let after = sync_once(&site).await;
    assert_pulls_ran(&after);
    assert_eq!(after.records_to_push, 0, "nothing pending");
    let listed = quarantine(&site).await;
    let refusal = listed.iter().find(|r| r.record_id == "asset-1").unwrap_or_else(|| panic!("not listed: {listed:?}"));
    assert_eq!((refusal.direction, refusal.table.as_str()), (Direction::Outgoing, "asset"));
    assert!(refusal.reason.contains(&format!("belongs to store {OTHER_STORE}")), "reason: {}", refusal.reason);
    assert_eq!(listed.len(), 1, "only the refused record: {listed:?}");
    assert_eq!(central_field(&centrals.v6_state.db, "asset", "asset-1", "notes").await, "moved");
    assert_eq!(central_field(&centrals.v6_state.db, "asset", "asset-2", "notes").await, "freezer");
    println!("run with a refused asset: {:?}", started.elapsed());

    // A later run is clean and the refusal stays listed (nothing is dropped silently).
    let again = sync_once(&site).await;
    assert!(again.error.is_none());
    assert_eq!(quarantine(&site).await.len(), 1);

    // The V6 central gives the asset back to this site's store: the pull brings the central's
    // copy anew, which resolves the refusal.
    let back = json!({"id": "asset-1", "store_id": STORE, "notes": "back", "asset_number": "F1",
                      "created_datetime": "2024-01-01T00:00:00", "modified_datetime": "2024-01-03T00:00:00"});
    outpost::central_v6::upsert_asset(&centrals.v6_state.db, &back, None).await.unwrap();
    let resolved = sync_once(&site).await;
    assert_pulls_ran(&resolved);
    assert!(quarantine(&site).await.is_empty(), "{:?}", quarantine(&site).await);
    site.stop().await;
}

/// The central accepts the edited location into its buffer, then, before it integrates it, the
/// store moves to the other site: the second ownership check (inside the integration) refuses
/// it, long after the push was answered. The site learns it from the central's idle status and
/// lists it with the reason; the run and the next one are clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_location_whose_store_moves_between_buffering_and_integration_is_listed_with_the_reason() {
    let (centrals, site, other) = start().await;
    let location = json!({"id": "loc-2", "storeId": STORE, "code": "L2", "name": "bin"});
    store_data(&site, Method::POST, "locations", location).await;
    sync_once(&site).await;
    let edited = json!({"id": "loc-2", "storeId": STORE, "code": "L2", "name": "bin, edited"});
    store_data(&site, Method::PUT, "locations/loc-2", edited).await;

    let pause = centrals.v5_state.activity.pause_integration().await;
    centrals.v5_relay().hold(Hold::nth(Method::GET, "central_records", 0));
    let before = status(&site).await.last_sync.map(|l| l.started);
    trigger(&site).await;
    // Buffered, and its integration waiting at the gate.
    let db = &centrals.v5_state.db;
    let deadline = Instant::now() + Duration::from_secs(20);
    let site_id = loop {
        let row = sqlx::query("SELECT site_id FROM push_buffer WHERE record_id = 'loc-2'")
            .fetch_optional(&db.pool)
            .await
            .unwrap();
        if let Some(row) = row {
            let id: i64 = row.get(0);
            if centrals.v5_state.activity.current(id).await.unwrap().is_some() {
                break id;
            }
        }
        assert!(Instant::now() < deadline, "the edit was never buffered and integrating");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let store = json!({"ID": STORE, "name": STORE, "code": "RS", "name_ID": format!("{STORE}_name"),
                       "sync_id_remote_site": other, "store_mode": "store", "disabled": false, "tags": ""});
    let moved = std::process::Command::new(BIN)
        .args(["legacy-central", "--database-url", &outpost::db::sqlite_url(centrals.dir.path(), "legacy.db")])
        .args(["upsert", "--table", "store", "--json", &store.to_string()])
        .output()
        .unwrap();
    assert!(moved.status.success(), "move the store: {}", String::from_utf8_lossy(&moved.stderr));
    drop(pause);

    // Push is over (the central integrated and answered idle), the move not pulled yet.
    assert!(centrals.v5_relay().held_within(Duration::from_secs(20)).await, "Pull Central never asked");
    let during = status(&site).await;
    assert_eq!(step(&during, StepKey::Push), StepState::Done, "{during:#?}");
    let listed = quarantine(&site).await;
    let refusal = listed.iter().find(|r| r.record_id == "loc-2").unwrap_or_else(|| panic!("not listed: {listed:?}"));
    assert_eq!((refusal.direction, refusal.table.as_str()), (Direction::Outgoing, "location"));
    assert!(
        refusal.reason.contains("refused at integration") && refusal.reason.contains("not active"),
        "the central's reason: {}",
        refusal.reason
    );
    centrals.v5_relay().release_all();

    // The central kept its copy; once the move is pulled the refusal is resolved, and the next
    // run is clean: nothing listed, and the central's list replaced by that run's integration.
    let after = wait_quiet(&site, before.as_deref(), Duration::from_secs(30)).await;
    assert_pulls_ran(&after);
    assert!(after.error.is_none(), "{after:#?}");
    assert_eq!(central_field(db, "Location", "loc-2", "Description").await, "bin");
    assert!(quarantine(&site).await.is_empty(), "resolved by the move: {:?}", quarantine(&site).await);
    let again = sync_once(&site).await;
    assert!(again.error.is_none(), "{again:#?}");
    assert!(quarantine(&site).await.is_empty());
    let left: i64 = sqlx::query("SELECT COUNT(*) FROM push_refused WHERE site_id = $1")
        .bind(site_id)
        .fetch_one(&db.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "the central's list is replaced by the next integration");
    site.stop().await;
}
