//! Who is calling: the `version` header range check, HTTP Basic `name:sha256hex(password)`
//! checked against an Argon2id hash, and the hardware-id binding (reference section 3.1).
//!
//! Argon2 is deliberately slow and a sync run makes many requests, so a verified
//! (site, password, stored hash) triple is remembered ([`VERIFIED_IDLE`]). The cache key is a
//! SHA-256 of that triple, so no password material sits in memory in usable form, and a changed
//! stored hash (new password) misses the cache at once: the stored hash is read from the
//! database on every call, so an entry is never stale, on any replica. That is why it may live
//! longer than a site's sync interval and be renewed by each use: a fleet whose sites sync every
//! few minutes then pays one Argon2 verification per site and replica after a restart, not one
//! per sync (issue 15's bench: the verifications, not the sync, were the bound).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::V5State;
use super::error::V5Error;
use super::sites::{self, SiteRow};
use crate::central_shared::credential_cache::{CredentialCache, Lifetime};
use crate::ratelimit::{MAX_NAME_BYTES, TrustedProxies};
use crate::wire::v5::{HEADER_FORWARDED_FOR, HEADER_HARDWARE_ID, HEADER_VERSION, SUPPORTED_VERSIONS};

/// How long a verified password is remembered unused: three default sync intervals (300 s), so
/// a site that misses two syncs still finds it. An entry exists only after a right password,
/// one per site (and per password while one changes), so the map is bounded by the fleet.
pub const VERIFIED_IDLE: Duration = Duration::from_secs(15 * 60);

/// Hash the SHA-256 hex a site sends as its password, for storage.
pub fn hash_password_sha256(password_sha256: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password_sha256.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))
}

#[derive(Clone)]
pub struct AuthCache {
    verified: CredentialCache<()>,
    /// Argon2 verifications run so far, real or dummy: lets a test prove that an unknown name
    /// costs one too, without timing anything.
    argon2_runs: Arc<AtomicU64>,
}

impl Default for AuthCache {
    fn default() -> Self {
        AuthCache { verified: CredentialCache::new(Lifetime::Idle(VERIFIED_IDLE)), argon2_runs: Default::default() }
    }
}

impl AuthCache {
    fn key(name: &str, password_sha256: &str, stored_hash: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        for part in [name, password_sha256, stored_hash] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        h.finalize().into()
    }

    fn hit(&self, key: &[u8; 32]) -> bool {
        self.verified.get(key).is_some()
    }

    /// Whether `password_sha256` was verified for `site` against its stored hash, and used
    /// since within [`VERIFIED_IDLE`] (no Argon2).
    pub fn cached(&self, site: &SiteRow, password_sha256: &str) -> bool {
        self.hit(&Self::key(&site.name, password_sha256, &site.password_hash))
    }

    /// Check `password_sha256` against the site's stored Argon2id hash.
    pub async fn verify(&self, site: &SiteRow, password_sha256: &str) -> Result<bool, V5Error> {
        let key = Self::key(&site.name, password_sha256, &site.password_hash);
        if self.hit(&key) {
            return Ok(true);
        }
        let ok = self.argon2_verify(site.password_hash.clone(), password_sha256.to_owned()).await?;
        if ok {
            self.verified.insert(key, ());
        }
        Ok(ok)
    }

    /// Spend one Argon2 verification on a site name that does not exist (against a dummy
    /// hash; the outcome is irrelevant), so that answer costs what a wrong password costs and
    /// its timing does not tell which names exist.
    pub async fn verify_for_unknown_name(&self, password_sha256: &str) -> Result<(), V5Error> {
        let stored = crate::ratelimit::run_argon2(|| DUMMY_HASH.clone()).await?;
        self.argon2_verify(stored, password_sha256.to_owned()).await?;
        Ok(())
    }

    /// How many Argon2 verifications this cache has run (cache hits run none).
    pub fn argon2_runs(&self) -> u64 {
        self.argon2_runs.load(Ordering::Relaxed)
    }

