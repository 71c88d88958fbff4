//! The V5 (legacy) central, tested over HTTP as a site talks to it: every route, every error
//! code, the initialise → pull → acknowledge sequence, store isolation between sites, and the
//! shared V5 fixtures surviving a push and a re-initialisation unchanged.
//! Runs on SQLite, and on PostgreSQL too when `OUTPOST_TEST_POSTGRES_URL` is set.

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};

use outpost::central_shared::ownership;
use outpost::central_v5::{CENTRAL_SITE_ID, admin, seed};
use outpost::wire::v5::{self, InitialisationStatus, SiteInfo, SiteStatusCode};
use outpost_testkit::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};

const V6_URL: &str = "http://v6.example:8002";

#[tokio::test]
async fn site_route_reports_identity_status_and_v6_url() {
    for db in databases().await {
        let (server, state) = start_v5(&db).await;
        let site_id = add_site(&state, "north", "pw", &["store_n"], V6_URL).await;
        let site = V5Site::new(&server.url(), "north", "pw");
        let info: SiteInfo = V5Site::ok_json(site.get("site").await).await;
        assert_eq!(info.site_id, site_id, "{}", db.label);
        assert_eq!(info.name, "north");
        assert_eq!(info.initialisation_status, InitialisationStatus::New);
        assert_eq!(info.om_supply_central_server_url, V6_URL);
        assert!(!info.is_om_supply_central_server);
        assert_eq!(info.m_supply_central_site_id, CENTRAL_SITE_ID);
        let raw: Value = site.get("site").await.json().await.unwrap();
        for field in [
            "id",
            "siteId",
            "code",
            "name",
            "initialisationStatus",
            "isOmSupplyCentralServer",
            "omSupplyCentralServerUrl",
            "mSupplyCentralSiteId",
        ] {
            assert!(raw.get(field).is_some(), "missing {field} in {raw}");
        }
        site.initialise().await;
        let info: SiteInfo = V5Site::ok_json(site.get("site").await).await;
        assert_eq!(info.initialisation_status, InitialisationStatus::Completed);
        assert_eq!(site.get("site_stores").await.status(), 404, "only the reference's routes are served");
        server.stop().await;
    }
}

#[tokio::test]
async fn wrong_name_password_and_hardware_id_get_their_401_codes() {
    for db in databases().await {
        let (server, state) = start_v5(&db).await;
        add_site(&state, "north", "pw", &["store_n"], V6_URL).await;
        let unknown = V5Site::new(&server.url(), "nobody", "pw");
        assert_eq!(v5_error(unknown.get("site").await).await.0, 401);
        assert_eq!(v5_error(unknown.get("site").await).await.1, v5::code::SITE_NAME_NOT_FOUND);
        let wrong = V5Site::new(&server.url(), "north", "not-the-password");
        let (status, code, _) = v5_error(wrong.get("site").await).await;
        assert_eq!((status, code.as_str()), (401, v5::code::SITE_INCORRECT_PASSWORD), "{}", db.label);
        let no_auth = outpost_testkit::http_client()
            .get(format!("{}/sync/v5/site", server.url()))
            .header("version", "14")
            .send()
            .await
            .unwrap();
        assert_eq!(v5_error(no_auth).await.1, v5::code::SITE_NAME_NOT_FOUND);

        // The first successful call binds the hardware id; another device is refused after that.
        let first = V5Site::new(&server.url(), "north", "pw");
        assert!(first.get("site").await.status().is_success());
        let mut other = first.clone();
        other.hardware_id = "another-device".into();
        let (status, code, _) = v5_error(other.get("site").await).await;
        assert_eq!((status, code.as_str()), (401, v5::code::SITE_INCORRECT_HARDWARE_ID));
        // A wrong password from the bound device is still a password error, not a pass.
        let mut wrong_from_bound = first.clone();
        wrong_from_bound.password = "nope".into();
        assert_eq!(v5_error(wrong_from_bound.get("site").await).await.1, v5::code::SITE_INCORRECT_PASSWORD);
        assert!(first.get("site").await.status().is_success(), "cached verification still works");

        // After an admin reset the next device binds it, and the old one is refused.
        admin::reset_hardware_id(&state.db, "north").await.unwrap();
        assert!(other.get("site").await.status().is_success());
        assert_eq!(v5_error(first.get("site").await).await.1, v5::code::SITE_INCORRECT_HARDWARE_ID);
        let listed = admin::list_sites(&state.db).await.unwrap();
        assert_eq!(listed[0].site.hardware_id.as_deref(), Some("another-device"));
        server.stop().await;
    }
}

