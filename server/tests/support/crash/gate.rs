//! An HTTP proxy in front of a central that lets a test hit an exact moment of a sync run and
//! count what crossed it twice. It forwards everything, and:
//! - logs every request with the records it carried (the central's change ids for a pull, the
//!   site's changelog cursors for a push), so a test can count records fetched or sent again
//!   after a restart, per "generation" (one generation per site process);
//! - can hold the n-th request of a route, before forwarding it (the central never sees it) or
//!   after (the central committed it, the site never hears back), and tell the test, which then
//!   kills the site or does something at that moment and releases (forward or drop) the request;
//! - can replay the last request of a route (a duplicated delivery, as the soak saw).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::{Notify, oneshot};

/// Where a held request stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Before it reaches the central.
    Before,
    /// After the central answered (and committed), before the site gets the answer.
    After,
}

struct Hold {
    method: Method,
    path: &'static str,
    /// Matching requests (with records, if `with_records`) to let through first.
    skip: usize,
    with_records: bool,
    when: When,
}

/// One request that crossed the gate.
#[derive(Debug, Clone)]
pub struct Entry {
    pub generation: u32,
    pub method: Method,
    pub path: String,
    /// The records it carried: sent (push) or returned (pull), as route-prefixed ids.
    pub keys: Vec<String>,
    /// Whether those records got across: a push reached the central, a pull's answer the site.
    pub transferred: bool,
    /// The central's HTTP status (0 while held or when the gate dropped it).
    pub status: u16,
    pub at: Instant,
}

#[derive(Default)]
struct Inner {
    generation: AtomicU32,
    log: Mutex<Vec<Entry>>,
    hold: Mutex<Option<Hold>>,
    held: Notify,
    release: Mutex<Option<oneshot::Sender<bool>>>,
    last: Mutex<Vec<(Method, String, HeaderMap, Bytes)>>,
}

#[derive(Clone)]
pub struct Gate {
    pub url: String,
    target: String,
    inner: Arc<Inner>,
    client: reqwest::Client,
}

impl Gate {
    pub async fn start(target: &str) -> Gate {
        let inner = Arc::new(Inner::default());
        inner.generation.store(1, Ordering::SeqCst);
        let mut gate = Gate {
            url: String::new(),
            target: target.trim_end_matches('/').to_owned(),
            inner,
            client: reqwest::Client::new(),
        };
        let router = axum::Router::new().fallback(forward).with_state(gate.clone());
        let running = outpost::serve::start("127.0.0.1:0".parse().unwrap(), router).await.unwrap();
        gate.url = running.url();
        // The gate lives as long as the test process.
        std::mem::forget(running);
        gate
    }

    /// Requests from now on belong to generation `g` (a restarted site process).
    pub fn set_generation(&self, g: u32) {
        self.inner.generation.store(g, Ordering::SeqCst);
    }

    /// Hold the `(skip+1)`-th request of `method path` (counting only requests that carry
    /// records when `with_records`).
    pub fn hold(&self, method: Method, path: &'static str, skip: usize, with_records: bool, when: When) {
        *self.inner.hold.lock().unwrap() = Some(Hold { method, path, skip, with_records, when });
    }

    /// Wait until the request set by [`Gate::hold`] is being held; false if it never came.
    pub async fn held(&self, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.inner.held.notified()).await.is_ok()
    }

    /// Let the held request go on (`forward`) or fail it (the site is gone anyway).
    pub fn release(&self, forward: bool) {
        if let Some(tx) = self.inner.release.lock().unwrap().take() {
            let _ = tx.send(forward);
        }
    }

    pub fn entries(&self) -> Vec<Entry> {
        self.inner.log.lock().unwrap().clone()
    }

    /// Send the last request seen for `method path` again, as a duplicated delivery would.
    pub async fn replay_last(&self, method: Method, path: &str) -> reqwest::StatusCode {
        let (m, uri, headers, body) = {
            let last = self.inner.last.lock().unwrap();
            last.iter()
                .rev()
                .find(|(m, u, _, _)| *m == method && u.split('?').next().unwrap_or_default().ends_with(path))
                .cloned()
                .expect("nothing to replay")
        };
        send(&self.client, &self.target, m, &uri, &headers, body).await.map(|r| r.status()).expect("replay failed")
    }

    /// Records of `method path` that generation `later` moved again after generation
    /// `later - 1` had moved them: (requests that repeated any record, records repeated).
    pub fn redone(&self, method: &Method, path: &str, later: u32) -> (usize, usize) {
        let entries = self.entries();
        let on_route = |e: &&Entry| e.method == *method && e.path.ends_with(path);
        let before: HashSet<&String> = entries
            .iter()
            .filter(on_route)
            .filter(|e| e.generation == later - 1 && e.transferred)
            .flat_map(|e| &e.keys)
            .collect();
        let (mut requests, mut records) = (0, 0);
        for e in entries.iter().filter(on_route).filter(|e| e.generation == later) {
            let again = e.keys.iter().filter(|k| before.contains(k)).count();
            requests += usize::from(again > 0);
            records += again;
        }
        (requests, records)
    }

    /// When generation `g` first called `method path` (its step resumed).
    pub fn first_call(&self, method: &Method, path: &str, g: u32) -> Option<Instant> {
        self.entries()
            .into_iter()
            .find(|e| e.generation == g && e.method == *method && e.path.ends_with(path))
            .map(|e| e.at)
    }

    /// Largest number of records one request of `method path` moved (the batch size in effect).
    pub fn largest_batch(&self, method: &Method, path: &str) -> usize {
        self.entries()
            .iter()
            .filter(|e| e.method == *method && e.path.ends_with(path))
            .map(|e| e.keys.len())
            .max()
            .unwrap_or(0)
    }
}

