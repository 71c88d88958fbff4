//! Who is calling the V6 central: the credentials in the body are checked by the V5 central's
//! `GET /sync/v5/site` (reference section 3.4, step 3), always against *our* configured legacy
//! URL, never the URL the caller names. The stores active on the site come from the V5
//! central's `site_stores` (an Outpost addition). Answers are cached briefly because a sync run
//! makes many calls; the cache key is a hash of the credentials, never the credentials.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::wire::v5::{self, ErrorEnvelope, SiteInfo, SiteStores};
use crate::wire::v6::{ErrorValue, SyncV5Settings};

const TTL: Duration = Duration::from_secs(30);

/// A site the legacy central vouched for.
#[derive(Debug, Clone)]
pub struct Caller {
    pub site_id: i64,
    pub store_ids: Vec<String>,
}

/// When the answer expires, and the answer.
type CacheEntry = (Instant, Caller);

#[derive(Clone)]
pub struct LegacyAuth {
    legacy_url: String,
    http: reqwest::Client,
    cache: Arc<Mutex<HashMap<[u8; 32], CacheEntry>>>,
}

impl LegacyAuth {
    pub fn new(legacy_url: &str) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        LegacyAuth { legacy_url: legacy_url.trim_end_matches('/').to_owned(), http, cache: Default::default() }
    }

    fn key(s: &SyncV5Settings) -> [u8; 32] {
        let mut h = Sha256::new();
        for part in [&s.username, &s.password_sha256, &s.site_uuid, &s.sync_version.to_string()] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        h.finalize().into()
    }

    /// Vouch for `settings`; `caller` is the address the request came from, passed on so the V5
    /// central counts failures against it (not against this central).
    pub async fn check(&self, settings: &SyncV5Settings, caller: Option<IpAddr>) -> Result<Caller, ErrorValue> {
        let key = Self::key(settings);
        {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            cache.retain(|_, (expires, _)| *expires > now);
            if let Some((_, caller)) = cache.get(&key) {
                return Ok(caller.clone());
            }
        }
        let info: SiteInfo = self.get(settings, v5::route::SITE, caller).await?;
        let stores: SiteStores = self.get(settings, v5::route::SITE_STORES, caller).await?;
        let caller = Caller { site_id: info.site_id, store_ids: stores.store_ids };
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(key, (Instant::now() + TTL, caller.clone()));
        Ok(caller)
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        s: &SyncV5Settings,
        route: &str,
        caller: Option<IpAddr>,
    ) -> Result<T, ErrorValue> {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", s.username, s.password_sha256));
        let mut request = self.http.get(format!("{}/sync/v5/{route}", self.legacy_url));
        if let Some(caller) = caller {
            request = request.header(v5::HEADER_FORWARDED_FOR, caller.to_string());
        }
        let response = request
            .header("authorization", format!("Basic {auth}"))
            .header(v5::HEADER_HARDWARE_ID, &s.site_uuid)
            .header(v5::HEADER_APP_NAME, &s.app_name)
            .header(v5::HEADER_APP_VERSION, &s.app_version)
            .header(v5::HEADER_VERSION, s.sync_version.to_string())
            .send()
            .await
            .map_err(|e| ErrorValue::CannotConnectToLegacyServer(format!("{}: {e}", self.legacy_url)))?;
        let status = response.status();
        let retry_after =
            response.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let text = response.text().await.map_err(|e| ErrorValue::OtherLegacyServerError(e.to_string()))?;
        if !status.is_success() {
            return Err(match serde_json::from_str::<ErrorEnvelope>(&text) {
                // A lock-out keeps its wait, so this central can answer 429 with Retry-After too.
                Ok(mut envelope) => {
                    if let Some(seconds) = retry_after {
                        envelope.error.data = Some(serde_json::json!({ "retryAfter": seconds }));
                    }
                    ErrorValue::LegacyServerError(envelope.error)
                }
                Err(_) => ErrorValue::OtherLegacyServerError(format!("{status}: {text}")),
            });
        }
        serde_json::from_str(&text)
            .map_err(|e| ErrorValue::OtherLegacyServerError(format!("unexpected answer from {route}: {e}")))
    }
}
