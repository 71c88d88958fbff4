//! The ownership rule, tried as a hostile site would on both centrals: for every table a site
//! writes, and each case of the table (own store, another site's store, a central row, a central table, a new id with no
//! store, a store changed to another site's, a store removed, a delete of an unknown id that
//! another site creates before integration), what the site is answered, and that neither
//! central data nor another site's rows change; merges, which no push may carry, are refused.
//! On SQLite, and PostgreSQL when configured.

use outpost::central_v5::admin;
use outpost::db::CentralDb;
use outpost_testkit::prelude::*;
use serde_json::{Value, json};
use sqlx::Row;

const V6_URL: &str = "http://v6.example:8002";

/// Every row of the central's `record` table that is not `store`'s: (table, id, store, data).
async fn rows(db: &CentralDb, store: Option<&str>) -> Vec<(String, String, Option<String>, String)> {
    let all = sqlx::query("SELECT table_name, record_id, store_id, data FROM record ORDER BY table_name, record_id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    all.iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .filter(|r: &(String, String, Option<String>, String)| r.2.as_deref() == store)
        .collect()
}

async fn count(db: &CentralDb, sql: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(&db.pool).await.unwrap().get(0)
}

async fn stored_store(db: &CentralDb, table: &str, id: &str) -> Option<Option<String>> {
    sqlx::query("SELECT store_id FROM record WHERE table_name = $1 AND record_id = $2")
        .bind(table)
        .bind(id)
        .fetch_optional(&db.pool)
        .await
        .unwrap()
        .map(|r| r.get(0))
}

fn v5_delete(table: &str, id: &str) -> Value {
    json!({"syncOutId": "1", "tableName": table, "recordId": id, "action": "Delete"})
}

fn location_without_store(id: &str) -> Value {
    json!({"ID": id, "code": id, "Description": "Shelf", "hold": false})
}

/// Refused: the refusal reason must appear in the answer (after the record's name).
const ALLOWED: Option<&str> = None;

#[tokio::test]
async fn v5_push_ownership_table_a_site_writes_only_its_own_stores_rows() {
    for db in databases().await {
        let (server, state) = start_v5(&db).await;
        add_site(&state, "a", "pa", &["store_a"], V6_URL).await;
        add_site(&state, "b", "pb", &["store_b"], V6_URL).await;
        admin::upsert(&state.db, "unit", &json!({"ID": "u1", "units": "tab"})).await.unwrap();
        admin::upsert(&state.db, "item", &json!({"ID": "i1", "item_name": "Paracetamol"})).await.unwrap();
        admin::upsert(&state.db, "Location", &location_without_store("loc-central")).await.unwrap();
        for (id, store) in [("loc-a", "store_a"), ("loc-a2", "store_a"), ("loc-b", "store_b")] {
            admin::upsert(&state.db, "Location", &location(id, store)).await.unwrap();
        }
        let a = V5Site::new(&server.url(), "a", "pa");
        let b = V5Site::new(&server.url(), "b", "pb");
        let central_before = rows(&state.db, None).await;
        let changes_before = count(&state.db, "SELECT COUNT(*) FROM central_change").await;
        let b_before = rows(&state.db, Some("store_b")).await;

        let mut mine = location("loc-a", "store_a");
        mine["Description"] = json!("Mine");
        let cases: Vec<(&str, Value, Option<&str>)> = vec![
            ("own store upsert", push_record("Location", "loc-a", mine), ALLOWED),
            ("own store delete", v5_delete("Location", "loc-a2"), ALLOWED),
            (
                "new row in another site's store",
                push_record("Location", "x", location("x", "store_b")),
                Some("store_b is not active"),
            ),
            (
                "take over another site's row",
                push_record("Location", "loc-b", location("loc-b", "store_a")),
                Some("belongs to store store_b"),
            ),
            ("delete another site's row", v5_delete("Location", "loc-b"), Some("belongs to store store_b")),
            (
                "central row of a store table",
                push_record("Location", "loc-central", location("loc-central", "store_a")),
                Some("belongs to the central"),
            ),
            ("delete a central row", v5_delete("Location", "loc-central"), Some("belongs to the central")),
            (
                "central table: item",
                push_record("item", "i1", json!({"ID": "i1", "item_name": "Hijacked"})),
                Some("central data"),
            ),
            ("central table: unit delete", v5_delete("unit", "u1"), Some("central data")),
            (
                "central table: own store record",
                push_record("store", "store_a", json!({"ID": "store_a", "name": "Mine", "sync_id_remote_site": 1})),
                Some("central data"),
            ),
            (
                "central table: name_store_join",
                push_record("name_store_join", "nsj", json!({"ID": "nsj", "store_ID": "store_a", "name_ID": "n1"})),
                Some("central data"),
            ),
            (
                "new id with no store",
                push_record("Location", "loose", location_without_store("loose")),
                Some("names no store"),
            ),
            (
                "store changed to another site's",
                push_record("Location", "loc-a", location("loc-a", "store_b")),
                Some("store_b is not active"),
            ),
            (
                "store removed",
                push_record("Location", "loc-a", location_without_store("loc-a")),
                Some("names no store"),
            ),
        ];
        for (case, record, refusal) in cases {
            let id = record["recordId"].as_str().unwrap().to_owned();
            let response = a.post("queued_records", &json!({"queueLength": 1, "data": [record]})).await;
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            match refusal {
                None => {
                    assert_eq!(status, 200, "{}: {case}: {body}", db.label);
                    a.push_end_and_wait().await;
                }
                Some(why) => {
                    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("sync_record_rejected")), "{case}");
                    let message = body["error"]["message"].as_str().unwrap();
                    assert!(message.contains(&id) && message.contains(why), "{}: {case}: {message}", db.label);
                }
            }
        }
        let mine: Value = serde_json::from_str(
            &rows(&state.db, Some("store_a")).await.iter().find(|r| r.1 == "loc-a").expect("loc-a stays a's").3,
        )
        .unwrap();
        assert_eq!(mine["Description"], "Mine", "{}: the own-store upsert applied", db.label);
        assert_eq!(stored_store(&state.db, "Location", "loc-a2").await, None, "the own-store delete applied");
        assert_eq!(rows(&state.db, Some("store_b")).await, b_before, "{}: b's rows are untouched", db.label);

        // Merge is not something a site may push (V5 pushes are Update or Delete): refused whole.
        let merge = json!({"syncOutId": "1", "tableName": "Location", "recordId": "loc-b", "action": "Merge",
            "recordData": {"mergeIdToKeep": "loc-a", "mergeIdToDelete": "loc-b"}});
        let response = a.post("queued_records", &json!({"queueLength": 1, "data": [merge]})).await;
        assert_eq!(v5_error(response).await.1, "bad_request", "{}: merge", db.label);

        // A delete buffered for an id the central does not have yet, which b then creates in
        // its own store before a's push integrates: the integration-time check refuses it.
        assert_eq!(
            a.post("queued_records", &json!({"queueLength": 1, "data": [v5_delete("Location", "later")]}))
                .await
                .status(),
            200
        );
        b.push(vec![push_record("Location", "later", location("later", "store_b"))]).await;
        b.push_end_and_wait().await;
        a.push_end_and_wait().await;
        assert_eq!(stored_store(&state.db, "Location", "later").await, Some(Some("store_b".into())), "{}", db.label);
        // The site is told: a's idle status names the record and why (in the database, so a
        // central restart keeps it), until a's next integration replaces it.
        let status: Value = a.get("site_status").await.json().await.unwrap();
        let refused = &status["data"]["refused"];
        assert_eq!(
            (&refused[0]["tableName"], &refused[0]["recordId"]),
            (&json!("Location"), &json!("later")),
            "{status}"
        );
        let reason = refused[0]["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("refused at integration") && reason.contains("store_b"), "{}: {reason}", db.label);
        assert_eq!(count(&state.db, "SELECT COUNT(*) FROM push_refused").await, 1, "{}", db.label);
        a.push_end_and_wait().await;
        let status: Value = a.get("site_status").await.json().await.unwrap();
        assert_eq!((status["code"].as_str(), &status["data"]), (Some("idle"), &Value::Null), "{}", db.label);
        assert!(
            b.drain(500).await.iter().all(|r| r.record_id != "later" || r.action != outpost::wire::v5::Action::Delete)
        );

        assert_eq!(rows(&state.db, None).await, central_before, "{}: central data is unchanged", db.label);
        assert_eq!(count(&state.db, "SELECT COUNT(*) FROM central_change").await, changes_before, "{}", db.label);
        server.stop().await;
    }
}

