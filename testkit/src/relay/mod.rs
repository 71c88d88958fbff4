//! One relay to put between a client (a site) and a server (a central), with hooks a test uses
//! to reach an exact moment of a sync run or a bad link:
//!
//! - **log and count**: every request is logged with the records it carried (the central's
//!   change ids for a pull, the site's cursors for a push) per *generation* (one per site
//!   process), so a test can count requests, or records fetched or sent again after a restart;
//! - **delay** every request by a fixed time;
//! - **fail** the n-th request matching a method and path with a 503 (an interrupted run);
//! - **hold** matching requests before they reach the server, or after it answered (it
//!   committed, the client never hears back), until the test releases or drops them;
//! - **replay** the last request of a route (a duplicated delivery);
//! - **refuse** pushes that carry chosen record ids, as a central refusing them would, without
//!   naming them (the reference's whole-batch `sync_record_rejected`), so the site must split;
//! - **seeded faults** on the raw bytes ([`faults::Schedule`]: drop, cut, delay, duplicate);
//! - **retarget**: the server may restart on a new port behind the same relay URL;
//! - **round robin**: several replicas of a server behind one URL, a different one per request
//!   ([`Relay::spread`]), as a load balancer in front of central replicas would;
//! - **bytes**: what crossed the front each way, as the client sent and received it (HTTP
//!   headers and compression included);
//! - **a slow line** ([`link::Link`]: bandwidth shared by all connections, round-trip time,
//!   longest request), for the bench's cellular scenario; seeded faults do not apply then.
//!
//! It is two stages behind one URL: a TCP front that pipes bytes (counts them, and injects the
//! seeded faults, which must hit the bytes a client sees), then an HTTP stage that parses
//! requests, applies the hooks and forwards them. A relay started with
//! [`Relay::start_bytes_only`] has the front alone, piped straight to the server: it costs the
//! client next to nothing, so what is measured through it (the bench's wire bytes and timings)
//! is the server's work, not the relay's; the hooks that read requests need the HTTP stage.

pub mod faults;
mod hold;
pub mod link;
mod records;

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

pub use faults::{Fault, Schedule};
pub use hold::{Hold, When};

/// Fail the `(skip+1)`-th matching request with a 503.
struct Fail {
    method: Method,
    path: String,
    skip: usize,
}

/// One request that crossed the relay.
#[derive(Debug, Clone)]
pub struct Entry {
    pub generation: u32,
    pub method: Method,
    pub path: String,
    /// The records it carried: sent (push) or returned (pull), as route-prefixed ids.
    pub keys: Vec<String>,
    /// Whether those records got across: a push reached the server, a pull's answer the client.
    pub transferred: bool,
    /// The server's HTTP status (0 while held, when the relay dropped or failed it).
    pub status: u16,
    pub at: Instant,
}

type Request = (Method, String, HeaderMap, Bytes);

struct Inner {
    target: Mutex<String>,
    /// Replicas to spread requests over ([`Relay::spread`]); empty: `target` alone.
    replicas: Mutex<Vec<String>>,
    next_replica: AtomicU64,
    client: reqwest::Client,
    generation: AtomicU32,
    log: Mutex<Vec<Entry>>,
    delay: Mutex<Duration>,
    fail: Mutex<Option<Fail>>,
    failed: AtomicU32,
    hold: Mutex<Option<Hold>>,
    /// Requests that met the hold so far (since it was set).
    arrived: watch::Sender<u32>,
    /// Held requests waiting for a decision: `true` goes on, `false` is dropped.
    waiting: Mutex<VecDeque<oneshot::Sender<bool>>>,
    /// Releases granted before the requests they let through arrived.
    credits: Mutex<usize>,
    last: Mutex<Vec<Request>>,
    faults: Mutex<Option<Schedule>>,
    link: Mutex<Option<Arc<link::Link>>>,
    bytes: Arc<WireBytes>,
    /// Record ids whose pushes are refused ([`Relay::refuse_records`]).
    refuse: Mutex<HashSet<String>>,
    /// Pushes refused so far.
    refused: AtomicU32,
}

/// Bytes that crossed a relay's front: `up` from the client to the server, `down` back.
#[derive(Debug, Default)]
struct WireBytes {
    up: AtomicU64,
    down: AtomicU64,
}

impl WireBytes {
    fn add(&self, up: usize, down: usize) {
        self.up.fetch_add(up as u64, Ordering::Relaxed);
        self.down.fetch_add(down as u64, Ordering::Relaxed);
    }
}

