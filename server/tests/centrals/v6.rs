//! The V6 (Open mSupply) central, tested over HTTP with a real V5 central vouching for the
//! sites: pull visibility per site, the isInitialised exclusion, push with background
//! integration, integrationInProgress and site_status, version and credential errors, 405.
//! Runs on SQLite, and on PostgreSQL too when `OUTPOST_TEST_POSTGRES_URL` is set.

use std::collections::HashSet;

use outpost::central_v6;
use outpost_testkit::prelude::*;
use serde_json::{Value, json};

async fn two_sites(c: &World) -> (V6Site, V6Site) {
    add_site(&c.v5_state, "a", "pa", &["store_a"], &c.v6_url).await;
    add_site(&c.v5_state, "b", "pb", &["store_b"], &c.v6_url).await;
    let a = V6Site::new(&c.v6_url, V5Site::new(&c.v5_url, "a", "pa"));
    let b = V6Site::new(&c.v6_url, V5Site::new(&c.v5_url, "b", "pb"));
    (a, b)
}

fn ids(records: &[Value]) -> HashSet<String> {
    records.iter().map(|r| r["recordId"].as_str().unwrap().to_owned()).collect()
}

fn set(items: &[&str]) -> HashSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn pull_shows_central_rows_and_own_store_rows_only() {
    for db in databases().await {
        let mut c = World::builder().database(&db).start().await;
        let (a, b) = two_sites(&c).await;
        central_v6::upsert_record(
            &c.v6_state.db,
            "asset_class",
            "class_1",
            &json!({"id": "class_1", "name": "Cold chain"}),
        )
        .await
        .unwrap();
        central_v6::upsert_asset(&c.v6_state.db, &asset("asset_a", "store_a"), None).await.unwrap();
        central_v6::upsert_asset(&c.v6_state.db, &asset("asset_b", "store_b"), None).await.unwrap();
        assert_eq!(ids(&a.pull_all(true, 500).await), set(&["class_1", "asset_a"]), "{}", db.label);
        assert_eq!(ids(&b.pull_all(true, 500).await), set(&["class_1", "asset_b"]));

        // Paging: batch 1 gives total_records, end_cursor and is_last_batch as the reference does.
        let first = a.data("pull", json!({"cursor": 0, "batchSize": 1, "isInitialised": true})).await;
        assert_eq!(first["total_records"], 2);
        assert_eq!(first["is_last_batch"], false);
        assert_eq!(first["records"].as_array().unwrap().len(), 1);
        assert_eq!(first["end_cursor"], first["records"][0]["cursor"]);
        assert_eq!(a.pull_all(true, 1).await.len(), 2);
        // Past the end: no rows, end_cursor = the newest changelog cursor, last batch.
        let past = a.data("pull", json!({"cursor": 1000, "batchSize": 10, "isInitialised": true})).await;
        assert_eq!((past["total_records"].as_u64(), past["is_last_batch"].as_bool()), (Some(0), Some(true)));
        assert_eq!(past["end_cursor"], 3);

        // Many edits of one row come out once (latest wins); a delete comes out as a delete.
        central_v6::upsert_asset(&c.v6_state.db, &json!({"id": "asset_a", "store_id": "store_a", "notes": "v2"}), None)
            .await
            .unwrap();
        let records = a.pull_all(true, 500).await;
        assert_eq!(records.iter().filter(|r| r["recordId"] == "asset_a").count(), 1);
        assert!(records.iter().any(|r| r["recordData"]["notes"] == "v2"));
        assert!(central_v6::delete_record(&c.v6_state.db, "asset", "asset_a").await.unwrap());
        let records = a.pull_all(true, 500).await;
        let deleted = records.iter().find(|r| r["recordId"] == "asset_a").unwrap();
        assert_eq!(deleted["action"], "Delete");
        c.stop_v6().await;
        c.stop_v5().await;
    }
}