    /// Check `given` against the Argon2id hash `stored`, through the process's few Argon2 slots
    /// (see [`crate::ratelimit::run_argon2`]).
    async fn argon2_verify(&self, stored: String, given: String) -> Result<bool, V5Error> {
        self.argon2_runs.fetch_add(1, Ordering::Relaxed);
        let ok = crate::ratelimit::run_argon2(move || {
            PasswordHash::new(&stored)
                .map(|parsed| Argon2::default().verify_password(given.as_bytes(), &parsed).is_ok())
        })
        .await?
        .map_err(|e| anyhow::anyhow!("stored password hash is invalid: {e}"))?;
        Ok(ok)
    }
}

/// The hash [`AuthCache::verify_for_unknown_name`] verifies against: made once, with the same
/// Argon2 parameters as real ones, so it costs the same.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password_sha256("no site has this password").unwrap_or_default());

/// Count a credential-less attempt against `keys` as a failure (see [`crate::ratelimit`]).
async fn count_failure(state: &V5State, keys: &[String]) -> Result<(), V5Error> {
    state.failures.count_failure(keys).await.map_err(V5Error::from)
}

/// Refuse `version` header values outside the supported range (409).
pub fn check_version(headers: &HeaderMap) -> Result<(), V5Error> {
    let raw = headers.get(HEADER_VERSION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    match raw.as_deref().and_then(|v| v.trim().parse::<u32>().ok()) {
        Some(v) if (SUPPORTED_VERSIONS.0..=SUPPORTED_VERSIONS.1).contains(&v) => Ok(()),
        _ => Err(V5Error::VersionIncompatible(raw)),
    }
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (name, password) = text.split_once(':')?;
    Some((name.to_owned(), password.to_owned()))
}

/// The address failures are counted against: the peer, or, when the peer is a trusted proxy
/// (`--trusted-proxy`: the V6 central vouching for its callers through us, or a reverse proxy),
/// the caller it names in [`HEADER_FORWARDED_FOR`] (or `X-Forwarded-For`). Without that trust, every failure through the V6 central counts
/// against the V6 central's own address, and ten bad passwords sent to it lock every site out
/// of it; with it given to anyone, a caller could spread its failures over made-up addresses.
///
/// Addresses are compared in canonical form: on a dual-stack listener a caller on this machine
/// comes from `::ffff:127.0.0.1`, and one IPv4 client must not count as two keys.
fn source_address(parts: &Parts, trusted: &TrustedProxies) -> String {
    let Some(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()) else {
        return "addr:unknown".to_owned();
    };
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let ours = header(HEADER_FORWARDED_FOR);
    if ours.is_some() && !trusted.trusts(peer) {
        warn_untrusted_forwarder(peer);
    }
    // A reverse proxy in front of this central names the caller in the usual header instead,
    // appending to it, while it passes ours through as the caller wrote it. So both are read as
    // one chain, ours first (the hop furthest away: the V6 central's caller), then the proxies'
    // hops: the last entry not a trusted proxy is the caller, and an address made up in our
    // header counts only when every hop after it is trusted.
    let forwarded = match (ours, header("x-forwarded-for")) {
        (Some(ours), Some(proxies)) => Some(format!("{ours}, {proxies}")),
        (ours, proxies) => ours.or(proxies).map(str::to_owned),
    };
    crate::ratelimit::address_key(trusted.caller(peer, forwarded.as_deref()))
}

/// Say once per process that a forwarded address was ignored: the likely cause is a V6 central
/// that was not given to `--trusted-proxy`, which makes its callers share one failure count.
fn warn_untrusted_forwarder(peer: IpAddr) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            %peer,
            "ignored a forwarded caller address from a peer that is not a trusted proxy; if this peer is \
             the V6 central, start the legacy central with --trusted-proxy {peer} so its callers' failed \
             logins are counted per caller rather than against the V6 central"
        );
    }
}

