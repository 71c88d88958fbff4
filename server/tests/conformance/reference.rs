//! A minimal central that behaves exactly as reference section 3 describes, written here so the
//! site's client is tested against the reference rather than against our own centrals: V5 and V6
//! on one server, plain JSON only (a compressed request body is refused, as a central that does
//! not decode bodies would fail it), the V5 headers checked on every call, V6 bodies read with
//! upstream's field types (`syncVersion` a string). It records every request it was sent.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use outpost::wire::{HEADER_ACCEPTS_COMPRESSED_REQUESTS, v5};
use serde_json::{Value, json};

pub const SITE: &str = "ref-site";
pub const PASSWORD: &str = "ref-password";
pub const SITE_ID: i64 = 7;
pub const STORE: &str = "ref_store";

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    /// The body parsed as JSON (after gzip, when the server accepted gzip).
    pub body: Option<Value>,
    pub gzip: bool,
}

#[derive(Default)]
pub struct Central {
    pub base: String,
    pub seen: Vec<Seen>,
    pub hardware_id: Option<String>,
    pub status: &'static str,
    pub central_records: Vec<Value>,
    pub queue: BTreeMap<u64, Value>,
    pub v6_records: Vec<Value>,
    pub v5_pushed: Vec<Value>,
    pub v6_pushed: Vec<Value>,
    /// Say (by our header) that gzip request bodies are decoded, and decode them.
    pub advertise_gzip: bool,
    /// Answer `GET /sync/v5/site` with this status and body instead.
    pub site_reply: Option<(u16, String)>,
    /// Answer every V6 call with `{"error": this}`.
    pub v6_error: Option<Value>,
}

pub type Shared = Arc<Mutex<Central>>;

/// The records of `table` in the shared fixtures, or, on a clone without them, in the test
/// kit's own sample of the same upstream shapes (`outpost_testkit::fixtures::sample`), so the
/// suite runs the same assertions everywhere.
fn fixture(table: &str) -> Vec<Value> {
    let (_, files) = outpost_testkit::fixtures::legacy_v5_sets("conformance::reference (our sample stands in)")
        .pop()
        .expect("the sample at least");
    files.into_iter().find(|f| f.table == table).unwrap().records
}

/// Start it, holding records of upstream's own shapes (the shared legacy fixtures): units, a
/// name and a store active on [`SITE_ID`] in the central change log, a location of that store in
/// the site's queue, and an asset of it on V6.
pub async fn start() -> (outpost::serve::Running, Shared) {
    let name = fixture("name").into_iter().next().unwrap();
    let mut store = fixture("store").into_iter().next().unwrap();
    store["ID"] = json!(STORE);
    store["name_ID"] = name["ID"].clone();
    store["sync_id_remote_site"] = json!(SITE_ID);
    let mut central = Vec::new();
    let mut add = |table: &str, data: Value| {
        let id = central.len() as u64 + 1;
        central.push(
            json!({"ID": id, "tableName": table, "recordId": data["ID"], "action": "insert", "recordData": data}),
        );
    };
    for unit in fixture("unit") {
        add("unit", unit);
    }
    add("name", name);
    add("store", store);
    let mut location = fixture("Location").into_iter().next().unwrap();
    location["store_ID"] = json!(STORE);
    let mut queue = BTreeMap::new();
    queue.insert(
        1,
        json!({"syncOutId": "1", "tableName": "Location", "recordId": location["ID"], "action": "insert", "recordData": location}),
    );
    let mut asset = fixture("asset").into_iter().next().unwrap();
    asset["store_id"] = json!(STORE);
    let v6 = vec![
        json!({"cursor": 1, "record": {"tableName": "asset", "recordId": asset["id"], "action": "Insert", "recordData": asset}}),
    ];
    let shared: Shared = Arc::new(Mutex::new(Central {
        status: "new",
        central_records: central,
        queue,
        v6_records: v6,
        ..Default::default()
    }));
    let app = Router::new().fallback(handle).with_state(shared.clone());
    let running = outpost::serve::start("127.0.0.1:0".parse().unwrap(), app).await.unwrap();
    shared.lock().unwrap().base = running.url();
    (running, shared)
}

fn json_reply(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), [("content-type", "application/json")], body.to_string()).into_response()
}

fn v5_error(status: u16, code: &str) -> Response {
    json_reply(status, json!({"error": {"code": code, "message": code, "data": null}}))
}

fn query(uri: &Uri, key: &str) -> Option<u64> {
    uri.query()?.split('&').find_map(|kv| kv.strip_prefix(&format!("{key}="))?.parse().ok())
}

async fn handle(State(shared): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let advertise = shared.lock().unwrap().advertise_gzip;
    let gzip = headers.get("content-encoding").is_some();
    let mut reply = if gzip && !advertise {
        // What a central that does not decode request bodies makes of one.
        (StatusCode::BAD_REQUEST, "request body is not JSON").into_response()
    } else {
        let bytes = if gzip {
            let mut text = Vec::new();
            flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut text).unwrap();
            text
        } else {
            body.to_vec()
        };
        let parsed: Option<Value> = if bytes.is_empty() { None } else { serde_json::from_slice(&bytes).ok() };
        let seen = Seen {
            method: method.clone(),
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            headers: headers.clone(),
            body: parsed.clone(),
            gzip,
        };
        shared.lock().unwrap().seen.push(seen);
        if !bytes.is_empty() && parsed.is_none() {
            (StatusCode::BAD_REQUEST, "request body is not JSON").into_response()
        } else if let Some(route) = uri.path().strip_prefix("/sync/v5/") {
            v5_route(&shared, &method, route, &uri, &headers, parsed)
        } else if let Some(route) = uri.path().strip_prefix("/central/sync/") {
            v6_route(&shared, &method, route, parsed)
        } else {
            StatusCode::NOT_FOUND.into_response()
        }
    };
    if advertise {
        reply.headers_mut().insert(HEADER_ACCEPTS_COMPRESSED_REQUESTS, "gzip".parse().unwrap());
    }
    reply
}

