//! Property tests (proptest) for what arrives from outside: the V5 and V6 payload parsers never
//! panic on any bytes or any JSON and round-trip what they accept; the site API answers any
//! body with a JSON error, never a 5xx; unknown actions are refused and unknown tables
//! quarantined, each with a message that names them.

use outpost::wire::{v5, v6};
use outpost_testkit::prelude::*;
use proptest::prelude::*;
use serde_json::{Value, json};

/// Any JSON value, a few levels deep, with keys the parsers look for mixed in.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        // Binary fractions: exact in JSON text, so round trips compare equal.
        any::<i32>().prop_map(|i| Value::from(f64::from(i) / 8.0)),
        any::<String>().prop_map(Value::from),
    ];
    let keys = prop_oneof![
        Just("data".to_owned()),
        Just("tableName".to_owned()),
        Just("recordId".to_owned()),
        Just("action".to_owned()),
        Just("recordData".to_owned()),
        Just("queueLength".to_owned()),
        Just("records".to_owned()),
        Just("end_cursor".to_owned()),
        Just("error".to_owned()),
        Just("ID".to_owned()),
        any::<String>(),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn parse_all(bytes: &[u8]) {
    let _ = serde_json::from_slice::<v5::CentralRecords>(bytes);
    let _ = serde_json::from_slice::<v5::QueuedRecords>(bytes);
    let _ = serde_json::from_slice::<v5::PushRequest>(bytes);
    let _ = serde_json::from_slice::<v5::SiteInfo>(bytes);
    let _ = serde_json::from_slice::<v5::ErrorEnvelope>(bytes);
    let _ = serde_json::from_slice::<v6::Envelope<v6::SyncBatch>>(bytes);
    let _ = serde_json::from_slice::<v6::PushRequest>(bytes);
    let _ = serde_json::from_slice::<v6::PullRequest>(bytes);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn v5_and_v6_parsers_never_panic_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        parse_all(&bytes);
    }

    #[test]
    fn v5_and_v6_parsers_never_panic_on_any_json(value in any_json()) {
        parse_all(value.to_string().as_bytes());
        parse_all(json!({"data": [value.clone()], "queueLength": 1, "records": [{"cursor": 1, "record": value}]}).to_string().as_bytes());
    }

    #[test]
    fn a_v5_push_record_round_trips(table in "[A-Za-z_]{1,12}", id in any::<String>(), data in any_json().prop_filter("null data means no data", |v| !v.is_null()), delete in any::<bool>()) {
        let record = v5::PushRecord {
            sync_out_id: "1".into(),
            table_name: table,
            record_id: id,
            action: if delete { v5::PushAction::Delete } else { v5::PushAction::Update },
            record_data: if delete { None } else { Some(data) },
        };
        let request = v5::PushRequest { queue_length: 1, data: vec![record] };
        let back: v5::PushRequest = serde_json::from_str(&serde_json::to_string(&request).unwrap()).unwrap();
        prop_assert_eq!(back, request);
    }
}

/// The site API under arbitrary bodies: a JSON error with a 4xx, never a 5xx or a panic.
#[test]
fn the_site_api_answers_any_body_with_a_4xx_json_error() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (site, admin) = runtime.block_on(async {
        let site = TestSite::start(fast()).await;
        let admin = site.admin().await;
        (site, admin)
    });
    let routes = [
        "/api/store-data/locations",
        "/api/store-data/assets",
        "/api/settings/sync",
        "/api/session",
        "/api/store-data/locations/x",
    ];
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig { cases: 96, ..ProptestConfig::default() });
    let strategy = (
        0..routes.len(),
        prop_oneof![any_json().prop_map(|v| v.to_string().into_bytes()), prop::collection::vec(any::<u8>(), 0..256)],
    );
    runner
        .run(&strategy, |(route, body)| {
            let path = routes[route];
            let (status, text) = runtime.block_on(async {
                let request = if path.ends_with("/x") {
                    admin.put(format!("{}{path}", site.url))
                } else {
                    admin.post(format!("{}{path}", site.url))
                };
                let r = request.header("content-type", "application/json").body(body.clone()).send().await.unwrap();
                (r.status(), r.text().await.unwrap())
            });
            prop_assert!(!status.is_server_error(), "{path}: {status} {text}");
            if !status.is_success() {
                let parsed: Result<outpost_api::ApiErrorBody, _> = serde_json::from_str(&text);
                prop_assert!(parsed.is_ok(), "{path}: {status} is not the JSON error shape: {text}");
            }
            Ok(())
        })
        .unwrap();
}

#[tokio::test]
async fn unknown_actions_are_refused_and_unknown_tables_quarantined_with_a_clear_reason() {
    let world = World::start().await;
    world.add_site("odd", "pw", &["odd-store"]).await;
    let client = outpost_testkit::http_client();
    let auth = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("odd:{}", v5::password_sha256("pw")),
    );
    let push = |record: Value| {
        client
            .post(format!("{}/sync/v5/queued_records", world.v5_url))
            .header("authorization", format!("Basic {auth}"))
            .header(v5::HEADER_HARDWARE_ID, "hw-odd")
            .header(v5::HEADER_VERSION, v5::API_VERSION.to_string())
            .json(&json!({"queueLength": 1, "data": [record]}))
            .send()
    };
    let unknown_action = push(
        json!({"syncOutId": "1", "tableName": "Location", "recordId": "x", "action": "Explode", "recordData": {}}),
    )
    .await
    .unwrap();
    assert_eq!(unknown_action.status(), 400);
    let body: Value = unknown_action.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("Explode"), "{body}");
    // A table this site does not synchronise, sent by a central: quarantined with a reason that
    // names it, and the run carries on. (The V5 central itself keeps legacy tables it does not
    // model, as mSupply does, so it does not refuse them.)
    outpost::central_v5::admin::upsert(&world.v5_state.db, "no_such_table", &json!({"ID": "strange"})).await.unwrap();
    world.add_site("odd2", "pw", &["odd2-store"]).await;
    let site = TestSite::start(fast()).await;
    site.configure(&world, "odd2", "pw").await;
    assert_eq!(site.sync().await, None, "an unknown table does not fail the run");
    let reason: String = sqlx::query_scalar("SELECT integration_error FROM sync_buffer WHERE record_id = 'strange'")
        .fetch_one(&site.state.db)
        .await
        .unwrap();
    assert!(reason.contains("no_such_table"), "{reason}");
}