/// An authenticated site; extracting it performs every check of section 3.1 in order:
/// version, the failure limit, site name, password, hardware id. Unknown names and wrong
/// passwords count as failures for the name and for the source address; the attempt is
/// counted before the password is verified and refunded when it was right
/// ([`crate::ratelimit::FailureLimiter::counted`]).
///
/// The rightful site cannot be locked out by others guessing its name: a request that carries
/// the hardware id the site is bound to is counted under a name key of its own, which guesses
/// without that id never fill. Guessing with the right id is still limited (under that key and
/// the address), and a right password with a wrong id is limited like any guess.
pub struct AuthSite(pub SiteRow);

impl FromRequestParts<V5State> for AuthSite {
    type Rejection = V5Error;

    async fn from_request_parts(parts: &mut Parts, state: &V5State) -> Result<Self, Self::Rejection> {
        check_version(&parts.headers)?;
        let address = source_address(parts, &state.trusted_proxies);
        let Some((name, password_sha256)) = basic_credentials(&parts.headers) else {
            count_failure(state, &[address]).await?;
            return Err(V5Error::SiteNameNotFound);
        };
        // No site has such a name; refused before it is counted or stored as a key.
        if name.len() > MAX_NAME_BYTES {
            return Err(V5Error::SiteNameNotFound);
        }
        let password_sha256 = password_sha256.to_ascii_lowercase();
        let hardware_id = parts.headers.get(HEADER_HARDWARE_ID).and_then(|v| v.to_str().ok()).filter(|s| !s.is_empty());
        // The connection is held for this lookup only, never across the verification: a burst
        // of guesses must not starve every site's sync of connections.
        let site = {
            let mut conn = state.db.pool.acquire().await?;
            sites::by_name(&mut conn, &name).await?
        };
        let rightful_hardware =
            site.as_ref().and_then(|s| s.hardware_id.as_deref()).is_some_and(|bound| Some(bound) == hardware_id);
        let name_key = if rightful_hardware { format!("site-bound:{name}") } else { format!("site:{name}") };
        let keys = [name_key, address];
        let too_many = |wait| V5Error::TooManyAttempts(crate::ratelimit::retry_after_seconds(wait));
        // A password verified recently (see `VERIFIED_IDLE`), sent with the bound hardware id,
        // is no guess (whoever else guesses) and costs no Argon2. Without that id it is limited
        // like any other attempt.
        let cached = rightful_hardware && site.as_ref().is_some_and(|site| state.auth.cached(site, &password_sha256));
        if !cached {
            state.failures.refuse_early(&keys).await.map_err(too_many)?;
        }
        let Some(site) = site else {
            let spent = state
                .failures
                .counted(&keys, async { (state.auth.verify_for_unknown_name(&password_sha256).await, true) })
                .await
                .map_err(V5Error::from)?;
            spent?;
            return Err(V5Error::SiteNameNotFound);
        };
        let verified = if cached {
            true
        } else {
            state
                .failures
                .counted(&keys, async {
                    let verified = state.auth.verify(&site, &password_sha256).await;
                    let failed = matches!(verified, Ok(false));
                    (verified, failed)
                })
                .await
                .map_err(V5Error::from)??
        };
        if !verified {
            tracing::info!(site_id = site.site_id, "site authentication failed");
            return Err(V5Error::IncorrectPassword);
        }
        let bound = match (&site.hardware_id, hardware_id) {
            (Some(bound), _) => Some(bound.clone()),
            (None, Some(given)) => {
                let mut conn = state.db.pool.acquire().await?;
                sites::bind_hardware_id(&mut conn, site.site_id, given).await?
            }
            (None, None) => None,
        };
        if let Some(bound) = &bound
            && Some(bound.as_str()) != hardware_id
        {
            return Err(V5Error::IncorrectHardwareId);
        }
        tracing::debug!(site_id = site.site_id, "site authenticated");
        Ok(AuthSite(SiteRow { hardware_id: bound, ..site }))
    }
}