/// A row of `table` (item_line, transact or trans_line) in `store` (`None`: no store): the first
/// two name their store in `store_ID`, a trans_line belongs to its invoice's store (`inv-a`,
/// `inv-b`, or the storeless `inv-central`).
fn v5_store_row(table: &str, id: &str, store: Option<&str>, note: &str) -> Value {
    let mut data = json!({"ID": id, "note": note});
    match (table, store) {
        ("trans_line", Some("store_a")) => data["transaction_ID"] = json!("inv-a"),
        ("trans_line", Some(_)) => data["transaction_ID"] = json!("inv-b"),
        ("trans_line", None) => data["transaction_ID"] = json!("inv-central"),
        (_, Some(store)) => data["store_ID"] = json!(store),
        (_, None) => {}
    }
    data
}

/// The same cases as the Location table above, for every other table a site writes through the
/// V5 central: stock lines, invoices and invoice lines (whose store is their invoice's).
#[tokio::test]
async fn v5_push_ownership_table_holds_for_stock_invoices_and_invoice_lines() {
    const TABLES: [&str; 3] = ["item_line", "transact", "trans_line"];
    for db in databases().await {
        let (server, state) = start_v5(&db).await;
        add_site(&state, "a", "pa", &["store_a"], V6_URL).await;
        add_site(&state, "b", "pb", &["store_b"], V6_URL).await;
        for (invoice, store) in [("inv-a", Some("store_a")), ("inv-b", Some("store_b")), ("inv-central", None)] {
            admin::upsert(&state.db, "transact", &v5_store_row("transact", invoice, store, "seed")).await.unwrap();
        }
        for table in TABLES {
            for (name, store) in [("a", Some("store_a")), ("a2", Some("store_a")), ("b", Some("store_b"))] {
                let id = format!("{table}-{name}");
                admin::upsert(&state.db, table, &v5_store_row(table, &id, store, "seed")).await.unwrap();
            }
            // A line always has its invoice's store, so there is no central trans_line to seed.
            if table != "trans_line" {
                let id = format!("{table}-central");
                admin::upsert(&state.db, table, &v5_store_row(table, &id, None, "seed")).await.unwrap();
            }
        }
        let a = V5Site::new(&server.url(), "a", "pa");
        let central_before = rows(&state.db, None).await;
        let changes_before = count(&state.db, "SELECT COUNT(*) FROM central_change").await;
        let b_before = rows(&state.db, Some("store_b")).await;

        for table in TABLES {
            let id = |name: &str| format!("{table}-{name}");
            let row = |name: &str, store: Option<&str>| {
                push_record(table, &id(name), v5_store_row(table, &id(name), store, "pushed"))
            };
            // A trans_line "without a store" names the storeless invoice.
            let no_store = if table == "trans_line" { "unknown transact inv-central" } else { "names no store" };
            let mut cases: Vec<(&str, Value, Option<&str>)> = vec![
                ("own store upsert", row("a", Some("store_a")), ALLOWED),
                ("own store delete", v5_delete(table, &id("a2")), ALLOWED),
                ("new row in another site's store", row("x", Some("store_b")), Some("store_b is not active")),
                ("take over another site's row", row("b", Some("store_a")), Some("belongs to store store_b")),
                ("delete another site's row", v5_delete(table, &id("b")), Some("belongs to store store_b")),
                ("new id with no store", row("loose", None), Some(no_store)),
                ("store changed to another site's", row("a", Some("store_b")), Some("store_b is not active")),
                ("store removed", row("a", None), Some(no_store)),
            ];
            if table != "trans_line" {
                cases.push(("central row", row("central", Some("store_a")), Some("belongs to the central")));
                cases.push(("delete a central row", v5_delete(table, &id("central")), Some("belongs to the central")));
            }
            for (case, record, refusal) in cases {
                let record_id = record["recordId"].as_str().unwrap().to_owned();
                let response = a.post("queued_records", &json!({"queueLength": 1, "data": [record]})).await;
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap();
                match refusal {
                    None => {
                        assert_eq!(status, 200, "{}: {table}: {case}: {body}", db.label);
                        a.push_end_and_wait().await;
                    }
                    Some(why) => {
                        assert_eq!(
                            (status, body["error"]["code"].as_str()),
                            (403, Some("sync_record_rejected")),
                            "{}: {table}: {case}: {body}",
                            db.label
                        );
                        let message = body["error"]["message"].as_str().unwrap();
                        assert!(
                            message.contains(&record_id) && message.contains(why),
                            "{}: {table}: {case}: {message}",
                            db.label
                        );
                    }
                }
            }
            let mine = rows(&state.db, Some("store_a")).await;
            let mine = mine.iter().find(|r| r.0 == table && r.1 == id("a")).expect("the own row stays a's");
            assert_eq!(
                serde_json::from_str::<Value>(&mine.3).unwrap()["note"],
                "pushed",
                "{table}: own upsert applied"
            );
            assert_eq!(stored_store(&state.db, table, &id("a2")).await, None, "{table}: own delete applied");
        }
        assert_eq!(rows(&state.db, Some("store_b")).await, b_before, "{}: b's rows are untouched", db.label);
        assert_eq!(rows(&state.db, None).await, central_before, "{}: central data is unchanged", db.label);
        assert_eq!(count(&state.db, "SELECT COUNT(*) FROM central_change").await, changes_before, "{}", db.label);
        server.stop().await;
    }
}

