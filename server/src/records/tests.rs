//! Round-trip and changelog tests of the translators through the write path, against the
//! shared real V5 records.

use serde_json::{Value, json};
use sqlx::{Connection, SqliteConnection};

use super::schema::{Kind, Spec};
use super::*;

async fn fresh_db() -> (tempfile::TempDir, sqlx::pool::PoolConnection<sqlx::Sqlite>) {
    let dir = tempfile::tempdir().unwrap();
    let pool = crate::db::open_sqlite(&dir.path().join("site.db"), &crate::site::MIGRATIONS).await.unwrap();
    let conn = pool.acquire().await.unwrap();
    (dir, conn)
}

const FROM_V5: Origin = Origin { is_sync_update: true, source_site_id: Some(1) };

/// One record as `from` shapes it, through the write path as a page of one.
async fn one(
    conn: &mut SqliteConnection,
    from: Central,
    table: Table,
    id: &str,
    action: ChangeAction,
    data: Option<&Value>,
    origin: Origin,
) -> Result<(), RecordError> {
    let text = data.map(Value::to_string);
    integrate_one(conn, table, action, Received { record_id: id, from, data: text.as_deref(), origin }).await
}

async fn put(conn: &mut SqliteConnection, table: Table, data: Value) {
    let id = data["ID"].as_str().unwrap().to_owned();
    one(conn, Central::V5, table, &id, ChangeAction::Upsert, Some(&data), FROM_V5).await.unwrap();
}

/// The fixtures come from Open mSupply's test data and refer to rows of its mock database
/// (stores `store_a`, items `item_a`, invoice `outbound_shipment_a`...). Those parents are
/// seeded first, as a site would have received them earlier.
async fn seed_fixture_parents(conn: &mut SqliteConnection) {
    for name in ["name_store_a", "name_store_b", "name_store_c", "invad", "donor_a"] {
        put(conn, Table::Name, json!({"ID": name, "name": name})).await;
    }
    for store in ["store_a", "store_b"] {
        put(conn, Table::Store, json!({"ID": store, "name": store, "sync_id_remote_site": 2})).await;
    }
    for item in ["item_a", "item_b"] {
        put(conn, Table::Item, json!({"ID": item, "item_name": item})).await;
    }
    put(conn, Table::StockLine, json!({"ID": "item_a_line_a", "item_ID": "item_a", "store_ID": "store_b"})).await;
    put(conn, Table::Invoice, json!({"ID": "outbound_shipment_a", "name_ID": "name_store_a", "store_ID": "store_b"}))
        .await;
}

fn numbers_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// `got` must carry every field of `sent` with the same value. Allowed normalisations:
/// - numbers compare by value: V5 does not distinguish `0` from `0.0` and we store reals;
/// - a modelled field the central left out comes back with 4D's empty value for its kind
///   (null, "", 0, false, 0000-00-00), because the column exists for every row.
fn assert_same_record(spec: &Spec, sent: &Value, got: &Value) {
    let (sent, got) = (sent.as_object().unwrap(), got.as_object().unwrap());
    for (key, value) in sent {
        let back = got.get(key).unwrap_or_else(|| panic!("{} {key} was lost; sent {value}", spec.table.name()));
        assert!(numbers_equal(value, back), "{} {key}: sent {value}, got back {back}", spec.table.name());
    }
    for (key, value) in got {
        if sent.contains_key(key) {
            continue;
        }
        let field = spec.fields.iter().find(|f| f.key == key);
        let field = field.unwrap_or_else(|| panic!("{} grew an unknown field {key}", spec.table.name()));
        let empty = match field.kind {
            Kind::Text => value.is_null(),
            Kind::Bool => *value == json!(false),
            Kind::Int | Kind::Real => value.as_f64() == Some(0.0),
            Kind::Date => *value == json!("0000-00-00"),
            Kind::Ref { .. } => *value == json!(""),
        };
        assert!(empty, "{} {key} was not sent but came back as {value}", spec.table.name());
    }
}

fn order(table: Table) -> usize {
    Table::ALL.iter().position(|t| *t == table).unwrap()
}

#[tokio::test]
async fn every_fixture_record_integrates_and_pushes_back_the_same_values() {
    let test = "every_fixture_record_integrates_and_pushes_back_the_same_values";
    for (_set, files) in outpost_testkit::fixtures::legacy_v5_sets(test) {
        integrates_and_pushes_back_the_same_values(files).await;
    }
}

