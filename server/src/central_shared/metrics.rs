//! Prometheus metrics of a central (`GET /metrics`, OpenMetrics text): requests by route and
//! status class, records pushed and pulled, how long integrations take, and how many sites
//! have been seen since start. Each central has its own registry, so two centrals in one
//! process (the demo, the tests) never mix their counts.
//!
//! Who may read them: the numbers name no site and no record, but they do tell an outsider
//! how busy a central is and which routes fail, so they are not public. With
//! `--metrics-token` a scraper anywhere presents it as a bearer token; without one only a
//! caller on this machine (loopback) is answered, so a scraper on the same host works with no
//! setting, and nothing leaks by default. Behind a reverse proxy on the same host, though,
//! every caller is loopback: so without a token a request that says it was forwarded
//! (`Forwarded`, `X-Forwarded-For`, `X-Real-IP`) is refused too. A proxy that adds none of
//! them still makes `/metrics` public: set a token, or do not forward `/metrics` (README).
//! Rendering is cheap and bounded: labels come from route templates and status classes only.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sha2::{Digest, Sha256};

type Labels = Vec<(&'static str, String)>;

/// Headers a reverse proxy adds to say whom it forwards: a loopback peer sending one is not a
/// caller on this machine.
const FORWARDED_HEADERS: [&str; 3] = ["forwarded", "x-forwarded-for", "x-real-ip"];

/// Why `/metrics` was refused (403); the message says what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error(
        "metrics need the bearer token given to this central with --metrics-token (hint: send Authorization: Bearer TOKEN)"
    )]
    WrongToken,
    #[error(
        "metrics are answered on this machine only (hint: start the central with --metrics-token TOKEN to scrape it from elsewhere)"
    )]
    NotThisMachine,
    #[error(
        "metrics are not answered through a reverse proxy without a token (hint: start the central with --metrics-token TOKEN, or scrape it on this machine directly)"
    )]
    Forwarded,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (StatusCode::FORBIDDEN, self.to_string()).into_response()
    }
}

/// One central's metrics; clones share them.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<Labels, Counter>,
    pushed: Counter,
    pulled: Counter,
    integration: Histogram,
    integrations_failed: Counter,
    sites_seen: Gauge,
    seen: Arc<Mutex<HashSet<i64>>>,
    /// SHA-256 of `--metrics-token`: compared digest to digest, so the time a wrong token
    /// takes says nothing about the right one.
    token_sha256: Option<[u8; 32]>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(None)
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("token", &self.token_sha256.map(|_| "********")).finish_non_exhaustive()
    }
}