fn v5_route(
    shared: &Shared,
    method: &Method,
    route: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: Option<Value>,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("{SITE}:{}", v5::password_sha256(PASSWORD)));
    if header("authorization") != Some(format!("Basic {expected}")) {
        return v5_error(401, v5::code::SITE_INCORRECT_PASSWORD);
    }
    if header(v5::HEADER_VERSION).as_deref() != Some("14") {
        return v5_error(409, v5::code::API_VERSION_INCOMPATIBLE);
    }
    if header(v5::HEADER_APP_NAME).is_none() || header(v5::HEADER_APP_VERSION).is_none() {
        return (StatusCode::BAD_REQUEST, "app headers missing").into_response();
    }
    let mut c = shared.lock().unwrap();
    let Some(hardware_id) = header(v5::HEADER_HARDWARE_ID) else {
        return v5_error(401, v5::code::SITE_INCORRECT_HARDWARE_ID);
    };
    if c.hardware_id.get_or_insert(hardware_id.clone()) != &hardware_id {
        return v5_error(401, v5::code::SITE_INCORRECT_HARDWARE_ID);
    }
    match (method.as_str(), route) {
        ("GET", "site") => {
            if let Some((status, text)) = c.site_reply.clone() {
                return (StatusCode::from_u16(status).unwrap(), text).into_response();
            }
            json_reply(
                200,
                json!({"id": "REF-SITE-UUID", "siteId": SITE_ID, "code": "REF", "name": SITE,
                       "initialisationStatus": c.status, "isOmSupplyCentralServer": false,
                       "omSupplyCentralServerUrl": c.base, "mSupplyCentralSiteId": 1}),
            )
        }
        ("GET", "site_status") => json_reply(200, json!({"code": "idle", "message": "Idle", "data": null})),
        ("POST", "initialise") => {
            c.status = "completed";
            json_reply(200, json!({"queueLength": c.queue.len()}))
        }
        ("GET", "central_records") => {
            let (cursor, limit) = (query(uri, "cursor").unwrap_or(0), query(uri, "limit").unwrap_or(500));
            let max = c.central_records.len() as u64;
            let data: Vec<Value> = c
                .central_records
                .iter()
                .filter(|r| r["ID"].as_u64().unwrap() > cursor)
                .take(limit as usize)
                .cloned()
                .collect();
            json_reply(200, json!({"maxCursor": max, "data": data}))
        }
        ("GET", "queued_records") => {
            let limit = query(uri, "limit").unwrap_or(500) as usize;
            let data: Vec<Value> = c.queue.values().take(limit).cloned().collect();
            json_reply(200, json!({"queueLength": c.queue.len(), "data": data}))
        }
        ("POST", "acknowledged_records") => {
            for id in body.as_ref().and_then(|b| b["syncIDs"].as_array()).into_iter().flatten() {
                if let Some(id) = id.as_str().and_then(|s| s.parse::<u64>().ok()) {
                    c.queue.remove(&id);
                }
            }
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", "queued_records") => {
            let body = body.unwrap_or_default();
            c.v5_pushed.extend(body["data"].as_array().cloned().unwrap_or_default());
            json_reply(200, json!({"integrationStarted": body["queueLength"] == 0}))
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

fn v6_route(shared: &Shared, method: &Method, route: &str, body: Option<Value>) -> Response {
    if method != Method::POST {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let body = body.unwrap_or_default();
    let settings = &body["syncV5Settings"];
    // Upstream's types: syncVersion is a string, the password its SHA-256.
    let typed = settings["syncVersion"] == "14"
        && settings["username"] == SITE
        && settings["passwordSha256"] == v5::password_sha256(PASSWORD)
        && settings["siteUuid"].is_string()
        && body["syncV6Version"] == 5;
    if !typed {
        return json_reply(200, json!({"error": {"otherServerError": format!("unexpected body {body}")}}));
    }
    let mut c = shared.lock().unwrap();
    if let Some(error) = c.v6_error.clone() {
        return json_reply(200, json!({ "error": error }));
    }
    match route {
        "pull" => {
            let (cursor, batch) = (body["cursor"].as_u64().unwrap_or(0), body["batchSize"].as_u64().unwrap_or(500));
            let matching: Vec<&Value> =
                c.v6_records.iter().filter(|r| r["cursor"].as_u64().unwrap() >= cursor).collect();
            let page: Vec<Value> = matching.iter().take(batch as usize).map(|r| (*r).clone()).collect();
            let max = c.v6_records.iter().filter_map(|r| r["cursor"].as_u64()).max().unwrap_or(0);
            let end = page.last().and_then(|r| r["cursor"].as_u64()).unwrap_or(max);
            let total = matching.len() as u64;
            json_reply(
                200,
                json!({"data": {"end_cursor": end, "total_records": total, "records": page, "is_last_batch": total <= batch}}),
            )
        }
        "push" => {
            let records = body["batch"]["records"].as_array().cloned().unwrap_or_default();
            let n = records.len();
            c.v6_pushed.extend(records);
            json_reply(200, json!({"data": {"records_pushed": n}}))
        }
        "site_status" => json_reply(200, json!({"data": {"is_integrating": false}})),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}