async fn integrates_and_pushes_back_the_same_values(files: Vec<outpost_testkit::fixtures::FixtureFile>) {
    // The name_store_join sent twice: the later copy must win.
    let joins: Vec<&Value> = files.iter().filter(|f| f.table == "name_store_join").flat_map(|f| &f.records).collect();
    let twice = joins
        .iter()
        .map(|r| r["ID"].as_str().unwrap().to_owned())
        .find(|id| joins.iter().filter(|r| r["ID"] == id.as_str()).count() > 1)
        .expect("a name_store_join sent twice");
    let last_copy = (*joins.iter().rev().find(|r| r["ID"] == twice.as_str()).unwrap()).clone();
    let (_dir, mut conn) = fresh_db().await;
    seed_fixture_parents(&mut conn).await;

    let mut records: Vec<(Table, Value)> = Vec::new();
    let mut unknown = Vec::new();
    for file in files {
        let table = match table_from_v5(&file.table).or_else(|_| table_from_v6(&file.table)) {
            Ok(t) => t,
            Err(e) => {
                assert!(matches!(e, RecordError::UnknownTable(_)), "{e}");
                unknown.push(file.table);
                continue;
            }
        };
        records.extend(file.records.into_iter().map(|r| (table, r)));
    }
    unknown.sort();
    assert_eq!(unknown, ["Location_type", "list_master"]);
    // Stable sort: within a table the file order stays, so a later copy of an id is an update.
    records.sort_by_key(|(t, _)| order(*t));

    // One page per table, as integration sends them: a later copy of an id in the same page
    // updates the earlier one.
    let mut latest: Vec<(Table, String, Value)> = Vec::new();
    let mut refused = Vec::new();
    let mut rest = &records[..];
    while let Some((table, _)) = rest.first() {
        let table = *table;
        let (page, tail) = rest.split_at(rest.iter().take_while(|(t, _)| *t == table).count());
        rest = tail;
        let spec = Spec::of(table);
        let from = if table == Table::Asset { Central::V6 } else { Central::V5 };
        let texts: Vec<(String, String)> = page
            .iter()
            .map(|(_, r)| {
                // The fixtures hold one `name` record without any ID ({"check": "check"}): the
                // record id it would travel under cannot be trusted, so it is refused as malformed.
                let id = r.get(spec.id_key).and_then(Value::as_str).unwrap_or("no-id");
                (id.to_owned(), r.to_string())
            })
            .collect();
        let received: Vec<Received<'_>> = texts
            .iter()
            .map(|(id, text)| Received { record_id: id, from, data: Some(text), origin: FROM_V5 })
            .collect();
        let outcomes = integrate_page(&mut conn, table, ChangeAction::Upsert, &received).await.unwrap();
        for (((id, _), (_, record)), outcome) in texts.iter().zip(page).zip(outcomes) {
            if record.get(spec.id_key).is_none() {
                assert!(matches!(outcome, Err(RecordError::Malformed(_))), "{outcome:?}");
                refused.push(record.clone());
                continue;
            }
            outcome.unwrap_or_else(|e| panic!("{} {id}: {e}", table.name()));
            latest.retain(|(t, i, _)| !(*t == table && i == id));
            latest.push((table, id.clone(), record.clone()));
        }
    }
    assert_eq!(refused, [json!({"check": "check"})]);
    assert!(latest.len() >= 35, "only {} records integrated", latest.len());

    for (table, id, sent) in &latest {
        let got = match table {
            Table::Asset => to_v6(&mut conn, *table, id).await.unwrap(),
            _ => to_v5(&mut conn, *table, id).await.unwrap(),
        };
        assert_same_record(Spec::of(*table), sent, &got.unwrap());
    }
    // The duplicated name_store_join was an update: the last copy (inactive) won.
    let nsj = to_v5(&mut conn, Table::NameStoreJoin, &twice).await.unwrap().unwrap();
    assert_eq!(nsj["inactive"], last_copy["inactive"]);
    assert_eq!(nsj["inactive"], json!(true));
}

#[derive(Debug, PartialEq, sqlx::FromRow)]
struct LogRow {
    table_name: String,
    record_id: String,
    row_action: String,
    store_id: Option<String>,
    is_sync_update: bool,
    source_site_id: Option<i64>,
}

async fn log(conn: &mut SqliteConnection) -> Vec<LogRow> {
    sqlx::query_as("SELECT table_name, record_id, row_action, store_id, is_sync_update, source_site_id FROM changelog ORDER BY cursor")
        .fetch_all(conn)
        .await
        .unwrap()
}

fn row(table: &str, id: &str, action: &str, store: Option<&str>, sync: bool, source: Option<i64>) -> LogRow {
    LogRow {
        table_name: table.into(),
        record_id: id.into(),
        row_action: action.into(),
        store_id: store.map(Into::into),
        is_sync_update: sync,
        source_site_id: source,
    }
}