impl Metrics {
    /// `token`: what a scraper must present as `Authorization: Bearer TOKEN`; `None`: only
    /// loopback callers are answered.
    pub fn new(token: Option<&str>) -> Self {
        let mut registry = Registry::with_prefix("outpost");
        let requests = Family::<Labels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template and status class",
            requests.clone(),
        );
        let pushed = Counter::default();
        registry.register("records_pushed", "Records sites pushed into the push buffer", pushed.clone());
        let pulled = Counter::default();
        registry.register("records_pulled", "Records sent to sites (pulls and queue reads)", pulled.clone());
        // 1 ms to about 4.4 minutes.
        let integration = Histogram::new(exponential_buckets(0.001, 4.0, 10));
        registry.register(
            "integration_seconds",
            "How long integrating one site's push buffer took",
            integration.clone(),
        );
        let integrations_failed = Counter::default();
        registry.register("integrations_failed", "Integrations that failed", integrations_failed.clone());
        let sites_seen = Gauge::default();
        registry.register(
            "sites_seen",
            "Distinct sites that pulled or pushed since this central started",
            sites_seen.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            requests,
            pushed,
            pulled,
            integration,
            integrations_failed,
            sites_seen,
            seen: Default::default(),
            token_sha256: token.map(|t| Sha256::digest(t.as_bytes()).into()),
        }
    }

    pub fn pushed(&self, site_id: i64, records: usize) {
        self.pushed.inc_by(records as u64);
        self.saw(site_id);
    }

    pub fn pulled(&self, site_id: i64, records: usize) {
        self.pulled.inc_by(records as u64);
        self.saw(site_id);
    }

    pub fn integrated(&self, took: Duration, ok: bool) {
        self.integration.observe(took.as_secs_f64());
        if !ok {
            self.integrations_failed.inc();
        }
    }

    /// Bounded by the sites registered at the V5 central: only authenticated calls get here.
    fn saw(&self, site_id: i64) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.insert(site_id) {
            self.sites_seen.set(seen.len() as i64);
        }
    }

    /// Middleware: count every answer by its route template (never the raw path, whose
    /// variety a caller controls) and status class.
    pub async fn count(self, request: Request, next: Next) -> Response {
        let route = request.extensions().get::<MatchedPath>().map_or("unmatched".to_owned(), |p| p.as_str().to_owned());
        let response = next.run(request).await;
        let class = match response.status().as_u16() {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.requests.get_or_create(&vec![("route", route), ("status", class.to_owned())]).inc();
        response
    }

    /// Whether `request` may read the metrics (see the module doc), or why not.
    fn admit(&self, request: &Request) -> Result<(), Refused> {
        if let Some(expected) = &self.token_sha256 {
            let given = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            return match given {
                Some(given) if <[u8; 32]>::from(Sha256::digest(given.trim().as_bytes())) == *expected => Ok(()),
                _ => Err(Refused::WrongToken),
            };
        }
        if FORWARDED_HEADERS.iter().any(|name| request.headers().contains_key(*name)) {
            return Err(Refused::Forwarded);
        }
        match request.extensions().get::<ConnectInfo<SocketAddr>>() {
            Some(c) if c.0.ip().to_canonical().is_loopback() => Ok(()),
            _ => Err(Refused::NotThisMachine),
        }
    }

    /// `GET /metrics`: the OpenMetrics text, to a caller allowed to read it (see the module doc).
    pub async fn serve(self, request: Request) -> Response {
        if let Err(refused) = self.admit(&request) {
            return refused.into_response();
        }
        let mut text = String::new();
        if encode(&mut text, &self.registry).is_err() {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(peer: &str, header: Option<(&'static str, &str)>) -> Request {
        let mut request = Request::get("/metrics").body(axum::body::Body::empty()).unwrap();
        request.extensions_mut().insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        if let Some((name, value)) = header {
            request.headers_mut().insert(name, value.parse().unwrap());
        }
        request
    }

    #[test]
    fn without_a_token_a_loopback_caller_is_answered_unless_a_proxy_forwarded_it() {
        let metrics = Metrics::new(None);
        assert_eq!(metrics.admit(&from("127.0.0.1:5000", None)), Ok(()));
        assert_eq!(metrics.admit(&from("[::ffff:127.0.0.1]:5000", None)), Ok(()), "IPv4-mapped loopback");
        assert_eq!(metrics.admit(&from("192.0.2.1:5000", None)), Err(Refused::NotThisMachine));
        for name in FORWARDED_HEADERS {
            assert_eq!(
                metrics.admit(&from("127.0.0.1:5000", Some((name, "203.0.113.9")))),
                Err(Refused::Forwarded),
                "{name}"
            );
        }
    }

    #[test]
    fn with_a_token_only_the_token_counts() {
        let metrics = Metrics::new(Some("a-long-random-token"));
        let forwarded = Some(("x-forwarded-for", "203.0.113.9"));
        assert_eq!(metrics.admit(&from("127.0.0.1:5000", None)), Err(Refused::WrongToken));
        let mut scraper = from("192.0.2.1:5000", forwarded);
        scraper.headers_mut().insert(header::AUTHORIZATION, "Bearer a-long-random-token".parse().unwrap());
        assert_eq!(metrics.admit(&scraper), Ok(()), "a scraper behind a proxy with the token");
    }
}
