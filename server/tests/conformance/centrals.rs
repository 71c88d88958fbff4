//! Our centrals, spoken to as the reference's client speaks (section 3): raw HTTP, JSON bodies
//! without a `Content-Type` and uncompressed, upstream's field types.

use std::io::Write;

use outpost::central_v6;
use outpost::wire::{HEADER_ACCEPTS_COMPRESSED_REQUESTS, v5};
use outpost_testkit::prelude::*;
use reqwest::{Method, Response};
use serde_json::{Value, json};

/// A JSON body as the reference's client sends it: no content type, no compression.
async fn send_plain(site: &V5Site, method: Method, route: &str, body: Option<Value>) -> Response {
    let mut request = site.request(method, route);
    if let Some(body) = body {
        request = request.body(serde_json::to_vec(&body).unwrap());
    }
    request.send().await.unwrap()
}

async fn json_of(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// The shape of a legacy error reply: `{"error":{"code","message","data"}}`, nothing else.
fn assert_v5_envelope(body: &Value, code: &str) {
    let error = body["error"].as_object().unwrap_or_else(|| panic!("not an error envelope: {body}"));
    assert_eq!(error["code"], code, "{body}");
    assert!(error["message"].is_string(), "{body}");
    assert!(error.contains_key("data"), "data is always present (null or a value): {body}");
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
}

fn is_u64(v: &Value) -> bool {
    v.as_u64().is_some()
}

// ---------------------------------------------------------------- V5 central (section 3.1)

/// Every route of the table, with its method and a body without a content type, answers with the
/// reference's shape and JSON types.
#[tokio::test]
async fn v5_routes_methods_and_shapes_match_the_reference_table() {
    let world = World::start().await;
    world.add_site("conf", "pw", &["conf_store"]).await;
    outpost::central_v5::admin::upsert(&world.v5_state.db, "unit", &json!({"ID": "u1", "units": "Units"}))
        .await
        .unwrap();
    outpost::central_v5::admin::upsert(
        &world.v5_state.db,
        "Location",
        &json!({"ID": "L0", "code": "A", "Description": "A", "store_ID": "conf_store"}),
    )
    .await
    .unwrap();
    let site = V5Site::new(&world.v5_url, "conf", "pw");

    let (status, info) = json_of(send_plain(&site, Method::GET, "site", None).await).await;
    assert_eq!(status, 200, "{info}");
    assert!(info["id"].is_string() && info["code"].is_string() && info["name"].is_string(), "{info}");
    assert!(is_u64(&info["siteId"]) && is_u64(&info["mSupplyCentralSiteId"]), "{info}");
    assert_eq!(info["initialisationStatus"], "new");
    assert!(info["isOmSupplyCentralServer"].is_boolean() && info["omSupplyCentralServerUrl"].is_string());

    let (status, init) = json_of(send_plain(&site, Method::POST, "initialise", Some(json!({}))).await).await;
    assert_eq!(status, 200, "{init}");
    assert!(is_u64(&init["queueLength"]), "{init}");

    let (status, st) = json_of(send_plain(&site, Method::GET, "site_status", None).await).await;
    assert_eq!((status, &st["code"]), (200, &json!("idle")), "{st}");
    assert!(st["message"].is_string() && st["data"].is_null(), "{st}");

    let (status, page) =
        json_of(send_plain(&site, Method::GET, "central_records?cursor=0&limit=500", None).await).await;
    assert_eq!(status, 200, "{page}");
    assert!(is_u64(&page["maxCursor"]), "{page}");
    let unit = page["data"].as_array().unwrap().iter().find(|r| r["recordId"] == "u1").expect("the unit").clone();
    assert!(is_u64(&unit["ID"]), "{unit}");
    assert_eq!((unit["tableName"].as_str(), unit["action"].as_str()), (Some("unit"), Some("insert")));
    assert_eq!(unit["recordData"]["units"], "Units");

    let (status, queued) = json_of(send_plain(&site, Method::GET, "queued_records?limit=500", None).await).await;
    assert_eq!(status, 200, "{queued}");
    assert!(is_u64(&queued["queueLength"]), "{queued}");
    let first = &queued["data"][0];
    assert!(first["syncOutId"].is_string(), "syncOutId is a string: {first}");
    assert_eq!((first["tableName"].as_str(), first["recordId"].as_str()), (Some("Location"), Some("L0")));
    let ids: Vec<Value> = queued["data"].as_array().unwrap().iter().map(|r| r["syncOutId"].clone()).collect();

    let ack = send_plain(&site, Method::POST, "acknowledged_records", Some(json!({ "syncIDs": ids }))).await;
    assert!(ack.status().is_success(), "acknowledgement without a content type: {}", ack.status());
    let (_, after) = json_of(send_plain(&site, Method::GET, "queued_records?limit=500", None).await).await;
    assert_eq!(after["queueLength"], 0, "{after}");

    let push = json!({"queueLength": 1, "data": [{"syncOutId": "7", "tableName": "Location", "recordId": "L1",
        "action": "Update", "recordData": {"ID": "L1", "code": "B", "Description": "B", "store_ID": "conf_store"}}]});
    let (status, reply) = json_of(send_plain(&site, Method::POST, "queued_records", Some(push)).await).await;
    assert_eq!((status, reply), (200, json!({"integrationStarted": false})));
    let end = json!({"queueLength": 0, "data": []});
    let (status, reply) = json_of(send_plain(&site, Method::POST, "queued_records", Some(end)).await).await;
    assert_eq!((status, reply), (200, json!({"integrationStarted": true})));
    site.wait_idle().await;
    assert_eq!(world.v5_count("Location").await, 2, "the pushed location was integrated");

    // A method the table does not list is not served.
    assert_eq!(send_plain(&site, Method::DELETE, "site", None).await.status(), 405);
    assert_eq!(send_plain(&site, Method::GET, "site_stores", None).await.status(), 404, "not a reference route");
}

/// The headers of every call: Basic credentials, the hardware id it binds, the API version.
#[tokio::test]
async fn v5_headers_and_error_codes_are_the_references() {
    let world = World::start().await;
    world.add_site("conf", "pw", &["conf_store"]).await;
    world.add_site("bare", "pw", &[]).await;
    let site = V5Site::new(&world.v5_url, "conf", "pw");

    let mut wrong = site.clone();
    wrong.password = "nope".into();
    let (status, body) = json_of(send_plain(&wrong, Method::GET, "site", None).await).await;
    assert_eq!(status, 401);
    assert_v5_envelope(&body, v5::code::SITE_INCORRECT_PASSWORD);

    let nobody = V5Site::new(&world.v5_url, "nobody", "pw");
    let (status, body) = json_of(send_plain(&nobody, Method::GET, "site", None).await).await;
    assert_eq!(status, 401);
    assert_v5_envelope(&body, v5::code::SITE_NAME_NOT_FOUND);

    assert_eq!(send_plain(&site, Method::GET, "site", None).await.status(), 200, "binds hw-conf");
    let mut other_device = site.clone();
    other_device.hardware_id = "another-device".into();
    let (status, body) = json_of(send_plain(&other_device, Method::GET, "site", None).await).await;
    assert_eq!(status, 401);
    assert_v5_envelope(&body, v5::code::SITE_INCORRECT_HARDWARE_ID);

    let mut newer = site.clone();
    newer.version = "99".into();
    let (status, body) = json_of(send_plain(&newer, Method::GET, "site", None).await).await;
    assert_eq!(status, 409);
    assert_v5_envelope(&body, v5::code::API_VERSION_INCOMPATIBLE);
    assert!(!body["error"]["data"].is_null(), "data carries the version info: {body}");

    let bare = V5Site::new(&world.v5_url, "bare", "pw");
    let (status, body) = json_of(send_plain(&bare, Method::POST, "initialise", Some(json!({}))).await).await;
    assert_eq!(status, 401);
    assert_v5_envelope(&body, v5::code::SITE_HAS_NO_STORE);
}

/// `central_records` returns the records after the cursor, at most `limit`, and `maxCursor`; a
/// site that stops when a page is empty and its cursor reached `maxCursor` has everything.
#[tokio::test]
async fn v5_central_records_follow_the_cursor_rules() {
    let world = World::start().await;
    world.add_site("conf", "pw", &["conf_store"]).await;
    for i in 0..5 {
        outpost::central_v5::admin::upsert(&world.v5_state.db, "unit", &json!({"ID": format!("u{i}"), "units": "U"}))
            .await
            .unwrap();
    }
    let site = V5Site::new(&world.v5_url, "conf", "pw");
    let (_, all) = json_of(send_plain(&site, Method::GET, "central_records?cursor=0&limit=5000", None).await).await;
    let max = all["maxCursor"].as_u64().unwrap();
    let mut cursor = 0;
    let mut seen = Vec::new();
    loop {
        let route = format!("central_records?cursor={cursor}&limit=2");
        let (_, page) = json_of(send_plain(&site, Method::GET, &route, None).await).await;
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 2, "limit holds");
        for r in data {
            let id = r["ID"].as_u64().unwrap();
            assert!(id > cursor, "only records after the cursor");
            seen.push(id);
        }
        match data.last() {
            Some(last) => cursor = last["ID"].as_u64().unwrap(),
            None if cursor >= page["maxCursor"].as_u64().unwrap() => break,
            None => cursor += 1,
        }
    }
    assert_eq!(seen.len() as u64, all["data"].as_array().unwrap().len() as u64);
    assert_eq!(cursor, max);
}