#[tokio::test]
async fn push_integrates_in_background_and_own_rows_return_only_during_initialisation() {
    for db in databases().await {
        let mut c = World::builder().database(&db).start().await;
        let (a, b) = two_sites(&c).await;
        // A real asset when the shared fixtures are here; else one of the same shape of ours.
        // The last set: the real records when present, else our sample.
        let fixture = outpost_testkit::fixtures::legacy_v5_sets("push_integrates_in_background (real asset)")
            .pop()
            .and_then(|(_, files)| files.into_iter().find(|f| f.table == "asset"))
            .map(|f| f.records[0].clone())
            .unwrap_or_else(|| asset("asset_fixture", "store_a"));
        let fixture_id = fixture["id"].as_str().unwrap().to_owned();

        let pause = c.v6_state.activity.pause_integration().await;
        let r = a.push(vec![v6_record("asset", &fixture_id, fixture.clone())], false).await;
        assert_eq!(r["data"]["records_pushed"], 1, "{}: {r}", db.label);
        assert!(!a.is_integrating().await, "no integration before the last batch");
        let r = a.push(vec![v6_record("asset", "asset_a2", asset("asset_a2", "store_a"))], true).await;
        assert_eq!(r["data"]["records_pushed"], 1);
        assert!(a.is_integrating().await);
        assert_eq!(
            a.call("pull", json!({"cursor": 0, "batchSize": 10, "isInitialised": true})).await.1,
            json!({"error": "integrationInProgress"})
        );
        assert_eq!(a.push(vec![], true).await, json!({"error": "integrationInProgress"}));
        assert!(!b.is_integrating().await, "another site is not held up");
        drop(pause);
        a.wait_integrated().await;

        // Initialised: A does not get its own rows back; re-initialising: it does, unchanged.
        assert!(a.pull_all(true, 500).await.is_empty());
        let back = a.pull_all(false, 500).await;
        assert_eq!(ids(&back), set(&[&fixture_id, "asset_a2"]));
        let returned = back.iter().find(|r| r["recordId"] == fixture_id.as_str()).unwrap();
        assert_eq!(returned["recordData"], fixture);
        assert_eq!(returned["tableName"], "asset");
        // B sees none of A's store rows, initialised or not, and may not push them.
        assert!(b.pull_all(false, 500).await.is_empty());
        let refused = b.push(vec![v6_record("asset", "steal", asset("steal", "store_a"))], true).await;
        assert!(refused["error"]["otherServerError"].as_str().unwrap().contains("store_a"), "{refused}");
        let overwrite = b.push(vec![v6_record("asset", "asset_a2", asset("asset_a2", "store_b"))], true).await;
        assert!(overwrite.get("error").is_some(), "B cannot take over A's row: {overwrite}");
        assert_eq!(a.pull_all(false, 500).await.len(), 2);
        c.stop_v6().await;
        c.stop_v5().await;
    }
}

#[tokio::test]
async fn version_mismatch_and_bad_credentials_come_back_in_the_error_envelope() {
    for db in databases().await {
        let mut c = World::builder().database(&db).start().await;
        let (a, _) = two_sites(&c).await;
        let mut newer = a.clone();
        newer.v6_version = 99;
        for route in ["pull", "push", "site_status"] {
            let (status, body) = newer.call(route, json!({})).await;
            assert_eq!(status, 200);
            assert_eq!(body, json!({"error": {"syncVersionMismatch": [0, 5, 99]}}), "{}: {route}", db.label);
        }
        let mut wrong = a.clone();
        wrong.v5.password = "wrong".into();
        let (status, body) = wrong.call("site_status", json!({})).await;
        assert_eq!(status, 200);
        assert_eq!(body["error"]["legacyServerError"]["code"], "site_incorrect_password", "{body}");
        let mut unknown = a.clone();
        unknown.v5.name = "nobody".into();
        assert_eq!(
            unknown.call("pull", json!({"cursor": 0, "batchSize": 1, "isInitialised": true})).await.1["error"]["legacyServerError"]
                ["code"],
            "site_name_not_found"
        );
        assert!(a.data("site_status", json!({})).await["is_integrating"] == false);
        c.stop_v6().await;
        c.stop_v5().await;

        // With the V5 central gone (and nothing cached for this site), the failure says so.
        let mut c = World::builder().database(&db).start().await;
        add_site(&c.v5_state, "late", "pl", &["store_l"], &c.v6_url).await;
        let late = V6Site::new(&c.v6_url, V5Site::new(&c.v5_url, "late", "pl"));
        c.stop_v5().await;
        let (_, body) = late.call("site_status", json!({})).await;
        let message = body["error"]["cannotConnectToLegacyServer"].as_str().unwrap_or_else(|| panic!("{body}"));
        assert!(message.starts_with("cannot reach the legacy central; the central's log says why under id"));
        let port = c.v5_url.rsplit(':').next().unwrap().to_owned();
        assert!(
            !message.contains(&port) && !message.contains("127.0.0.1"),
            "the legacy address stays inside: {message}"
        );
        c.stop_v6().await;
    }
}

