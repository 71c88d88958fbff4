//! The Store data API against a real site server on port 0: lists only the site's own stores,
//! validates with a 422 that names the field, and sends every write through the changelog.

use outpost::records::{self, Central, ChangeAction, Origin, Received, Table};
use outpost::site::{SiteConfig, start};
use outpost_api::{ApiErrorBody, Asset, Location, StoreData};
use outpost_testkit::prelude::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::SqlitePool;

struct Site {
    _dir: tempfile::TempDir,
    /// Held so the server keeps running: dropping it closes the stop channel.
    _server: outpost::serve::Running,
    url: String,
    db: SqlitePool,
    http: reqwest::Client,
}

const FROM_V5: Origin = Origin { is_sync_update: true, source_site_id: Some(1) };

async fn put(db: &SqlitePool, table: Table, data: Value) {
    let mut conn = db.acquire().await.unwrap();
    let id = data["ID"].as_str().unwrap().to_owned();
    let data = data.to_string();
    let record = Received { record_id: &id, from: Central::V5, data: Some(&data), origin: FROM_V5 };
    records::integrate_one(&mut conn, table, ChangeAction::Upsert, record).await.unwrap();
}

/// A site with id 7 owning store `s1`; store `other` belongs to site 8. Each store has some stock
/// and an invoice with two lines, as a first sync would have left them.
async fn site() -> Site {
    let dir = tempfile::tempdir().unwrap();
    let config = SiteConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_owned(),
        public_url: None,
        allowed_hosts: Vec::new(),
        app_dir: Some(dir.path().to_owned()),
        admin_password: Some(ADMIN_PASSWORD.into()),
        sync_badge_threshold: 1,
    };
    let running = start(config).await.unwrap();
    let url = format!("{}/api/store-data", running.url());
    let db = outpost::db::open_sqlite(&dir.path().join("site.db"), &outpost::site::MIGRATIONS).await.unwrap();
    sqlx::query("INSERT INTO key_value_store (id, value_int) VALUES (?, 7)")
        .bind(records::SITE_ID_KEY)
        .execute(&db)
        .await
        .unwrap();
    put(&db, Table::Name, json!({"ID": "n1", "name": "Central Hospital"})).await;
    put(&db, Table::Item, json!({"ID": "i1", "item_name": "Paracetamol"})).await;
    for (store, site) in [("s1", 7), ("other", 8)] {
        put(&db, Table::Store, json!({"ID": store, "name": store, "sync_id_remote_site": site})).await;
        put(
            &db,
            Table::Location,
            json!({"ID": format!("loc-{store}"), "store_ID": store, "code": "A1", "Description": "Shelf"}),
        )
        .await;
        put(
            &db,
            Table::StockLine,
            json!({"ID": format!("sl-{store}"), "item_ID": "i1", "store_ID": store,
            "location_ID": format!("loc-{store}"), "batch": "B7", "expiry_date": "2030-01-31", "available": 12}),
        )
        .await;
        put(
            &db,
            Table::Invoice,
            json!({"ID": format!("inv-{store}"), "name_ID": "n1", "store_ID": store,
            "type": "ci", "status": "fn", "invoice_num": 3}),
        )
        .await;
        for line in 1..=2 {
            put(
                &db,
                Table::InvoiceLine,
                json!({"ID": format!("line-{store}-{line}"),
                "transaction_ID": format!("inv-{store}"), "item_ID": "i1"}),
            )
            .await;
        }
    }
    let http = admin_client(&running.url()).await;
    Site { _dir: dir, _server: running, url, db, http }
}