/// Gzip request bodies are read too, and every answer says so (the negotiation header).
#[tokio::test]
async fn v5_reads_gzip_bodies_and_says_it_does() {
    let world = World::start().await;
    world.add_site("conf", "pw", &["conf_store"]).await;
    let site = V5Site::new(&world.v5_url, "conf", "pw");
    let answer = send_plain(&site, Method::GET, "site", None).await;
    assert_eq!(answer.headers()[HEADER_ACCEPTS_COMPRESSED_REQUESTS], "gzip, zstd");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(br#"{"queueLength":0,"data":[]}"#).unwrap();
    let reply = site
        .request(Method::POST, "queued_records")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(reply).await, (200, json!({"integrationStarted": true})));
}

// ---------------------------------------------------------------- V6 central (sections 3.2-3.4)

/// The V5 settings every V6 body carries, typed as upstream's client types them.
fn upstream_settings(site: &V5Site) -> Value {
    json!({
        "serverUrl": site.base,
        "username": site.name,
        "passwordSha256": v5::password_sha256(&site.password),
        "siteUuid": site.hardware_id,
        "appVersion": "2.6.0",
        "appName": "Open mSupply Desktop",
        "syncVersion": "14",
    })
}

async fn v6_post(v6_url: &str, route: &str, body: &Value) -> (u16, Value) {
    let response = outpost_testkit::http_client()
        .post(format!("{v6_url}/central/sync/{route}"))
        .body(serde_json::to_vec(body).unwrap())
        .send()
        .await
        .unwrap();
    json_of(response).await
}