#[tokio::test]
async fn a_server_that_is_not_the_central_answers_405_on_central_routes() {
    for db in databases().await {
        let mut c = World::builder().database(&db).v6_tweak(|s| s.is_central = false).start().await;
        let (a, _) = two_sites(&c).await;
        for route in ["pull", "push", "site_status"] {
            let r = outpost_testkit::http_client()
                .post(format!("{}/central/sync/{route}", c.v6_url))
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 405, "{}", db.label);
            assert_eq!(r.text().await.unwrap(), "Method only allowed on central server.");
        }
        assert_eq!(a.call("pull", json!({})).await.0, 405);
        c.stop_v6().await;
        c.stop_v5().await;
    }
}

#[tokio::test]
async fn pull_batch_is_capped_and_oversized_bodies_get_413() {
    for db in databases().await {
        let mut c = World::builder()
            .database(&db)
            .v6_tweak(|s| {
                s.max_batch = 2;
                s.max_body_bytes = 2048;
            })
            .start()
            .await;
        let (a, _) = two_sites(&c).await;
        for i in 0..3 {
            central_v6::upsert_asset(&c.v6_state.db, &asset(&format!("x{i}"), "store_a"), None).await.unwrap();
        }
        let page = a.data("pull", json!({"cursor": 0, "batchSize": 500, "isInitialised": true})).await;
        assert_eq!(page["records"].as_array().unwrap().len(), 2, "{}", db.label);
        assert_eq!(page["is_last_batch"], false);
        let big = a
            .push(
                vec![v6_record("asset", "big", json!({"id": "big", "store_id": "store_a", "notes": "x".repeat(4000)}))],
                true,
            )
            .await;
        assert!(big["error"]["otherServerError"].as_str().unwrap().contains("too large"), "{big}");
        let (status, _) = a.call("push", json!({"batch": {"end_cursor": 0, "total_records": 0, "records": [], "is_last_batch": false}, "pad": "y".repeat(4000)})).await;
        assert_eq!(status, 413);
        c.stop_v6().await;
        c.stop_v5().await;
    }
}

#[tokio::test]
async fn a_database_from_before_the_rename_keeps_its_waiting_pushes_in_push_buffer() {
    for db in databases().await {
        // The database as the first release left it: only the first migration, with a push
        // still waiting in what was then called sync_buffer.
        let first = tempfile::tempdir().unwrap();
        let backend = if db.label == "sqlite" { "sqlite" } else { "postgres" };
        let source = format!("{}/migrations/central_v6/{backend}/0001_central.sql", env!("CARGO_MANIFEST_DIR"));
        std::fs::copy(source, first.path().join("0001_central.sql")).unwrap();
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        sqlx::migrate::Migrator::new(first.path()).await.unwrap().run(&pool).await.unwrap();
        let waiting = asset("waiting", "store_a").to_string();
        sqlx::query("INSERT INTO sync_buffer (site_id, table_name, record_id, action, store_id, data) VALUES (7, 'asset', 'waiting', 'upsert', 'store_a', $1)")
            .bind(&waiting)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;

        let upgraded = central_v6::open_db(&db.url).await.unwrap();
        assert!(
            sqlx::query("SELECT COUNT(*) FROM sync_buffer").fetch_one(&upgraded.pool).await.is_err(),
            "{}: the old name is gone",
            db.label
        );
        // The store mapping the legacy central would have taught it.
        sqlx::query("INSERT INTO legacy_store (store_id, site_id) VALUES ('store_a', 7)")
            .execute(&upgraded.pool)
            .await
            .unwrap();
        let state = central_v6::V6State::new(upgraded, "http://127.0.0.1:9");
        assert_eq!(central_v6::sync::integrate(&state, 7).await.unwrap(), 1, "the waiting push integrates");
        let (_, data): (String, String) =
            sqlx::query_as("SELECT record_id, data FROM record WHERE record_id = 'waiting'")
                .fetch_one(&state.db.pool)
                .await
                .unwrap();
        assert_eq!(serde_json::from_str::<Value>(&data).unwrap(), asset("waiting", "store_a"));
    }
}