#[tokio::test]
async fn version_outside_the_supported_range_gets_409_with_the_range() {
    for db in databases().await {
        let (server, state) = start_v5(&db).await;
        add_site(&state, "north", "pw", &["store_n"], V6_URL).await;
        for bad in ["99", "1", "fourteen"] {
            let mut site = V5Site::new(&server.url(), "north", "pw");
            site.version = bad.into();
            let (status, code, data) = v5_error(site.get("site").await).await;
            assert_eq!((status, code.as_str()), (409, v5::code::API_VERSION_INCOMPATIBLE), "version {bad}");
            assert_eq!(data["minVersion"], v5::SUPPORTED_VERSIONS.0);
            assert_eq!(data["maxVersion"], v5::SUPPORTED_VERSIONS.1);
            assert_eq!(data["receivedVersion"], bad);
        }
        let mut oldest = V5Site::new(&server.url(), "north", "pw");
        oldest.version = v5::SUPPORTED_VERSIONS.0.to_string();
        assert!(oldest.get("site").await.status().is_success());
        server.stop().await;
    }
}

#[tokio::test]
async fn initialise_then_central_pages_then_queue_drained_and_acknowledged_until_empty() {
    for db in databases().await {
        let (server, state) = start_v5(&db).await;
        add_site(&state, "north", "pw", &["store_n"], V6_URL).await;
        let summary = seed::seed(&state.db, 300, &["store_n".to_string()]).await.unwrap();
        assert_eq!(summary.records, 300);
        let site = V5Site::new(&server.url(), "north", "pw");

        let queue_length = site.initialise().await;
        assert_eq!(queue_length, summary.store_data, "{}: the queue holds the store's data", db.label);

        let central = site.central_records(0, 7).await;
        let tables: HashSet<&str> = central.iter().map(|r| r.table_name.as_str()).collect();
        for t in ["unit", "item", "name", "store"] {
            assert!(tables.contains(t), "{t} missing from central records");
        }
        // The seed's central records, plus the store and name add_site created.
        assert_eq!(central.len() as u64, summary.central + 2);
        assert!(
            central.iter().all(|r| r
                .record_data
                .as_ref()
                .map(|d| d.to_value())
                .and_then(|d| d.get("ID").cloned())
                .is_some())
        );

        let queued = site.drain(40).await;
        assert_eq!(queued.len() as u64, queue_length);
        assert!(queued.iter().all(|r| {
            r.record_data
                .as_ref()
                .map(|d| d.to_value())
                .and_then(|d| d.get("ID").cloned())
                .as_ref()
                .and_then(Value::as_str)
                == Some(r.record_id.as_str())
        }));
        let queue_tables: HashSet<&str> = queued.iter().map(|r| r.table_name.as_str()).collect();
        for t in ["name_store_join", "Location", "item_line", "transact", "trans_line"] {
            assert!(queue_tables.contains(t), "{t} missing from the queue");
        }
        let empty: v5::QueuedRecords = V5Site::ok_json(site.get("queued_records?limit=10").await).await;
        assert_eq!((empty.queue_length, empty.data.len()), (0, 0));

        // A later central change to the store's data is queued; one to central data is logged.
        admin::upsert(&state.db, "Location", &location("loc_new", "store_n")).await.unwrap();
        admin::upsert(&state.db, "unit", &json!({"ID": "unit_new", "units": "Box"})).await.unwrap();
        let queued = site.drain(10).await;
        assert_eq!(queued.iter().map(|r| r.record_id.as_str()).collect::<Vec<_>>(), vec!["loc_new"]);
        assert_eq!(queued[0].action, v5::Action::Insert);
        let last = central.last().unwrap().id;
        let newer = site.central_records(last, 100).await;
        assert_eq!(newer.iter().map(|r| r.record_id.as_str()).collect::<Vec<_>>(), vec!["unit_new"]);
        assert!(admin::delete(&state.db, "unit", "unit_new").await.unwrap());
        let newer = site.central_records(newer[0].id, 100).await;
        assert_eq!(newer[0].action, v5::Action::Delete);
        assert!(newer[0].record_data.is_none(), "delete carries no recordData");
        server.stop().await;
    }
}