fn with_common(site: &V5Site, version: Option<u32>, extra: Value) -> Value {
    let mut body = extra;
    body["syncV5Settings"] = upstream_settings(site);
    if let Some(v) = version {
        body["syncV6Version"] = json!(v);
    }
    body
}

async fn v6_world() -> (World, V5Site) {
    let world = World::start().await;
    world.add_site("conf", "pw", &["conf_store"]).await;
    let site = V5Site::new(&world.v5_url, "conf", "pw");
    (world, site)
}

/// pull, push and site_status: POST, a body without a content type whose `syncVersion` is a
/// string, HTTP 200 with `{"data"}`, batch fields in snake_case.
#[tokio::test]
async fn v6_routes_take_upstream_bodies_and_answer_in_the_data_envelope() {
    let (world, site) = v6_world().await;
    central_v6::upsert_asset(&world.v6_state.db, &asset("a0", "conf_store"), None).await.unwrap();
    let pull = with_common(&site, Some(5), json!({"cursor": 0, "batchSize": 500, "isInitialised": true}));
    let (status, body) = v6_post(&world.v6_url, "pull", &pull).await;
    assert_eq!(status, 200, "{body}");
    let data = body["data"].as_object().unwrap_or_else(|| panic!("{body}"));
    for field in ["end_cursor", "total_records", "records", "is_last_batch"] {
        assert!(data.contains_key(field), "{field} in {body}");
    }
    let record = &body["data"]["records"][0];
    assert!(is_u64(&record["cursor"]), "{record}");
    assert_eq!(record["record"]["tableName"], "asset");
    assert_eq!(record["record"]["action"], "Update", "upstream's action names");
    assert_eq!(record["record"]["recordData"]["store_id"], "conf_store");

    let (status, body) = v6_post(&world.v6_url, "site_status", &with_common(&site, Some(5), json!({}))).await;
    assert_eq!((status, body), (200, json!({"data": {"is_integrating": false}})));

    let batch = json!({"end_cursor": 1, "total_records": 1, "is_last_batch": true,
        "records": [{"cursor": 1, "record": {"tableName": "asset", "recordId": "a1", "action": "Insert",
                     "recordData": asset("a1", "conf_store")}}]});
    let (status, body) = v6_post(&world.v6_url, "push", &with_common(&site, Some(5), json!({ "batch": batch }))).await;
    assert_eq!((status, body), (200, json!({"data": {"records_pushed": 1}})));
}