impl Site {
    async fn data(&self) -> StoreData {
        let response = self.http.get(&self.url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// The local (to be pushed) changelog rows: (table, record, action, store).
    async fn local_changes(&self) -> Vec<(String, String, String, Option<String>)> {
        sqlx::query_as(
            "SELECT table_name, record_id, row_action, store_id FROM changelog WHERE is_sync_update = 0 ORDER BY cursor",
        )
        .fetch_all(&self.db)
        .await
        .unwrap()
    }
}

async fn error_field(response: reqwest::Response) -> (StatusCode, Option<String>) {
    let status = response.status();
    let body: ApiErrorBody = response.json().await.unwrap();
    (status, body.error.field)
}

fn change(table: &str, id: &str, action: &str, store: &str) -> (String, String, String, Option<String>) {
    (table.into(), id.into(), action.into(), Some(store.into()))
}

#[tokio::test]
async fn lists_only_the_sites_own_stores_with_invoice_line_counts() {
    let site = site().await;
    let data = site.data().await;
    assert_eq!(data.store_ids, ["s1"]);
    assert_eq!(
        data.locations,
        [Location {
            id: "loc-s1".into(),
            store_id: "s1".into(),
            code: "A1".into(),
            name: "Shelf".into(),
            on_hold: false
        }]
    );
    assert_eq!(data.stock_lines.len(), 1);
    let stock = &data.stock_lines[0];
    assert_eq!(
        (stock.item_name.as_str(), stock.available_packs, stock.location_code.as_deref()),
        ("Paracetamol", 12.0, Some("A1"))
    );
    assert_eq!(stock.expiry_date.as_deref(), Some("2030-01-31"));
    assert_eq!(data.invoices.len(), 1);
    let invoice = &data.invoices[0];
    assert_eq!(
        (invoice.id.as_str(), invoice.line_count, invoice.other_party.as_str()),
        ("inv-s1", 2, "Central Hospital")
    );
}

#[tokio::test]
async fn create_update_and_delete_a_location_each_log_one_local_change() {
    let site = site().await;
    let created = site
        .http
        .post(format!("{}/locations", site.url))
        .json(&json!({"storeId": "s1", "code": "B2", "name": "Fridge shelf"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Location = created.json().await.unwrap();
    assert!(!created.id.is_empty(), "the server makes an id");
    let id = created.id.clone();

    let updated = site
        .http
        .put(format!("{}/locations/{id}", site.url))
        .json(&json!({"storeId": "s1", "code": "B3", "name": "Fridge shelf", "onHold": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), StatusCode::OK);
    assert!(site.data().await.locations.iter().any(|l| l.id == id && l.code == "B3" && l.on_hold));

    let mut conn = site.db.acquire().await.unwrap();
    let pushed = records::to_v5(&mut conn, Table::Location, &id).await.unwrap().unwrap();
    assert_eq!((&pushed["code"], &pushed["store_ID"], &pushed["hold"]), (&json!("B3"), &json!("s1"), &json!(true)));

    let deleted = site.http.delete(format!("{}/locations/{id}", site.url)).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(!site.data().await.locations.iter().any(|l| l.id == id));
    assert_eq!(
        site.local_changes().await,
        [
            change("location", &id, "UPSERT", "s1"),
            change("location", &id, "UPSERT", "s1"),
            change("location", &id, "DELETE", "s1")
        ]
    );
}

#[tokio::test]
async fn create_update_and_delete_an_asset_each_log_one_local_change() {
    let site = site().await;
    let created = site
        .http
        .post(format!("{}/assets", site.url))
        .json(&json!({"id": "fridge-1", "storeId": "s1", "code": "AT1", "serialNumber": "SN-9"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let updated = site
        .http
        .put(format!("{}/assets/fridge-1", site.url))
        .json(&json!({"storeId": "s1", "code": "AT1", "serialNumber": "SN-9", "notes": "door seal worn"}))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), StatusCode::OK);
    let data = site.data().await;
    assert_eq!(
        data.assets,
        [Asset {
            id: "fridge-1".into(),
            store_id: "s1".into(),
            code: "AT1".into(),
            serial_number: "SN-9".into(),
            notes: "door seal worn".into()
        }]
    );

    let mut conn = site.db.acquire().await.unwrap();
    let pushed = records::to_v6(&mut conn, Table::Asset, "fridge-1").await.unwrap().unwrap();
    assert_eq!((&pushed["asset_number"], &pushed["notes"]), (&json!("AT1"), &json!("door seal worn")));
    assert!(pushed["created_datetime"].is_string() && pushed["modified_datetime"].is_string(), "{pushed}");

    let deleted = site.http.delete(format!("{}/assets/fridge-1", site.url)).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        site.local_changes().await,
        [
            change("asset", "fridge-1", "UPSERT", "s1"),
            change("asset", "fridge-1", "UPSERT", "s1"),
            change("asset", "fridge-1", "DELETE", "s1")
        ]
    );
}

#[tokio::test]
async fn bad_input_gets_a_422_naming_the_field_and_writes_nothing() {
    let site = site().await;
    let cases = [
        ("locations", json!({"storeId": "other", "code": "X", "name": "x"}), "storeId"),
        ("locations", json!({"storeId": "s1", "code": "  ", "name": "x"}), "code"),
        ("locations", json!({"storeId": "s1", "code": "A1", "name": "duplicate code"}), "code"),
        ("locations", json!({"storeId": "s1", "code": "Z9", "name": ""}), "name"),
        ("locations", json!({"id": "loc-s1", "storeId": "s1", "code": "Z9", "name": "taken id"}), "id"),
        ("assets", json!({"storeId": "nowhere", "code": "AT2"}), "storeId"),
        ("assets", json!({"storeId": "s1", "code": ""}), "code"),
    ];
    for (kind, body, field) in cases {
        let response = site.http.post(format!("{}/{kind}", site.url)).json(&body).send().await.unwrap();
        assert_eq!(error_field(response).await, (StatusCode::UNPROCESSABLE_ENTITY, Some(field.to_owned())), "{body}");
    }
    assert!(site.local_changes().await.is_empty());
}

#[tokio::test]
async fn another_sites_records_and_unknown_ids_are_not_found() {
    let site = site().await;
    let body = json!({"storeId": "s1", "code": "Q", "name": "q"});
    for url in [format!("{}/locations/loc-other", site.url), format!("{}/locations/nope", site.url)] {
        let response = site.http.put(&url).json(&body).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{url}");
        let response = site.http.delete(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{url}");
    }
    assert!(site.local_changes().await.is_empty());
}

#[tokio::test]
async fn a_location_that_holds_stock_cannot_be_deleted() {
    let site = site().await;
    let response = site.http.delete(format!("{}/locations/loc-s1", site.url)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(site.data().await.locations.len(), 1);
    assert!(site.local_changes().await.is_empty());
}