#[tokio::test]
async fn pushed_store_data_returns_on_reinitialisation_and_never_reaches_another_site() {
    for db in databases().await {
        let (server, state) = start_v5(&db).await;
        add_site(&state, "a", "pa", &["store_a"], V6_URL).await;
        add_site(&state, "b", "pb", &["store_b"], V6_URL).await;
        let a = V5Site::new(&server.url(), "a", "pa");
        let b = V5Site::new(&server.url(), "b", "pb");
        a.initialise().await;
        b.initialise().await;
        admin::upsert(&state.db, "Location", &location("b_loc", "store_b")).await.unwrap();

        let r = a.push(vec![push_record("Location", "a_loc", location("a_loc", "store_a"))]).await;
        assert!(!r.integration_started, "a batch with queueLength > 0 does not integrate yet");
        a.push_end_and_wait().await;

        // B may neither push A's store data nor overwrite A's record by claiming its own store.
        let (status, code, _) = v5_error(
            b.post(
                "queued_records",
                &json!({"queueLength": 1, "data": [push_record("Location", "b_fake", location("b_fake", "store_a"))]}),
            )
            .await,
        )
        .await;
        assert_eq!((status, code.as_str()), (403, v5::code::SYNC_RECORD_REJECTED), "{}", db.label);
        let (status, _, _) = v5_error(
            b.post(
                "queued_records",
                &json!({"queueLength": 1, "data": [push_record("Location", "a_loc", location("a_loc", "store_b"))]}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 403);

        // B's queue holds only B's record; acknowledging A's queue ids does nothing to A's queue.
        a.initialise().await;
        let a_page: v5::QueuedRecords = V5Site::ok_json(a.get("queued_records?limit=100").await).await;
        let a_ids: Vec<String> = a_page.data.iter().map(|r| r.sync_out_id.clone()).collect();
        assert_eq!(b.post("acknowledged_records", &json!({"syncIDs": a_ids})).await.status(), 204);
        let b_queue = b.drain(100).await;
        assert_eq!(b_queue.iter().map(|r| r.record_id.as_str()).collect::<Vec<_>>(), vec!["b_loc"]);
        b.initialise().await;
        let b_queue = b.drain(100).await;
        assert_eq!(b_queue.iter().map(|r| r.record_id.as_str()).collect::<Vec<_>>(), vec!["b_loc"]);

        let a_queue = a.drain(100).await;
        let a_ids: HashSet<&str> = a_queue.iter().map(|r| r.record_id.as_str()).collect();
        assert_eq!(a_ids, HashSet::from(["a_loc"]), "A gets its pushed Location back, and nothing of B's");
        assert_eq!(a_queue[0].record_data.as_ref().unwrap().to_value(), location("a_loc", "store_a"));
        server.stop().await;
    }
}

/// Write a record as the central's own (some fixtures carry no `ID`, which the admin command
/// would refuse): store data waits for the next initialise, central data goes on the change log.
async fn author_on_central(state: &outpost::central_v5::V5State, table: &str, id: &str, record: &Value) {
    use outpost::central_v5::data;
    let mut tx = data::begin(&state.db).await.unwrap();
    let store = record.get("store_ID").and_then(Value::as_str).filter(|s| !s.is_empty());
    let is_new = data::put_record(&mut tx, table, id, store, record).await.unwrap();
    if store.is_none() {
        let action = if is_new { "insert" } else { "update" };
        data::log_central_change(&mut tx, table, id, action, Some(record)).await.unwrap();
    }
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn every_fixture_record_comes_back_unchanged_its_store_records_pushed_by_the_site() {
    let test = "every_fixture_record_comes_back_unchanged_its_store_records_pushed_by_the_site";
    for (set, fixtures) in outpost_testkit::fixtures::legacy_v5_sets(test) {
        for db in databases().await {
            fixture_records_come_back_unchanged(set, &fixtures, &db).await;
        }
    }
}

async fn fixture_records_come_back_unchanged(
    set: &str,
    fixtures: &[outpost_testkit::fixtures::FixtureFile],
    db: &TestDb,
) {
    {
        let (server, state) = start_v5(db).await;
        // The fixtures' stores say they are active on site 1; the first site added gets id 1.
        let mut stores = vec!["store_a".to_string(), "store_b".to_string()];
        for f in fixtures.iter().filter(|f| f.table == "store") {
            stores.extend(f.records.iter().map(|r| r["ID"].as_str().unwrap().to_owned()));
        }
        let refs: Vec<&str> = stores.iter().map(String::as_str).collect();
        assert_eq!(add_site(&state, "fixture-site", "pw", &refs, V6_URL).await, 1);
        let site = V5Site::new(&server.url(), "fixture-site", "pw");

        // The fixtures' invoice lines belong to an invoice the fixtures do not include; the
        // test provides it, as a site that owns those lines would.
        let parent = json!({"ID": "outbound_shipment_a", "store_ID": "store_a", "type": "ci", "status": "fn"});
        let mut batch = vec![push_record("transact", "outbound_shipment_a", parent.clone())];
        let mut expected: BTreeMap<(String, String), Value> = BTreeMap::new();
        expected.insert(("transact".into(), "outbound_shipment_a".into()), parent);
        // Central data is read-only to sites, so the central authors those fixtures itself (as
        // its operator would) and the site pushes its stores' records.
        for f in fixtures.iter().filter(|f| f.table != "asset") {
            for (i, record) in f.records.iter().enumerate() {
                let id =
                    record.get("ID").and_then(Value::as_str).map(str::to_owned).unwrap_or(format!("{}_{i}", f.table));
                if ownership::site_writable(ownership::Protocol::V5, &f.table) {
                    batch.push(push_record(&f.table, &id, record.clone()));
                } else {
                    author_on_central(&state, &f.table, &id, record).await;
                }
                expected.insert((f.table.clone(), id), record.clone());
            }
        }
        let pushed = batch.len();
        for chunk in batch.chunks(10) {
            let r = site.push(chunk.to_vec()).await;
            assert!(!r.integration_started);
        }
        site.push_end_and_wait().await;

        site.initialise().await;
        let mut back: BTreeMap<(String, String), Value> = BTreeMap::new();
        for r in site.drain(25).await {
            back.insert((r.table_name, r.record_id), r.record_data.unwrap().to_value());
        }
        for r in site.central_records(0, 1000).await {
            if let Some(data) = r.record_data {
                back.insert((r.table_name, r.record_id), data.to_value());
            }
        }
        for (key, record) in &expected {
            assert_eq!(back.get(key), Some(record), "{set} on {}: {key:?} did not come back unchanged", db.label);
        }
        assert!(pushed > 10, "{set}: the fixtures' store records were pushed ({pushed})");
        assert!(expected.len() > 40, "{set}: all fixture files were used ({})", expected.len());
        server.stop().await;
    }
}

#[tokio::test]
async fn sync_is_running_503_while_integration_or_initialisation_runs() {
    for db in databases().await {
        let (server, state) = start_v5(&db).await;
        add_site(&state, "north", "pw", &["store_n"], V6_URL).await;
        let site = V5Site::new(&server.url(), "north", "pw");
        site.push(vec![push_record("Location", "l1", location("l1", "store_n"))]).await;

        let pause = state.activity.pause_integration().await;
        assert!(site.push(vec![]).await.integration_started);
        assert_eq!(site.status().await, SiteStatusCode::IntegrationInProgress);
        let (status, code, _) = v5_error(site.get("queued_records").await).await;
        assert_eq!((status, code.as_str()), (503, v5::code::SYNC_IS_RUNNING), "{}", db.label);
        assert_eq!(v5_error(site.post("initialise", &json!({})).await).await.0, 503);
        drop(pause);
        site.wait_idle().await;

        let pause = state.activity.pause_integration().await;
        let init = tokio::spawn({
            let site = site.clone();
            async move { site.initialise().await }
        });
        while site.status().await != SiteStatusCode::InitialisationInProgress {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(
            v5_error(site.post("queued_records", &json!({"queueLength": 0, "data": []})).await).await.1,
            v5::code::SYNC_IS_RUNNING
        );
        assert_eq!(v5_error(site.post("acknowledged_records", &json!({"syncIDs": []})).await).await.0, 503);
        drop(pause);
        assert_eq!(init.await.unwrap(), 1, "the pushed Location is queued");
        assert_eq!(site.status().await, SiteStatusCode::Idle);
        server.stop().await;
    }
}

#[tokio::test]
async fn gzip_both_ways_and_limits_hold() {
    for db in databases().await {
        let (server, state) = start_v5_with(&db, |s| {
            s.limits.max_limit = 20;
            s.limits.max_body_bytes = 4096;
        })
        .await;
        add_site(&state, "north", "pw", &["store_n"], V6_URL).await;
        seed::seed(&state.db, 40, &[]).await.unwrap();
        let mut site = V5Site::new(&server.url(), "north", "pw");

        let page: v5::CentralRecords = V5Site::ok_json(site.get("central_records?cursor=0&limit=1000").await).await;
        assert_eq!(page.data.len(), 20, "{}: limit is capped", db.label);

        site.http = outpost_testkit::http_client_builder().no_gzip().build().unwrap();
        // A small answer is not worth compressing; a page of records is.
        let small = site.request(Method::GET, "site").header("accept-encoding", "gzip").send().await.unwrap();
        assert_eq!(small.headers().get("content-encoding"), None, "{}", db.label);
        let r = site
            .request(Method::GET, "central_records?cursor=0&limit=20")
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers().get("content-encoding").map(|v| v.to_str().unwrap()), Some("gzip"));
        let mut body = Vec::new();
        flate2::read::GzDecoder::new(&r.bytes().await.unwrap()[..]).read_to_end(&mut body).unwrap();
        let decoded: v5::CentralRecords = serde_json::from_slice(&body).unwrap();
        assert_eq!(decoded.data.len(), 20);

        let push = json!({"queueLength": 1, "data": [push_record("Location", "gz", location("gz", "store_n"))]});
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(push.to_string().as_bytes()).unwrap();
        let r = site
            .request(Method::POST, "queued_records")
            .header("content-encoding", "gzip")
            .header("content-type", "application/json")
            .body(gz.finish().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "a gzip request body is accepted");
        site.push_end_and_wait().await;

        let big = json!({"queueLength": 1, "data": [push_record("Location", "big", json!({"ID": "big", "store_ID": "store_n", "note": "x".repeat(8000)}))]});
        let (status, code, _) = v5_error(site.post("queued_records", &big).await).await;
        assert_eq!((status, code.as_str()), (413, v5::code::PAYLOAD_TOO_LARGE));
        let (status, code, _) = v5_error(site.post("acknowledged_records", &json!({"wrong": 1})).await).await;
        assert_eq!((status, code.as_str()), (400, v5::code::BAD_REQUEST));
        server.stop().await;
    }
}

#[tokio::test]
async fn readiness_answers_503_with_a_reason_once_the_database_is_gone() {
    for db in databases().await {
        let (server, state) = start_v5(&db).await;
        let ready = format!("{}/ready", server.url());
        let answer = outpost_testkit::http_get(&ready).await.unwrap();
        assert_eq!(answer.status(), 200, "{}", db.label);
        state.db.pool.close().await;
        // The ready answer stands for a second; the next probe asks the database again.
        tokio::time::sleep(outpost::readiness::REUSE_FOR).await;
        let answer = outpost_testkit::http_get(&ready).await.unwrap();
        assert_eq!(answer.status(), 503, "{}", db.label);
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["status"], "not_ready");
        assert!(body["reason"].as_str().unwrap().contains("database"), "{body}");
        let health = outpost_testkit::http_get(format!("{}/health", server.url())).await.unwrap();
        assert_eq!(health.status(), 200, "liveness does not depend on the database");
        server.stop().await;
    }
}
