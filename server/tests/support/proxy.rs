//! A fault-injecting HTTP proxy for sync tests: forwards every request to a central, except
//! the n-th request matching a method and path, which gets a 503 (an interrupted run).
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

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

#[derive(Clone)]
pub struct Proxy {
    pub url: String,
    rule: Arc<Mutex<Option<Rule>>>,
    failed: Arc<Mutex<u32>>,
}

impl Proxy {
    pub async fn start(target: &str) -> Proxy {
        let rule: Arc<Mutex<Option<Rule>>> = Arc::default();
        let failed: Arc<Mutex<u32>> = Arc::default();
        let state = (target.trim_end_matches('/').to_owned(), rule.clone(), failed.clone(), reqwest::Client::new());
        let router = axum::Router::new().fallback(forward).with_state(state);
        let running = outpost::serve::start("127.0.0.1:0".parse().unwrap(), router).await.unwrap();
        let url = running.url();
        std::mem::forget(running);
        Proxy { url, rule, failed }
    }

    /// Fail the `(skip+1)`-th request of `method` whose path ends with `path`.
    pub fn fail(&self, method: Method, path: &str, skip: usize) {
        *self.rule.lock().unwrap() = Some(Rule { method: Some(method), path: path.into(), skip });
    }

    pub fn failures(&self) -> u32 {
        *self.failed.lock().unwrap()
    }
}

type ProxyState = (String, Arc<Mutex<Option<Rule>>>, Arc<Mutex<u32>>, reqwest::Client);

async fn forward(State((target, rule, failed, client)): State<ProxyState>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
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