/// `syncV6Version` 0..=5 is accepted (missing means 0); anything else is `syncVersionMismatch`.
#[tokio::test]
async fn v6_version_range_is_0_to_5_and_missing_is_0() {
    let (world, site) = v6_world().await;
    for version in [None, Some(0), Some(5)] {
        let (status, body) = v6_post(&world.v6_url, "site_status", &with_common(&site, version, json!({}))).await;
        assert_eq!((status, &body["data"]["is_integrating"]), (200, &json!(false)), "{version:?}: {body}");
    }
    let (status, body) = v6_post(&world.v6_url, "site_status", &with_common(&site, Some(6), json!({}))).await;
    assert_eq!((status, body), (200, json!({"error": {"syncVersionMismatch": [0, 5, 6]}})));
    // A number for syncVersion is read too.
    let mut numeric = with_common(&site, Some(5), json!({}));
    numeric["syncV5Settings"]["syncVersion"] = json!(14);
    assert_eq!(v6_post(&world.v6_url, "site_status", &numeric).await.0, 200);
    assert!(v6_post(&world.v6_url, "site_status", &numeric).await.1["data"].is_object());
}

/// Errors are HTTP 200 with `{"error": …}`, camelCase and externally tagged; a server that is
/// not the central answers the whole scope with 405.
#[tokio::test]
async fn v6_errors_are_envelopes_and_a_non_central_answers_405() {
    let (world, site) = v6_world().await;
    let mut wrong = site.clone();
    wrong.password = "nope".into();
    let (status, body) = v6_post(
        &world.v6_url,
        "pull",
        &with_common(&wrong, Some(5), json!({"cursor": 0, "batchSize": 1, "isInitialised": true})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["error"]["legacyServerError"]["code"], "site_incorrect_password", "{body}");

    let mut state =
        central_v6::V6State::open(&outpost::db::sqlite_url(world.dir.path(), "other.db"), &world.v5_url).await.unwrap();
    state.is_central = false;
    let other = central_v6::serve_state(any_port(), state).await.unwrap();
    let response = outpost_testkit::http_client()
        .post(format!("{}/central/sync/pull", other.url()))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.text().await.unwrap(), "Method only allowed on central server.");
}

