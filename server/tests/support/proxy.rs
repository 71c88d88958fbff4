//! A fault-injecting HTTP proxy for sync tests: forwards every request to a central, except
//! the n-th request matching a method and path, which gets a 503 (an interrupted run), and
//! requests to a held path, which wait until the test releases them (a run caught mid-way,
//! deterministically, with no timing involved).
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, watch};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

#[derive(Default)]
struct Rule {
    method: Option<Method>,
    path: String,
    /// Matching requests to let through before failing one.
    skip: usize,
}

/// Requests whose path ends with `path` wait for a permit of `gate`; `arrived` counts them.
#[derive(Clone)]
struct Hold {
    path: Arc<Mutex<Option<String>>>,
    gate: Arc<Semaphore>,
    arrived: watch::Sender<u32>,
}

#[derive(Clone)]
pub struct Proxy {
    pub url: String,
    rule: Arc<Mutex<Option<Rule>>>,
    failed: Arc<Mutex<u32>>,
    hold: Hold,
}

impl Proxy {
    pub async fn start(target: &str) -> Proxy {
        let rule: Arc<Mutex<Option<Rule>>> = Arc::default();
        let failed: Arc<Mutex<u32>> = Arc::default();
        let hold = Hold { path: Arc::default(), gate: Arc::new(Semaphore::new(0)), arrived: watch::channel(0).0 };
        let state = (
            target.trim_end_matches('/').to_owned(),
            rule.clone(),
            failed.clone(),
            reqwest::Client::new(),
            hold.clone(),
        );
        let router = axum::Router::new().fallback(forward).with_state(state);
        let running = outpost::serve::start("127.0.0.1:0".parse().unwrap(), router).await.unwrap();
        let url = running.url();
        std::mem::forget(running);
        Proxy { url, rule, failed, hold }
    }

    /// Hold every request whose path ends with `path` until [`Proxy::release`] lets it go.
    pub fn hold(&self, path: &str) {
        *self.hold.path.lock().unwrap() = Some(path.into());
    }

    /// Wait until `n` requests in total have arrived at the held path.
    pub async fn wait_held(&self, n: u32) {
        let _ = self.hold.arrived.subscribe().wait_for(|a| *a >= n).await;
    }

    /// Requests that have arrived at the held path so far.
    pub fn held(&self) -> u32 {
        *self.hold.arrived.borrow()
    }

    /// Let `n` held requests (waiting or still to come) through.
    pub fn release(&self, n: usize) {
        self.hold.gate.add_permits(n);
    }

    /// Stop holding and let every waiting request through.
    pub fn release_all(&self) {
        *self.hold.path.lock().unwrap() = None;
        // Far more than any test sends; a held request that comes later passes too.
        self.hold.gate.add_permits(1 << 20);
    }

    /// Fail the `(skip+1)`-th request of `method` whose path ends with `path`.
    pub fn fail(&self, method: Method, path: &str, skip: usize) {
        *self.rule.lock().unwrap() = Some(Rule { method: Some(method), path: path.into(), skip });
    }

    pub fn failures(&self) -> u32 {
        *self.failed.lock().unwrap()
    }
}

type ProxyState = (String, Arc<Mutex<Option<Rule>>>, Arc<Mutex<u32>>, reqwest::Client, Hold);

async fn forward(
    State((target, rule, failed, client, hold)): State<ProxyState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let held = hold.path.lock().unwrap().as_ref().is_some_and(|p| uri.path().ends_with(p.as_str()));
    if held {
        hold.arrived.send_modify(|a| *a += 1);
        if let Ok(permit) = hold.gate.acquire().await {
            permit.forget();
        }
    }
    {
        let mut rule = rule.lock().unwrap();
        if let Some(r) = rule.as_mut()
            && r.method.as_ref().is_none_or(|m| *m == method)
            && uri.path().ends_with(&r.path)
        {
            if r.skip == 0 {
                *rule = None;
                *failed.lock().unwrap() += 1;
                return (StatusCode::SERVICE_UNAVAILABLE, "injected fault").into_response();
            }
            r.skip -= 1;
        }
    }
    let url = format!("{target}{}", uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let mut request = client.request(method, url).body(body);
    for (name, value) in headers.iter() {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(reply) => {
            let status = reply.status();
            let bytes = reply.bytes().await.unwrap_or_default();
            (status, bytes).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}