async fn seed_store(conn: &mut SqliteConnection) {
    put(conn, Table::Store, json!({"ID": "s1", "name": "Store 1", "sync_id_remote_site": 7})).await;
}

#[tokio::test]
async fn integration_logs_one_sync_row_and_a_later_local_edit_logs_a_local_row() {
    let (_dir, mut conn) = fresh_db().await;
    seed_store(&mut conn).await;
    let loc =
        json!({"ID": "L1", "store_ID": "s1", "code": "A", "Description": "Shelf A", "hold": false, "Colour": "red"});
    one(&mut conn, Central::V5, Table::Location, "L1", ChangeAction::Upsert, Some(&loc), Origin::sync(Some(1)))
        .await
        .unwrap();
    let edit = outpost_api::Location {
        id: "L1".into(),
        store_id: "s1".into(),
        code: "B".into(),
        name: "Shelf B".into(),
        on_hold: true,
    };
    upsert_location(&mut conn, &edit).await.unwrap();

    let rows = log(&mut conn).await;
    assert_eq!(
        rows[1..],
        [
            row("location", "L1", "UPSERT", Some("s1"), true, Some(1)),
            row("location", "L1", "UPSERT", Some("s1"), false, None)
        ]
    );
    assert_eq!(rows[0], row("store", "s1", "UPSERT", Some("s1"), true, Some(1)));

    // The dedup view keeps the latest change only, which is the local edit: it will be pushed.
    let deduped: Vec<(String, bool)> =
        sqlx::query_as("SELECT record_id, is_sync_update FROM changelog_deduped WHERE table_name = 'location'")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    assert_eq!(deduped, [("L1".to_owned(), false)]);

    // The local edit changed the modelled fields and kept the one we do not model.
    let pushed = to_v5(&mut conn, Table::Location, "L1").await.unwrap().unwrap();
    assert_eq!(
        (&pushed["code"], &pushed["Description"], &pushed["hold"]),
        (&json!("B"), &json!("Shelf B"), &json!(true))
    );
    assert_eq!(pushed["Colour"], json!("red"));
}

#[tokio::test]
async fn a_rolled_back_transaction_leaves_neither_the_row_nor_its_changelog_row() {
    let (_dir, mut conn) = fresh_db().await;
    seed_store(&mut conn).await;
    let before = log(&mut conn).await.len();
    let mut tx = conn.begin().await.unwrap();
    let loc = json!({"ID": "L1", "store_ID": "s1", "code": "A"});
    one(&mut tx, Central::V5, Table::Location, "L1", ChangeAction::Upsert, Some(&loc), FROM_V5).await.unwrap();
    assert_eq!(log(&mut tx).await.len(), before + 1, "the changelog row is written with the change");
    tx.rollback().await.unwrap();
    assert_eq!(log(&mut conn).await.len(), before);
    assert_eq!(to_v5(&mut conn, Table::Location, "L1").await.unwrap(), None);
}

#[tokio::test]
async fn a_delete_logs_the_store_of_the_old_row_and_a_missing_row_logs_nothing() {
    let (_dir, mut conn) = fresh_db().await;
    seed_store(&mut conn).await;
    let asset = json!({"id": "A1", "store_id": "s1", "asset_number": "F-1"});
    one(&mut conn, Central::V6, Table::Asset, "A1", ChangeAction::Upsert, Some(&asset), FROM_V5).await.unwrap();
    one(&mut conn, Central::V6, Table::Asset, "A1", ChangeAction::Delete, None, FROM_V5).await.unwrap();
    one(&mut conn, Central::V6, Table::Asset, "A1", ChangeAction::Delete, None, FROM_V5).await.unwrap();
    let rows = log(&mut conn).await;
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2], row("asset", "A1", "DELETE", Some("s1"), true, Some(1)));
    assert_eq!(to_v6(&mut conn, Table::Asset, "A1").await.unwrap(), None);
    assert!(!delete_asset(&mut conn, "A1").await.unwrap(), "nothing left to delete");
}

#[tokio::test]
async fn an_invoice_line_logs_the_store_of_its_invoice() {
    let (_dir, mut conn) = fresh_db().await;
    seed_store(&mut conn).await;
    put(&mut conn, Table::Name, json!({"ID": "n1"})).await;
    put(&mut conn, Table::Item, json!({"ID": "i1"})).await;
    put(&mut conn, Table::Invoice, json!({"ID": "inv1", "name_ID": "n1", "store_ID": "s1"})).await;
    put(&mut conn, Table::InvoiceLine, json!({"ID": "l1", "transaction_ID": "inv1", "item_ID": "i1"})).await;
    let last = log(&mut conn).await.pop().unwrap();
    assert_eq!(last, row("invoice_line", "l1", "UPSERT", Some("s1"), true, Some(1)));
}