/// Pushed actions as upstream names them (and the older and lowercase forms): Insert and Update
/// write the row, Delete and Merge take it out; pulled rows come back as `Update` or `Delete`.
#[tokio::test]
async fn v6_push_takes_insert_update_delete_and_merge() {
    let (world, site) = v6_world().await;
    let record = |id: &str, action: &str, data: Value| json!({"cursor": 1, "record": {"tableName": "asset", "recordId": id, "action": action, "recordData": data}});
    let push = |records: Vec<Value>| {
        let n = records.len();
        with_common(
            &site,
            Some(5),
            json!({"batch": {"end_cursor": 9, "total_records": n, "is_last_batch": true, "records": records}}),
        )
    };
    let first = push(vec![
        record("ins", "Insert", asset("ins", "conf_store")),
        record("upd", "Update", asset("upd", "conf_store")),
        record("old", "Upsert", asset("old", "conf_store")),
        record("low", "update", asset("low", "conf_store")),
        record("gone", "Insert", asset("gone", "conf_store")),
        record("merged", "Insert", asset("merged", "conf_store")),
    ]);
    assert_eq!(v6_post(&world.v6_url, "push", &first).await.1["data"]["records_pushed"], 6);
    let conf = V6Site::new(&world.v6_url, V5Site::new(&world.v5_url, "conf", "pw"));
    conf.wait_integrated().await;
    assert_eq!(world.v6_count("asset").await, 6);
    let second = push(vec![
        record("gone", "Delete", Value::Null),
        record("merged", "Merge", json!({"mergeIdToKeep": "ins", "mergeIdToDelete": "merged"})),
    ]);
    assert_eq!(v6_post(&world.v6_url, "push", &second).await.1["data"]["records_pushed"], 2);
    conf.wait_integrated().await;
    assert_eq!(world.v6_count("asset").await, 4, "Delete and Merge took their rows out");
    let pulled = conf.pull_all(false, 500).await;
    let action = |id: &str| pulled.iter().find(|r| r["recordId"] == id).map(|r| r["action"].clone());
    assert_eq!(action("ins"), Some(json!("Update")));
    assert_eq!(action("gone"), Some(json!("Delete")));
    assert_eq!(action("merged"), Some(json!("Delete")));
}

/// Pull: `end_cursor` is the last row's cursor (the newest cursor when there are none),
/// `total_records` counts every matching row from the cursor, `is_last_batch = total ≤ batch`.
#[tokio::test]
async fn v6_pull_follows_the_cursor_rules() {
    let (world, site) = v6_world().await;
    for i in 0..3 {
        central_v6::upsert_asset(&world.v6_state.db, &asset(&format!("c{i}"), "conf_store"), None).await.unwrap();
    }
    let pull = |cursor: u64, batch: u64| {
        with_common(&site, Some(5), json!({"cursor": cursor, "batchSize": batch, "isInitialised": true}))
    };
    let (_, first) = v6_post(&world.v6_url, "pull", &pull(0, 2)).await;
    let data = &first["data"];
    assert_eq!((data["total_records"].as_u64(), data["is_last_batch"].as_bool()), (Some(3), Some(false)));
    assert_eq!(data["end_cursor"], data["records"][1]["cursor"]);
    let next = data["end_cursor"].as_u64().unwrap() + 1;
    let (_, second) = v6_post(&world.v6_url, "pull", &pull(next, 2)).await;
    assert_eq!(
        (second["data"]["total_records"].as_u64(), second["data"]["is_last_batch"].as_bool()),
        (Some(1), Some(true))
    );
    let newest = second["data"]["end_cursor"].as_u64().unwrap();
    let (_, past) = v6_post(&world.v6_url, "pull", &pull(newest + 1, 2)).await;
    assert_eq!(past["data"]["records"], json!([]));
    assert_eq!(past["data"]["end_cursor"].as_u64(), Some(newest), "no rows: the newest cursor");
}
