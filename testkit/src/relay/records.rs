//! What the relay reads in a sync message: the records it carries (for the log and counts),
//! and the refusal a central would answer for a push carrying a record a test named.

use std::collections::HashSet;

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// The records a request carries, and whether they travel in the request (push) or the answer.
pub(super) fn keys(method: &Method, path: &str, request: &[u8], answer: &[u8]) -> (Vec<String>, bool) {
    let json = |b: &[u8]| serde_json::from_slice::<Value>(b).unwrap_or(Value::Null);
    let list = |v: &Value, ptr: &str, field: &str, prefix: &str| -> Vec<String> {
        v.pointer(ptr)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|r| format!("{prefix}{}", r[field].to_string().trim_matches('"')))
            .collect()
    };
    match (method.as_str(), path.rsplit('/').next().unwrap_or_default()) {
        ("GET", "central_records") => (list(&json(answer), "/data", "ID", "central:"), false),
        ("GET", "queued_records") => (list(&json(answer), "/data", "syncOutId", "queue:"), false),
        ("POST", "queued_records") => (list(&json(request), "/data", "syncOutId", "push:"), true),
        ("POST", "push") => (list(&json(request), "/batch/records", "cursor", "push_v6:"), true),
        ("POST", "pull") => (list(&json(answer), "/data/records", "cursor", "pull_v6:"), false),
        _ => (Vec::new(), false),
    }
}

/// The plain JSON of a request body sent with `coding` (the site sends zstd to our centrals,
/// gzip to one that lists only gzip); unreadable bodies read as empty.
pub(super) fn decode(coding: Option<&[u8]>, body: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    match coding {
        Some(b"gzip") => {
            let _ = flate2::read::GzDecoder::new(body).read_to_end(&mut out);
        }
        Some(b"zstd") => {
            if let Ok(mut z) = zstd::stream::read::Decoder::new(body) {
                let _ = z.read_to_end(&mut out);
            }
        }
        _ => out = body.to_vec(),
    }
    out
}

/// The refusal of a push carrying a record [`Relay::refuse_records`] named, if this is one.
pub(super) fn refusal(refuse: &HashSet<String>, method: &Method, path: &str, plain: &[u8]) -> Option<Response> {
    if refuse.is_empty() || method != Method::POST {
        return None;
    }
    let body: Value = serde_json::from_slice(plain).ok()?;
    let v5 = path.ends_with("/queued_records");
    let records = if v5 {
        body.get("data")
    } else if path.ends_with("/push") {
        body.pointer("/batch/records")
    } else {
        None
    };
    let hit = records?.as_array()?.iter().find_map(|r| {
        let r = if v5 { r } else { r.get("record")? };
        let id = r.get("recordId")?.as_str()?;
        refuse.contains(id).then(|| format!("{} {id}", r.get("tableName").and_then(Value::as_str).unwrap_or("?")))
    })?;
    let message = format!("{hit}: refused by the test relay");
    Some(if v5 {
        let body = serde_json::json!({"error": {"code": "sync_record_rejected", "message": message, "data": null}});
        (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
    } else {
        let body = serde_json::json!({"error": {"otherServerError": format!("sync_record_rejected: {message}")}});
        (StatusCode::OK, axum::Json(body)).into_response()
    })
}
