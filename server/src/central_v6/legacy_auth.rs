//! Who is calling the V6 central: the credentials in the body are checked by the V5 central's
//! `GET /sync/v5/site` (reference section 3.4, step 3), through the same V5 client the site
//! uses, always against *our* configured legacy URL, never the URL the caller names. The stores
//! active on the site are not asked here: `legacy_stores` keeps them, learnt as the reference's
//! central does, and they are read fresh on every call. Answers are cached briefly because a sync run
//! makes many calls; the cache key is a hash of the credentials, never the credentials.
//!
//! The cache is each process's own, also when several replicas serve one database, and that is
//! safe for a bounded time only, which is `TTL` (30 s): what it holds (which site id these
//! credentials are) changes only at the legacy central, in another database this central is
//! never told about, so no row of ours could announce the change; one replica is as stale as
//! two. A password changed at the legacy central is still accepted here for at most 30 s after
//! the last check with the old one, by each replica (the legacy central's own cache is keyed by
//! the stored hash, read from its database on every call, so it is never stale). Everything
//! else a call uses is read from the database each time (the stores, the integration claims).

use std::net::IpAddr;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::error::V6Error;
use crate::central_shared::credential_cache::{CredentialCache, Lifetime};
use crate::wire::client::{CallError, Failure, HttpClient, Problem, Timeouts};
use crate::wire::v5::code;
use crate::wire::v5_client::{OnBehalfOf, V5Client, V5Credentials};
use crate::wire::v6::SyncV5Settings;

const TTL: Duration = Duration::from_secs(30);

/// A site the legacy central vouched for.
#[derive(Debug, Clone)]
pub struct Caller {
    pub site_id: i64,
    /// The stores active on the site, read from `legacy_stores` on every call (never cached).
    pub store_ids: Vec<String>,
    /// The legacy central vouched for the credentials in this call (not from the cache): the
    /// site may be new, so the store mapping is brought up to date first.
    pub vouched_now: bool,
}

/// The most a credential check with the V5 central may take, all calls included.
const CHECK_LIMIT: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct LegacyAuth {
    legacy_url: String,
    http: HttpClient,
    cache: CredentialCache<Caller>,
}

impl LegacyAuth {
    pub fn new(legacy_url: &str) -> Self {
        // One attempt with a 5 s connect limit: the caller is waiting on this answer, and a V5
        // central that does not answer is reported to it (`cannotConnectToLegacyServer`).
        let timeouts = Timeouts { connect: vec![Duration::from_secs(5)], idle_read: Duration::from_secs(60) };
        LegacyAuth {
            legacy_url: legacy_url.trim_end_matches('/').to_owned(),
            http: HttpClient::new(&timeouts, None),
            cache: CredentialCache::new(Lifetime::Fixed(TTL)),
        }
    }

    fn key(s: &SyncV5Settings) -> [u8; 32] {
        let mut h = Sha256::new();
        for part in [&s.username, &s.password_sha256, &s.site_uuid, &s.sync_version.to_string()] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        h.finalize().into()
    }

    /// The V5 central's answer for `settings`, when it vouched for them within [`TTL`].
    pub fn cached(&self, settings: &SyncV5Settings) -> Option<Caller> {
        self.cache.get(&Self::key(settings)).map(|caller| Caller { vouched_now: false, ..caller })
    }

    /// Vouch for `settings`; `caller` is the address the request came from, passed on so the V5
    /// central counts failures against it (not against this central).
    pub async fn check(&self, settings: &SyncV5Settings, caller: Option<IpAddr>) -> Result<Caller, V6Error> {
        if let Some(caller) = self.cached(settings) {
            return Ok(caller);
        }
        let key = Self::key(settings);
        let creds = V5Credentials {
            url: self.legacy_url.clone(),
            site_name: settings.username.clone(),
            password_sha256: settings.password_sha256.clone(),
            hardware_id: settings.site_uuid.clone(),
            api_version: settings.sync_version,
        };
        let on_behalf = OnBehalfOf {
            app_name: settings.app_name.clone(),
            app_version: settings.app_version.clone(),
            address: caller,
        };
        let legacy = V5Client::on_behalf_of(creds, self.http.clone(), on_behalf);
        // The caller waits on this answer: a V5 central that trickles bytes must not hold it
        // (and one of this central's handlers) past one overall limit.
        let info = tokio::time::timeout(CHECK_LIMIT, legacy.site_info()).await.map_err(|_| {
            V6Error::LegacyUnreachable(format!("{}: no answer within {} s", self.legacy_url, CHECK_LIMIT.as_secs()))
        })?;
        let info = info.map_err(refusal)?;
        // The stores are filled in by the route, fresh, from `legacy_stores`.
        let caller = Caller { site_id: info.site_id, store_ids: Vec::new(), vouched_now: true };
        self.cache.insert(key, caller.clone());
        Ok(caller)
    }
}

/// What the V5 central's answer means for our caller.
fn refusal(e: CallError) -> V6Error {
    match e.problem {
        // A lock-out keeps its wait, so this central answers 429 with Retry-After too.
        Problem::V5 { error, retry_after, .. } if error.code == code::SITE_AUTH_TIMEOUT => {
            V6Error::TooManyAttempts(retry_after.unwrap_or(60))
        }
        Problem::V5 { error, .. } => V6Error::LegacyRefused(error),
        // 502 and 504 come from a load balancer in front of the legacy central that could not
        // reach it (a replica killed mid-request): the link's problem, as the site reads them
        // from its own centrals, so the site shows a connection error and retries, never
        // UNKNOWN (the replica fault harness found this).
        Problem::Transport(
            failure @ (Failure::Connect(_)
            | Failure::Timeout(_)
            | Failure::Certificate(_)
            | Failure::Status { status: 502 | 504, .. }),
        ) => V6Error::LegacyUnreachable(format!("{}: {failure}", e.url)),
        Problem::Transport(Failure::Status { status, body }) => V6Error::LegacyOther(format!("{status}: {body}")),
        Problem::Transport(Failure::Parse { error, .. }) => {
            V6Error::LegacyOther(format!("unexpected answer from {}: {error}", e.route))
        }
        other => V6Error::LegacyOther(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(failure: Failure) -> V6Error {
        refusal(CallError { url: "http://legacy".into(), route: "/sync/v5/site".into(), problem: failure.into() })
    }

    #[test]
    fn a_gateway_that_cannot_reach_the_legacy_central_is_unreachable_not_unexpected() {
        for status in [502, 504] {
            let e = failed(Failure::Status { status, body: "upstream gone".into() });
            assert!(matches!(e, V6Error::LegacyUnreachable(_)), "{status}: {e}");
        }
        let e = failed(Failure::Status { status: 500, body: "boom".into() });
        assert!(matches!(e, V6Error::LegacyOther(_)), "500: {e}");
    }
}