#[derive(Clone)]
pub struct Relay {
    pub url: String,
    inner: Arc<Inner>,
    _stages: Arc<Stages>,
}

/// The relay's two servers; they stop when the last clone of the relay is dropped (requests
/// under way finish), so a test that builds many worlds does not pile up listeners.
struct Stages {
    front: tokio::task::JoinHandle<()>,
    /// `None` for a bytes-only relay.
    _http: Option<outpost::serve::Running>,
}

impl Drop for Stages {
    fn drop(&mut self) {
        self.front.abort();
    }
}

/// A held request that nobody decides about is dropped after this long.
const HOLD_LIMIT: Duration = Duration::from_secs(60);

impl Relay {
    /// Relay to the server at `target` (a base URL such as `http://127.0.0.1:1234`), until the
    /// last clone of the relay is dropped.
    pub async fn start(target: &str) -> Relay {
        Relay::launch(target, true).await
    }

    /// A relay with the TCP front alone, piped straight to `target` (`http://IP:PORT`): it
    /// counts bytes ([`Relay::bytes`]), injects seeded faults and follows [`Relay::retarget`],
    /// and adds next to no work of its own; the hooks that read requests (log, count, delay,
    /// fail, hold, replay) do nothing here.
    pub async fn start_bytes_only(target: &str) -> Relay {
        Relay::launch(target, false).await
    }

