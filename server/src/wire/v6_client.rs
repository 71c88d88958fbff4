//! The site's client of the V6 (Open mSupply) central: `pull`, `push` and `site_status`, each a
//! POST whose body carries the V5 credentials (reference §3.2). Every answer is HTTP 200 with
//! `{"data"}` or `{"error"}`; the status code is ignored, as in the reference, unless the body is
//! not an envelope at all (e.g. a 405 from a server that is not a central).

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::client::{ActivityHook, CallError, Failure, HttpClient, Problem, Timeouts};
use super::v5_client::V5Credentials;
use super::v6::{self, route};

#[derive(Debug, Clone)]
pub struct V6Client {
    url: String,
    settings: v6::SyncV5Settings,
    version: u32,
    http: HttpClient,
}

impl V6Client {
    /// `url` is the V6 central's base URL as the V5 site info gave it.
    pub fn new(
        url: &str,
        creds: &V5Credentials,
        version: u32,
        timeouts: &Timeouts,
        activity: Option<ActivityHook>,
    ) -> Self {
        let settings = v6::SyncV5Settings {
            server_url: creds.url.clone(),
            username: creds.site_name.clone(),
            password_sha256: creds.password_sha256.clone(),
            site_uuid: creds.hardware_id.clone(),
            app_version: env!("CARGO_PKG_VERSION").to_owned(),
            app_name: super::v5::APP_NAME.to_owned(),
            sync_version: creds.api_version,
        };
        V6Client {
            url: url.trim_end_matches('/').to_owned(),
            settings,
            version,
            http: HttpClient::new(timeouts, activity),
        }
    }

    async fn call<B: Serialize, T: DeserializeOwned>(&self, route: &str, body: &B) -> Result<T, CallError> {
        let path = format!("/central/sync/{route}");
        let err = |p: Problem| CallError::new(&self.url, &path, p);
        let reply = self
            .http
            .send(Method::POST, &format!("{}{path}", self.url), |r| r, Some(body))
            .await
            .map_err(|f| err(f.into()))?;
        match serde_json::from_slice::<v6::Envelope<T>>(&reply.body) {
            Ok(v6::Envelope::Data(data)) => Ok(data),
            Ok(v6::Envelope::Error(e)) => Err(err(Problem::V6(e))),
            Err(_) if !reply.status.is_success() => {
                Err(err(Failure::Status { status: reply.status.as_u16(), body: reply.text() }.into()))
            }
            Err(e) => Err(err(Failure::Parse { error: e.to_string(), body: reply.text() }.into())),
        }
    }

    pub async fn pull(&self, cursor: u64, batch_size: u32, is_initialised: bool) -> Result<v6::SyncBatch, CallError> {
        let body = v6::PullRequest {
            sync_v5_settings: self.settings.clone(),
            sync_v6_version: self.version,
            cursor,
            batch_size,
            is_initialised,
        };
        self.call(route::PULL, &body).await
    }

    pub async fn push(&self, batch: v6::SyncBatch) -> Result<v6::PushResult, CallError> {
        let body = v6::PushRequest { sync_v5_settings: self.settings.clone(), sync_v6_version: self.version, batch };
        self.call(route::PUSH, &body).await
    }

    pub async fn site_status(&self) -> Result<v6::SiteStatusResult, CallError> {
        let body = v6::SiteStatusRequest { sync_v5_settings: self.settings.clone(), sync_v6_version: self.version };
        self.call(route::SITE_STATUS, &body).await
    }
}
