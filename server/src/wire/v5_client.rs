//! The site's client of the V5 (legacy) central: the seven `/sync/v5/...` endpoints with the
//! exact headers of reference §3.1, and the error envelope parsed into [`Problem::V5`]. The V6
//! central uses it too, on behalf of its callers, to have their credentials vouched for.

use std::net::IpAddr;

use reqwest::{Method, RequestBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::client::{ActivityHook, CallError, Failure, HttpClient, Problem, Reply, Timeouts, Transfer};
use super::v5::{self, route};

/// Who the site is, as the V5 central knows it.
#[derive(Debug, Clone)]
pub struct V5Credentials {
    pub url: String,
    pub site_name: String,
    pub password_sha256: String,
    /// This device's id; the central binds the site to the first one it sees.
    pub hardware_id: String,
    /// The `version` header; [`v5::API_VERSION`] except in tests that provoke a mismatch.
    pub api_version: u32,
}

/// Whom a relaying client speaks for. The V6 central checks each site's credentials with the V5
/// central: it sends the site's own app headers, and the site's address so the V5 central counts
/// failed logins against the site rather than against the V6 central.
#[derive(Debug, Clone)]
pub struct OnBehalfOf {
    pub app_name: String,
    pub app_version: String,
    pub address: Option<IpAddr>,
}

#[derive(Debug, Clone)]
pub struct V5Client {
    creds: V5Credentials,
    http: HttpClient,
    relayed: Option<OnBehalfOf>,
}

impl V5Client {
    pub fn new(creds: V5Credentials, timeouts: &Timeouts, activity: Option<ActivityHook>) -> Self {
        V5Client { creds, http: HttpClient::new(timeouts, activity), relayed: None }
    }

    /// A client that relays `caller`'s credentials over an existing `http` (whose connections
    /// it reuses).
    pub fn on_behalf_of(creds: V5Credentials, http: HttpClient, caller: OnBehalfOf) -> Self {
        V5Client { creds, http, relayed: Some(caller) }
    }

    pub fn credentials(&self) -> &V5Credentials {
        &self.creds
    }

    fn decorate(&self, request: RequestBuilder) -> RequestBuilder {
        let (app_name, app_version) = match &self.relayed {
            Some(caller) => (caller.app_name.as_str(), caller.app_version.as_str()),
            None => (v5::APP_NAME, env!("CARGO_PKG_VERSION")),
        };
        let request = match self.relayed.as_ref().and_then(|caller| caller.address) {
            Some(address) => request.header(v5::HEADER_FORWARDED_FOR, address.to_string()),
            None => request,
        };
        request
            .basic_auth(&self.creds.site_name, Some(&self.creds.password_sha256))
            .header(v5::HEADER_HARDWARE_ID, &self.creds.hardware_id)
            .header(v5::HEADER_APP_VERSION, app_version)
            .header(v5::HEADER_APP_NAME, app_name)
            .header(v5::HEADER_VERSION, self.creds.api_version.to_string())
    }

    fn url(&self, route: &str) -> String {
        format!("{}/sync/v5/{route}", self.creds.url.trim_end_matches('/'))
    }

    async fn call<B: Serialize>(
        &self,
        method: Method,
        route: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<Reply, CallError> {
        let mut url = self.url(route);
        // Query values here are numbers only, so no percent-encoding is needed.
        for (i, (key, value)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&format!("{key}={value}"));
        }
        let reply = self
            .http
            .send(method, &url, |r| self.decorate(r), body)
            .await
            .map_err(|f| CallError::new(&self.creds.url, &format!("/sync/v5/{route}"), f))?;
        if reply.status.is_success() {
            return Ok(reply);
        }
        let problem = match serde_json::from_slice::<v5::ErrorEnvelope>(&reply.body) {
            Ok(envelope) => {
                Problem::V5 { status: reply.status.as_u16(), error: envelope.error, retry_after: reply.retry_after }
            }
            Err(_) => Problem::Transport(Failure::Status { status: reply.status.as_u16(), body: reply.text() }),
        };
        Err(CallError::new(&self.creds.url, &format!("/sync/v5/{route}"), problem))
    }

    async fn get_json<T: DeserializeOwned>(&self, route: &str, query: &[(&str, String)]) -> Result<T, CallError> {
        self.get_json_sized(route, query).await.map(|(value, _)| value)
    }

    /// [`Self::get_json`], and what its transfer says about the link.
    async fn get_json_sized<T: DeserializeOwned>(
        &self,
        route: &str,
        query: &[(&str, String)],
    ) -> Result<(T, Transfer), CallError> {
        let reply = self.call::<()>(Method::GET, route, query, None).await?;
        let value = reply.json().map_err(|f| CallError::new(&self.creds.url, &format!("/sync/v5/{route}"), f))?;
        Ok((
            value,
            Transfer { bytes: reply.body.len(), receiving: reply.receiving, round_trip: self.http.round_trip() },
        ))
    }

    async fn post_json<B: Serialize, T: DeserializeOwned>(&self, route: &str, body: &B) -> Result<T, CallError> {
        let reply = self.call::<B>(Method::POST, route, &[], Some(body)).await?;
        reply.json().map_err(|f| CallError::new(&self.creds.url, &format!("/sync/v5/{route}"), f))
    }

    /// `GET /sync/v5/site`: who we are, and where the V6 central lives.
    pub async fn site_info(&self) -> Result<v5::SiteInfo, CallError> {
        self.get_json(route::SITE, &[]).await
    }

    pub async fn site_status(&self) -> Result<v5::SiteStatus, CallError> {
        self.get_json(route::SITE_STATUS, &[]).await
    }

    /// `POST /sync/v5/initialise`: fill this site's queue with everything it should hold.
    pub async fn initialise(&self) -> Result<v5::InitialiseResponse, CallError> {
        self.post_json(route::INITIALISE, &serde_json::json!({})).await
    }

    pub async fn central_records(&self, cursor: u64, limit: u32) -> Result<v5::CentralRecords, CallError> {
        self.get_json(route::CENTRAL_RECORDS, &[("cursor", cursor.to_string()), ("limit", limit.to_string())]).await
    }

    pub async fn queued_records(&self, limit: u32) -> Result<v5::QueuedRecords, CallError> {
        self.get_json(route::QUEUED_RECORDS, &[("limit", limit.to_string())]).await
    }

    /// [`Self::central_records`] and the answer's [`Transfer`], which sizes the next page
    /// (`site::sync::steps::batch`).
    pub async fn central_records_sized(
        &self,
        cursor: u64,
        limit: u32,
    ) -> Result<(v5::CentralRecords, Transfer), CallError> {
        self.get_json_sized(route::CENTRAL_RECORDS, &[("cursor", cursor.to_string()), ("limit", limit.to_string())])
            .await
    }

    /// [`Self::queued_records`] and the answer's [`Transfer`] (see [`Self::central_records_sized`]).
    pub async fn queued_records_sized(&self, limit: u32) -> Result<(v5::QueuedRecords, Transfer), CallError> {
        self.get_json_sized(route::QUEUED_RECORDS, &[("limit", limit.to_string())]).await
    }

    /// This client with another cap on an answer's size than `client::MAX_RESPONSE_BYTES`
    /// (the site's `EngineConfig::max_response_bytes`; tests make it small).
    pub fn with_max_response_bytes(mut self, bytes: usize) -> Self {
        self.http = self.http.with_max_response_bytes(bytes);
        self
    }

    /// Whether `e` is an answer over the size cap, which a smaller page may avoid.
    pub fn is_too_large(e: &CallError) -> bool {
        matches!(e.problem, Problem::Transport(Failure::TooLarge(_)))
    }

    /// Acknowledge a stored batch; the body of the reply is ignored, as in the reference.
    pub async fn acknowledge(&self, sync_ids: Vec<String>) -> Result<(), CallError> {
        self.call(Method::POST, route::ACKNOWLEDGED_RECORDS, &[], Some(&v5::Acknowledge { sync_ids })).await.map(|_| ())
    }

    pub async fn push(&self, request: &v5::PushRequest) -> Result<v5::PushResponse, CallError> {
        self.post_json(route::QUEUED_RECORDS, request).await
    }
}