fn v6_delete(table: &str, id: &str) -> Value {
    json!({"tableName": table, "recordId": id, "action": "Delete", "recordData": null})
}

fn asset_without_store(id: &str) -> Value {
    let mut a = asset(id, "");
    a.as_object_mut().unwrap().remove("store_id");
    a
}

#[tokio::test]
async fn v6_push_ownership_table_a_site_writes_only_its_own_stores_rows() {
    for db in databases().await {
        let mut c = World::builder().database(&db).start().await;
        add_site(&c.v5_state, "a", "pa", &["store_a"], &c.v6_url).await;
        add_site(&c.v5_state, "b", "pb", &["store_b"], &c.v6_url).await;
        let v6 = c.v6_state.db.clone();
        outpost::central_v6::upsert_record(&v6, "asset_class", "class-1", &json!({"id": "class-1", "name": "Fridge"}))
            .await
            .unwrap();
        outpost::central_v6::upsert_record(&v6, "asset", "asset-central", &asset_without_store("asset-central"))
            .await
            .unwrap();
        for (id, store) in [("asset-a", "store_a"), ("asset-a2", "store_a"), ("asset-b", "store_b")] {
            outpost::central_v6::upsert_asset(&v6, &asset(id, store), None).await.unwrap();
        }
        let a = V6Site::new(&c.v6_url, V5Site::new(&c.v5_url, "a", "pa"));
        let b = V6Site::new(&c.v6_url, V5Site::new(&c.v5_url, "b", "pb"));
        let central_before = rows(&v6, None).await;
        let changes_before = count(&v6, "SELECT COUNT(*) FROM changelog WHERE store_id IS NULL").await;
        let b_before = rows(&v6, Some("store_b")).await;

        let mut mine = asset("asset-a", "store_a");
        mine["notes"] = json!("mine");
        let cases: Vec<(&str, Value, Option<&str>)> = vec![
            ("own store upsert", v6_record("asset", "asset-a", mine), ALLOWED),
            ("own store delete", v6_delete("asset", "asset-a2"), ALLOWED),
            (
                "new row in another site's store",
                v6_record("asset", "x", asset("x", "store_b")),
                Some("store_b is not active"),
            ),
            (
                "take over another site's row",
                v6_record("asset", "asset-b", asset("asset-b", "store_a")),
                Some("belongs to store store_b"),
            ),
            ("delete another site's row", v6_delete("asset", "asset-b"), Some("belongs to store store_b")),
            (
                "central row of a site table",
                v6_record("asset", "asset-central", asset("asset-central", "store_a")),
                Some("belongs to the central"),
            ),
            ("delete a central row", v6_delete("asset", "asset-central"), Some("belongs to the central")),
            (
                "central table",
                v6_record(
                    "asset_class",
                    "class-1",
                    json!({"id": "class-1", "name": "Hijacked", "store_id": "store_a"}),
                ),
                Some("central data"),
            ),
            ("central table delete", v6_delete("asset_class", "class-1"), Some("central data")),
            ("new id with no store", v6_record("asset", "loose", asset_without_store("loose")), Some("names no store")),
            (
                "store changed to another site's",
                v6_record("asset", "asset-a", asset("asset-a", "store_b")),
                Some("store_b is not active"),
            ),
            ("store removed", v6_record("asset", "asset-a", asset_without_store("asset-a")), Some("names no store")),
        ];
        for (case, record, refusal) in cases {
            let id = record["recordId"].as_str().unwrap().to_owned();
            let answer = a.push(vec![record], true).await;
            match refusal {
                None => {
                    assert!(answer.get("data").is_some(), "{}: {case}: {answer}", db.label);
                    a.wait_integrated().await;
                }
                Some(why) => {
                    let message =
                        answer["error"]["otherServerError"].as_str().unwrap_or_else(|| panic!("{case}: {answer}"));
                    assert!(message.contains(&id) && message.contains(why), "{}: {case}: {message}", db.label);
                }
            }
        }
        let pulled = a.pull_all(false, 100).await;
        assert!(pulled.iter().any(|r| r["recordId"] == "asset-a" && r["recordData"]["notes"] == "mine"), "{pulled:?}");
        assert_eq!(stored_store(&v6, "asset", "asset-a2").await, None, "the own-store delete applied");
        assert_eq!(rows(&v6, Some("store_b")).await, b_before, "{}: b's rows are untouched", db.label);

        // A Merge deletes the merged-away row, so it is held to the same rule as a delete: merging
        // away another site's row is refused before anything is kept.
        let merge = json!({"tableName": "asset", "recordId": "asset-b", "action": "Merge",
            "recordData": {"mergeIdToKeep": "asset-a", "mergeIdToDelete": "asset-b"}});
        let answer = a.push(vec![merge], true).await;
        let refused = answer["error"]["otherServerError"].as_str().unwrap_or_default();
        assert!(refused.contains("asset-b") && refused.contains("belongs to store store_b"), "{answer}");
        assert_eq!(rows(&v6, Some("store_b")).await, b_before, "{}: b's rows are untouched", db.label);

        // A delete buffered (not the last batch) for an id b then creates in its own store.
        assert!(a.push(vec![v6_delete("asset", "later")], false).await.get("data").is_some());
        b.push(vec![v6_record("asset", "later", asset("later", "store_b"))], true).await;
        b.wait_integrated().await;
        assert!(a.push(vec![], true).await.get("data").is_some());
        a.wait_integrated().await;
        assert_eq!(stored_store(&v6, "asset", "later").await, Some(Some("store_b".into())), "{}", db.label);
        let status = a.call("site_status", json!({})).await.1;
        let refused = &status["data"]["refused"];
        assert_eq!((&refused[0]["tableName"], &refused[0]["recordId"]), (&json!("asset"), &json!("later")), "{status}");
        let reason = refused[0]["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("refused at integration") && reason.contains("store_b"), "{}: {reason}", db.label);
        assert!(a.push(vec![], true).await.get("data").is_some());
        a.wait_integrated().await;
        let status = a.call("site_status", json!({})).await.1;
        assert_eq!(status["data"].get("refused"), None, "{}: replaced by the next integration: {status}", db.label);
        assert!(b.pull_all(false, 100).await.iter().any(|r| r["recordId"] == "later" && r["action"] != "Delete"));

        assert_eq!(rows(&v6, None).await, central_before, "{}: central data is unchanged", db.label);
        assert_eq!(count(&v6, "SELECT COUNT(*) FROM changelog WHERE store_id IS NULL").await, changes_before);
        c.stop_v6().await;
        c.stop_v5().await;
    }
}

/// One record a hostile site might push: a table, an id that collides with others' rows or is
/// new, an action, and the store it claims (none, blank, its own, another site's).
fn hostile_record(v6: bool) -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let tables: &'static [&'static str] = if v6 {
        &["asset", "asset_class", "Location", "store"]
    } else {
        &["Location", "item_line", "transact", "trans_line", "item", "unit", "store", "name_store_join"]
    };
    const IDS: [&str; 10] =
        ["loc-a", "loc-central", "asset-a", "asset-central", "class-1", "i1", "u1", "store_a", "inv-a", "fresh"];
    const STORES: [Option<&str>; 4] = [None, Some(""), Some("store_a"), Some("store_b")];
    (prop::sample::select(tables), prop::sample::select(&IDS[..]), any::<bool>(), prop::sample::select(&STORES[..]))
        .prop_map(move |(table, id, delete, store)| {
            let mut data =
                if v6 { json!({"id": id, "notes": "hostile"}) } else { json!({"ID": id, "Description": "hostile"}) };
            if let Some(store) = store {
                data[if v6 { "store_id" } else { "store_ID" }] = json!(store);
            }
            if !v6 && table == "trans_line" {
                data["transaction_ID"] = json!("inv-a");
            }
            match (v6, delete) {
                (false, true) => v5_delete(table, id),
                (false, false) => push_record(table, id, data),
                (true, true) => v6_delete(table, id),
                (true, false) => v6_record(table, id, data),
            }
        })
}