    async fn launch(target: &str, http_stage: bool) -> Relay {
        let target = target.trim_end_matches('/').to_owned();
        if !http_stage {
            assert!(socket_addr(&target).is_some(), "a bytes-only relay needs an http://IP:PORT target, not {target}");
        }
        let inner = Arc::new(Inner {
            target: Mutex::new(target),
            replicas: Mutex::default(),
            next_replica: AtomicU64::new(0),
            client: crate::http_client(),
            generation: AtomicU32::new(1),
            log: Mutex::default(),
            delay: Mutex::default(),
            fail: Mutex::default(),
            failed: AtomicU32::new(0),
            hold: Mutex::default(),
            arrived: watch::channel(0).0,
            waiting: Mutex::default(),
            credits: Mutex::default(),
            last: Mutex::default(),
            faults: Mutex::default(),
            link: Mutex::default(),
            bytes: Arc::default(),
            refuse: Mutex::default(),
            refused: AtomicU32::new(0),
        });
        let http = if http_stage {
            let router = axum::Router::new().fallback(forward).with_state(inner.clone());
            Some(outpost::serve::start(crate::any_port(), router).await.unwrap())
        } else {
            None
        };
        let http_addr = http.as_ref().map(|h| h.addr);
        let listener = TcpListener::bind(crate::any_port()).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let front = inner.clone();
        let front = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let schedule = front.faults.lock().unwrap().clone();
                // Bytes-only: the server the relay points at now (it may have been retargeted).
                let Some(to) = http_addr.or_else(|| socket_addr(&front.pick())) else { continue };
                let line = front.link.lock().unwrap().clone();
                match line {
                    Some(line) => tokio::spawn(link::pipe(client, to, line, front.bytes.clone())),
                    None => tokio::spawn(faults::pipe(client, to, schedule, front.bytes.clone())),
                };
            }
        });
        Relay { url, inner, _stages: Arc::new(Stages { front, _http: http }) }
    }

    /// Bytes that crossed the relay so far, as the client sent and received them: (up, down).
    pub fn bytes(&self) -> (u64, u64) {
        let bytes = &self.inner.bytes;
        (bytes.up.load(Ordering::Relaxed), bytes.down.load(Ordering::Relaxed))
    }

    /// Send requests to a restarted server from now on.
    pub fn retarget(&self, target: &str) {
        *self.inner.target.lock().unwrap() = target.trim_end_matches('/').to_owned();
    }

    /// Send each request (each connection, for a bytes-only relay) to the next of `replicas`
    /// in turn, from now on; an empty list goes back to the single target. A test takes a
    /// killed replica out of the list, as a load balancer's health check would.
    pub fn spread(&self, replicas: &[String]) {
        *self.inner.replicas.lock().unwrap() = replicas.iter().map(|r| r.trim_end_matches('/').to_owned()).collect();
    }

    /// Inject seeded faults on connections opened from now on (`None`: no faults).
    pub fn set_faults(&self, schedule: Option<Schedule>) {
        *self.inner.faults.lock().unwrap() = schedule;
    }

    /// Put new connections through a slow line (`None`: full speed again).
    pub fn set_link(&self, line: Option<Arc<link::Link>>) {
        *self.inner.link.lock().unwrap() = line;
    }

    /// Delay every request by `delay` before forwarding it.
    pub fn set_delay(&self, delay: Duration) {
        *self.inner.delay.lock().unwrap() = delay;
    }

    /// Requests from now on belong to generation `g` (e.g. a restarted site process).
    pub fn set_generation(&self, g: u32) {
        self.inner.generation.store(g, Ordering::SeqCst);
    }

    /// Fail the `(skip+1)`-th request of `method` whose path ends with `path` with a 503.
    pub fn fail(&self, method: Method, path: &str, skip: usize) {
        *self.inner.fail.lock().unwrap() = Some(Fail { method, path: path.into(), skip });
    }

    /// Refuse, from now on, every push (V5 `queued_records`, V6 `push`) that carries one of
    /// these record ids, without forwarding it: V5 gets 403 `sync_record_rejected`, V6
    /// `otherServerError` led by that code, both naming no record, as a reference central
    /// refusing a batch would.
    pub fn refuse_records(&self, ids: impl IntoIterator<Item = String>) {
        self.inner.refuse.lock().unwrap().extend(ids);
    }

    /// Pushes refused by [`Relay::refuse_records`] so far.
    pub fn refusals(&self) -> u32 {
        self.inner.refused.load(Ordering::SeqCst)
    }

    /// Requests failed by [`Relay::fail`] so far.
    pub fn failures(&self) -> u32 {
        self.inner.failed.load(Ordering::SeqCst)
    }

    /// Hold requests as `hold` says until [`Relay::release`] or [`Relay::drop_held`]; the count
    /// of held requests starts again from 0.
    pub fn hold(&self, hold: Hold) {
        self.inner.arrived.send_replace(0);
        *self.inner.hold.lock().unwrap() = Some(hold);
    }

    /// Wait until `n` requests in total have met the hold.
    pub async fn wait_held(&self, n: u32) {
        let _ = self.inner.arrived.subscribe().wait_for(|a| *a >= n).await;
    }

    /// Whether a request met the hold within `limit`.
    pub async fn held_within(&self, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.wait_held(1)).await.is_ok()
    }

    /// Requests that have met the hold so far.
    pub fn held(&self) -> u32 {
        *self.inner.arrived.borrow()
    }

    /// Let `n` held requests (waiting or still to come) go on.
    pub fn release(&self, n: usize) {
        let mut left = n;
        let mut waiting = self.inner.waiting.lock().unwrap();
        while left > 0 {
            let Some(next) = waiting.pop_front() else { break };
            // A request whose client went away takes no release.
            if next.send(true).is_ok() {
                left -= 1;
            }
        }
        *self.inner.credits.lock().unwrap() += left;
    }

    /// Stop holding and let every held request go on, now and later.
    pub fn release_all(&self) {
        *self.inner.hold.lock().unwrap() = None;
        // Far more than any test sends.
        self.release(1 << 20);
    }

    /// Drop the requests held now (their client gets a 503, if it is still there).
    pub fn drop_held(&self) {
        for next in self.inner.waiting.lock().unwrap().drain(..) {
            let _ = next.send(false);
        }
    }

    pub fn entries(&self) -> Vec<Entry> {
        self.inner.log.lock().unwrap().clone()
    }

    /// Requests of `method` (any, if `None`) whose path ends with `path` so far.
    pub fn count(&self, method: Option<&Method>, path: &str) -> usize {
        let log = self.inner.log.lock().unwrap();
        log.iter().filter(|e| method.is_none_or(|m| *m == e.method) && e.path.ends_with(path)).count()
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
        send(&self.inner, m, &uri, &headers, body).await.map(|r| r.status()).expect("replay failed")
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

    /// When generation `g` first called `method path`.
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

impl Inner {
    /// The server for the next request: the next replica in turn, or the single target.
    fn pick(&self) -> String {
        let replicas = self.replicas.lock().unwrap();
        if replicas.is_empty() {
            return self.target.lock().unwrap().clone();
        }
        let n = self.next_replica.fetch_add(1, Ordering::Relaxed) as usize;
        replicas[n % replicas.len()].clone()
    }
}

/// `http://IP:PORT` as a socket address.
fn socket_addr(url: &str) -> Option<SocketAddr> {
    url.strip_prefix("http://")?.trim_end_matches('/').parse().ok()
}

async fn send(
    inner: &Inner,
    method: Method,
    uri: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> reqwest::Result<reqwest::Response> {
    let target = inner.pick();
    let mut request = inner.client.request(method, format!("{target}{uri}")).body(body);
    for (name, value) in headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    request.send().await
}

/// Whether this request is one to hold, and when; counts down the hold's skips.
fn take_hold(inner: &Inner, method: &Method, path: &str, has_records: bool) -> Option<When> {
    Hold::take(&mut inner.hold.lock().unwrap(), method, path, has_records)
}

/// Whether this request is the one to fail; counts down the rule's skips.
fn take_fail(inner: &Inner, method: &Method, path: &str) -> bool {
    let mut fail = inner.fail.lock().unwrap();
    let Some(f) = fail.as_mut() else { return false };
    if f.method != *method || !path.ends_with(&f.path) {
        return false;
    }
    if f.skip > 0 {
        f.skip -= 1;
        return false;
    }
    *fail = None;
    inner.failed.fetch_add(1, Ordering::SeqCst);
    true
}

/// Tell the test a request is held and wait for its decision (dropped after [`HOLD_LIMIT`]).
async fn wait_release(inner: &Inner) -> bool {
    let (tx, rx) = oneshot::channel();
    {
        let mut credits = inner.credits.lock().unwrap();
        if *credits > 0 {
            *credits -= 1;
            drop(credits);
            inner.arrived.send_modify(|a| *a += 1);
            return true;
        }
        inner.waiting.lock().unwrap().push_back(tx);
    }
    inner.arrived.send_modify(|a| *a += 1);
    tokio::time::timeout(HOLD_LIMIT, rx).await.ok().and_then(Result::ok).unwrap_or(false)
}

async fn forward(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let generation = inner.generation.load(Ordering::SeqCst);
    let path = uri.path().to_owned();
    let path_and_query = uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".into());
    {
        let mut last = inner.last.lock().unwrap();
        last.retain(|(m, u, _, _)| !(*m == method && u.split('?').next() == Some(path.as_str())));
        last.push((method.clone(), path_and_query.clone(), headers.clone(), body.clone()));
    }
    let delay = *inner.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    // The site compresses its request bodies; the records are read from the plain JSON.
    let plain = records::decode(headers.get("content-encoding").map(|v| v.as_bytes()), &body);
    let (request_keys, in_request) = records::keys(&method, &path, &plain, b"");
    let when = take_hold(&inner, &method, &path, in_request && !request_keys.is_empty());
    // Logged before any wait: a held request's handler is dropped when its client's connection
    // closes (a killed site), and what it did must still count.
    let log = |keys: Vec<String>, transferred: bool| {
        let mut log = inner.log.lock().unwrap();
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
        if !wait_release(&inner).await {
            return (StatusCode::SERVICE_UNAVAILABLE, "held and dropped by the relay").into_response();
        }
    }
    if let Some(refusal) = records::refusal(&inner.refuse.lock().unwrap(), &method, &path, &plain) {
        if logged.is_none() {
            log(Vec::new(), false);
        }
        inner.refused.fetch_add(1, Ordering::SeqCst);
        return refusal;
    }
    if take_fail(&inner, &method, &path) {
        if logged.is_none() {
            log(Vec::new(), false);
        }
        return (StatusCode::SERVICE_UNAVAILABLE, "injected fault").into_response();
    }
    let reply = match send(&inner, method.clone(), &path_and_query, &headers, body.clone()).await {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = reply.status();
    let passed: Vec<_> = ["content-type", "content-encoding", outpost::wire::HEADER_ACCEPTS_COMPRESSED_REQUESTS]
        .iter()
        .filter_map(|h| Some((*h, reply.headers().get(*h)?.clone())))
        .collect();
    let answer = reply.bytes().await.unwrap_or_default();
    let keys = if in_request { request_keys } else { records::keys(&method, &path, &plain, &answer).0 };
    // A push got across once the server accepted it; a pull only once the client has the answer.
    let held = when == Some(When::After);
    let transferred = status.is_success() && (in_request || !held);
    let at: usize = match logged {
        // Released after a hold: the same request, now forwarded.
        Some(at) => {
            let mut log = inner.log.lock().unwrap();
            (log[at].keys, log[at].transferred) = (keys, transferred);
            at
        }
        None => log(keys, transferred),
    };
    inner.log.lock().unwrap()[at].status = status.as_u16();
    if held && !wait_release(&inner).await {
        return (StatusCode::SERVICE_UNAVAILABLE, "answer held and dropped by the relay").into_response();
    }
    if held && status.is_success() {
        inner.log.lock().unwrap()[at].transferred = true;
    }
    let mut response = (status, answer).into_response();
    for (name, value) in passed {
        response.headers_mut().insert(name, value);
    }
    response
}