#[tokio::test]
async fn a_line_whose_invoice_is_missing_is_refused_and_writes_nothing() {
    let (_dir, mut conn) = fresh_db().await;
    put(&mut conn, Table::Item, json!({"ID": "i1"})).await;
    let before = log(&mut conn).await.len();
    let line = json!({"ID": "l1", "transaction_ID": "nowhere", "item_ID": "i1"});
    let err = one(&mut conn, Central::V5, Table::InvoiceLine, "l1", ChangeAction::Upsert, Some(&line), FROM_V5)
        .await
        .unwrap_err();
    assert!(matches!(&err, RecordError::MissingParent { parent: "invoice", .. }), "{err:?}");
    assert!(err.to_string().contains("nowhere"), "{err}");
    assert!(!err.is_db());
    assert_eq!(log(&mut conn).await.len(), before);
}

#[tokio::test]
async fn an_optional_reference_to_nothing_is_stored_as_null_and_pushed_back_unchanged() {
    let (_dir, mut conn) = fresh_db().await;
    put(&mut conn, Table::Item, json!({"ID": "i1", "unit_ID": "no-such-unit"})).await;
    let unit: Option<String> =
        sqlx::query_scalar("SELECT unit_id FROM item WHERE id = 'i1'").fetch_one(&mut *conn).await.unwrap();
    assert_eq!(unit, None);
    let pushed = to_v5(&mut conn, Table::Item, "i1").await.unwrap().unwrap();
    assert_eq!(pushed["unit_ID"], json!("no-such-unit"));
}

#[tokio::test]
async fn wrong_types_ids_and_directions_are_refused_with_a_reason() {
    let (_dir, mut conn) = fresh_db().await;
    let bad_type = json!({"ID": "u1", "order_number": "first"});
    let err = one(&mut conn, Central::V5, Table::Unit, "u1", ChangeAction::Upsert, Some(&bad_type), FROM_V5)
        .await
        .unwrap_err();
    assert!(matches!(err, RecordError::Malformed(_)) && err.to_string().contains("order_number"), "{err}");
    let other_id = json!({"ID": "u2"});
    let err = one(&mut conn, Central::V5, Table::Unit, "u1", ChangeAction::Upsert, Some(&other_id), FROM_V5)
        .await
        .unwrap_err();
    assert!(matches!(err, RecordError::Malformed(_)), "{err}");
    let err = one(&mut conn, Central::V5, Table::Asset, "a1", ChangeAction::Delete, None, FROM_V5).await.unwrap_err();
    assert!(matches!(err, RecordError::Refused(_)), "{err}");
    let err = to_v6(&mut conn, Table::Location, "x").await.unwrap_err();
    assert!(matches!(err, RecordError::Refused(_)), "{err}");
    assert!(matches!(table_from_v5("Location_type"), Err(RecordError::UnknownTable(_))));
}

#[tokio::test]
async fn own_stores_are_those_of_this_site_id() {
    let (_dir, mut conn) = fresh_db().await;
    assert!(own_store_ids(&mut conn).await.unwrap().is_empty(), "no site id yet, no own stores");
    seed_store(&mut conn).await;
    put(&mut conn, Table::Store, json!({"ID": "other", "sync_id_remote_site": 8})).await;
    sqlx::query("INSERT INTO key_value_store (id, value_int) VALUES (?, 7)")
        .bind(SITE_ID_KEY)
        .execute(&mut *conn)
        .await
        .unwrap();
    assert_eq!(own_store_ids(&mut conn).await.unwrap(), ["s1"]);
}

#[tokio::test]
async fn deleting_a_location_that_stock_refers_to_is_refused() {
    let (_dir, mut conn) = fresh_db().await;
    seed_store(&mut conn).await;
    put(&mut conn, Table::Item, json!({"ID": "i1"})).await;
    put(&mut conn, Table::Location, json!({"ID": "L1", "store_ID": "s1"})).await;
    put(&mut conn, Table::StockLine, json!({"ID": "sl1", "item_ID": "i1", "store_ID": "s1", "location_ID": "L1"}))
        .await;
    let err = delete_location(&mut conn, "L1").await.unwrap_err();
    assert!(matches!(err, RecordError::Refused(_)), "{err}");
    assert!(to_v5(&mut conn, Table::Location, "L1").await.unwrap().is_some());
}