#[tokio::test]
async fn an_internal_error_comes_back_as_other_server_error_with_a_fixed_text_and_an_id() {
    for db in databases().await {
        let mut c = World::builder().database(&db).start().await;
        let (a, _) = two_sites(&c).await;
        sqlx::query("DROP TABLE changelog").execute(&c.v6_state.db.pool).await.unwrap();
        let (status, body) = a.call("pull", json!({"cursor": 0, "batchSize": 10, "isInitialised": true})).await;
        assert_eq!(status, 200, "{}", db.label);
        let message = body["error"]["otherServerError"].as_str().unwrap_or_else(|| panic!("{body}"));
        assert!(message.starts_with("internal error "), "{message}");
        assert!(!message.contains("changelog") && !message.contains("relation"), "no internals leave: {message}");
        c.stop_v6().await;
        c.stop_v5().await;
    }
}

/// The V6 central learns which site each store is on as a V5 client of the legacy central: a
/// site registered a moment ago is known at its first call, and a store moved to another site at
/// the legacy central is no longer the first site's when its push is integrated.
#[tokio::test]
async fn store_ownership_comes_fresh_from_the_legacy_central() {
    for db in databases().await {
        let mut c = World::builder().database(&db).start().await;
        let (a, _) = two_sites(&c).await;
        assert!(a.data("site_status", json!({})).await["is_integrating"] == false);
        // Registered after the central last looked: its first call still sees its store.
        add_site(&c.v5_state, "late", "pl", &["store_late"], &c.v6_url).await;
        let late = V6Site::new(&c.v6_url, V5Site::new(&c.v5_url, "late", "pl"));
        let pushed = late.push(vec![v6_record("asset", "late_1", asset("late_1", "store_late"))], true).await;
        assert_eq!(pushed["data"]["records_pushed"], 1, "{}: {pushed}", db.label);
        late.wait_integrated().await;
        assert_eq!(c.v6_count("asset").await, 1);

        // Site a buffers an asset of store_a; then store_a moves to site b at the legacy central.
        let first = a.push(vec![v6_record("asset", "moved_1", asset("moved_1", "store_a"))], false).await;
        assert_eq!(first["data"]["records_pushed"], 1, "{first}");
        let b_id = outpost::central_v5::admin::list_sites(&c.v5_state.db)
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.site.name == "b")
            .unwrap()
            .site
            .site_id;
        let store = json!({"ID": "store_a", "name": "store_a", "code": "STORE_A", "name_ID": "store_a_name",
                           "sync_id_remote_site": b_id, "store_mode": "store", "disabled": false, "tags": ""});
        outpost::central_v5::admin::upsert(&c.v5_state.db, "store", &store).await.unwrap();
        let last = a.push(vec![], true).await;
        assert!(last.get("data").is_some(), "{last}");
        a.wait_integrated().await;
        assert_eq!(
            c.v6_count("asset").await,
            1,
            "{}: the buffered asset of a store no longer a's was not applied",
            db.label
        );
        c.stop_v6().await;
        c.stop_v5().await;
    }
}