/// Random pushes from site b (store_b) never change a row of a's store or a row of no store,
/// on either central, whether refused when buffered or only at integration; on SQLite, and
/// PostgreSQL when configured.
#[test]
fn random_pushes_from_a_hostile_site_never_change_another_stores_or_the_centrals_rows() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for db in runtime.block_on(databases()) {
        hostile_pushes_on(&runtime, db);
    }
}

fn hostile_pushes_on(runtime: &tokio::runtime::Runtime, db: TestDb) {
    use proptest::prelude::*;
    let (world, v5_b, v6_b) = runtime.block_on(async {
        let c = World::builder().database(&db).start().await;
        add_site(&c.v5_state, "a", "pa", &["store_a"], &c.v6_url).await;
        add_site(&c.v5_state, "b", "pb", &["store_b"], &c.v6_url).await;
        admin::upsert(&c.v5_state.db, "unit", &json!({"ID": "u1", "units": "tab"})).await.unwrap();
        admin::upsert(&c.v5_state.db, "item", &json!({"ID": "i1", "item_name": "Paracetamol"})).await.unwrap();
        admin::upsert(&c.v5_state.db, "Location", &location_without_store("loc-central")).await.unwrap();
        admin::upsert(&c.v5_state.db, "Location", &location("loc-a", "store_a")).await.unwrap();
        let inv = json!({"ID": "inv-a", "store_ID": "store_a", "type": "ci", "status": "fn"});
        admin::upsert(&c.v5_state.db, "transact", &inv).await.unwrap();
        let v6 = c.v6_state.db.clone();
        let class = json!({"id": "class-1", "name": "Fridge"});
        outpost::central_v6::upsert_record(&v6, "asset_class", "class-1", &class).await.unwrap();
        let central = asset_without_store("asset-central");
        outpost::central_v6::upsert_record(&v6, "asset", "asset-central", &central).await.unwrap();
        outpost::central_v6::upsert_asset(&v6, &asset("asset-a", "store_a"), None).await.unwrap();
        let v5_b = V5Site::new(&c.v5_url, "b", "pb");
        let v6_b = V6Site::new(&c.v6_url, v5_b.clone());
        (c, v5_b, v6_b)
    });
    let snapshot = |db: &CentralDb| {
        let db = db.clone();
        runtime.block_on(async move { (rows(&db, None).await, rows(&db, Some("store_a")).await) })
    };
    let (v5_before, v6_before) = (snapshot(&world.v5_state.db), snapshot(&world.v6_state.db));
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig { cases: 32, ..ProptestConfig::default() });
    let strategy =
        (prop::collection::vec(hostile_record(false), 1..5), prop::collection::vec(hostile_record(true), 1..5));
    runner
        .run(&strategy, |(v5_records, v6_records)| {
            runtime.block_on(async {
                // Each record buffered on its own (so refusals at buffering do not hide the
                // others), then one integration.
                for record in v5_records {
                    v5_b.post("queued_records", &json!({"queueLength": 1, "data": [record]})).await;
                }
                v5_b.push_end_and_wait().await;
                for record in v6_records {
                    v6_b.push(vec![record], false).await;
                }
                v6_b.push(vec![], true).await;
                v6_b.wait_integrated().await;
            });
            prop_assert_eq!(&snapshot(&world.v5_state.db), &v5_before, "{}: V5", db.label);
            prop_assert_eq!(&snapshot(&world.v6_state.db), &v6_before, "{}: V6", db.label);
            Ok(())
        })
        .unwrap();
}