/// The records a request carries, and whether they travel in the request (push) or the answer.
fn keys(method: &Method, path: &str, request: &[u8], answer: &[u8]) -> (Vec<String>, bool) {
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

fn gunzip(body: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    let _ = flate2::read::GzDecoder::new(body).read_to_end(&mut out);
    out
}

async fn send(
    client: &reqwest::Client,
    target: &str,
    method: Method,
    uri: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> reqwest::Result<reqwest::Response> {
    let mut request = client.request(method, format!("{target}{uri}")).body(body);
    for (name, value) in headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    request.send().await
}

/// Whether this request is the one to hold; counts down the rule's skips.
fn take_hold(gate: &Gate, method: &Method, path: &str, has_records: bool) -> Option<When> {
    let mut hold = gate.inner.hold.lock().unwrap();
    let h = hold.as_mut()?;
    if h.method != *method || !path.ends_with(h.path) || (h.with_records && !has_records) {
        return None;
    }
    if h.skip > 0 {
        h.skip -= 1;
        return None;
    }
    hold.take().map(|h| h.when)
}

/// Tell the test a request is held and wait for its decision (drop after a minute at most).
async fn wait_release(gate: &Gate) -> bool {
    let (tx, rx) = oneshot::channel();
    *gate.inner.release.lock().unwrap() = Some(tx);
    gate.inner.held.notify_one();
    tokio::time::timeout(Duration::from_secs(60), rx).await.ok().and_then(Result::ok).unwrap_or(false)
}

async fn forward(State(gate): State<Gate>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let generation = gate.inner.generation.load(Ordering::SeqCst);
    let path = uri.path().to_owned();
    let path_and_query = uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".into());
    {
        let mut last = gate.inner.last.lock().unwrap();
        last.retain(|(m, u, _, _)| !(*m == method && u.split('?').next() == Some(path.as_str())));
        last.push((method.clone(), path_and_query.clone(), headers.clone(), body.clone()));
    }
    // The site gzips its request bodies; the records are read from the plain JSON.
    let plain =
        if headers.get("content-encoding").is_some_and(|v| v == "gzip") { gunzip(&body) } else { body.to_vec() };
    let (request_keys, in_request) = keys(&method, &path, &plain, b"");
    let when = take_hold(&gate, &method, &path, in_request && !request_keys.is_empty());
    // Logged before any wait: a held request's handler is dropped when the killed site's
    // connection closes, and what it did must still count.
    let log = |keys: Vec<String>, transferred: bool| {
        let mut log = gate.inner.log.lock().unwrap();
        log.push(Entry {
            generation,
            method: method.clone(),
            path: path.clone(),
            keys,
            transferred,
            status: 0,
            at: Instant::now(),
        });
        log.len() - 1
    };
    let mut logged = None;
    if when == Some(When::Before) {
        logged = Some(log(if in_request { request_keys.clone() } else { Vec::new() }, false));
        if !wait_release(&gate).await {
            return (StatusCode::SERVICE_UNAVAILABLE, "held and dropped by the gate").into_response();
        }
    }
    let reply = match send(&gate.client, &gate.target, method.clone(), &path_and_query, &headers, body.clone()).await {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = reply.status();
    let passed: Vec<_> = ["content-type", "content-encoding"]
        .iter()
        .filter_map(|h| Some((*h, reply.headers().get(*h)?.clone())))
        .collect();
    let answer = reply.bytes().await.unwrap_or_default();
    let keys = if in_request { request_keys } else { keys(&method, &path, &plain, &answer).0 };
    // A push got across once the central accepted it; a pull only once the site has the answer.
    let held = when == Some(When::After);
    let transferred = status.is_success() && (in_request || !held);
    let at: usize = match logged {
        // Released after a hold: the same request, now forwarded.
        Some(at) => {
            let mut log = gate.inner.log.lock().unwrap();
            (log[at].keys, log[at].transferred) = (keys, transferred);
            at
        }
        None => log(keys, transferred),
    };
    gate.inner.log.lock().unwrap()[at].status = status.as_u16();
    if held && !wait_release(&gate).await {
        return (StatusCode::SERVICE_UNAVAILABLE, "answer held and dropped by the gate").into_response();
    }
    if held && status.is_success() {
        gate.inner.log.lock().unwrap()[at].transferred = true;
    }
    let mut response = (status, answer).into_response();
    for (name, value) in passed {
        response.headers_mut().insert(name, value);
    }
    response
}
