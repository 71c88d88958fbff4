//! Counting authentication failures, so guessing passwords is slow: at most `max` failures per
//! `window` for each key (a site name, a source address), after which every attempt with that
//! key is refused until the oldest failure leaves the window. Shared by both centrals and the
//! site's admin login; it knows nothing of any of them.
//!
//! An attempt is counted *before* the password is verified ([`FailureLimiter::reserve`] checks
//! and records in one locked step) and refunded only when it succeeds. Checking first and
//! recording after the verification let a burst of parallel guesses all pass the check before
//! any of them was recorded: 40 parallel wrong passwords were 40 real guesses. Dropping an
//! [`Attempt`] without refunding it keeps it counted, so a caller that hangs up mid-check
//! cannot take its guess back.
//!
//! [`FailureLimiter::counted`] reserves only once the check has one of the limiter's few
//! slots, so at most [`CHECKS_AT_ONCE`] attempts are ever undecided: fifty sites behind one
//! address signing in at once are not taken for fifty guesses, while a burst of guesses still
//! gets no more verifications than the limit allows.
//!
//! Keys are stored as SHA-256 digests (an attacker-chosen site name costs 32 bytes, whatever
//! its length) and expired ones are swept at least once a minute, so the map holds at most the
//! keys that failed within the window; every key also comes with the caller's address, which
//! is itself limited, so a spray needs many addresses (IPv6 callers are keyed per /64).
//!
//! Files: this one counts (in memory, or through `shared.rs` in PostgreSQL); `callers.rs` says
//! which address a key names and which proxies may name another.
//!
//! Argon2 verifications run through [`run_argon2`]: at most [`ARGON2_SLOTS`] at a time in the
//! process, off the async workers, however many callers are waiting.
//!
//! # In memory, or in PostgreSQL for replicas
//!
//! The site's limiter and a SQLite central's are in memory: a restart forgets them, which only
//! gives an attacker one more window, and keeps a database write off every failed attempt.
//!
//! A central on PostgreSQL may run as several replicas behind a load balancer, and counts kept
//! per replica let each replica admit its own `max` guesses (30 parallel wrong passwords over
//! two replicas were 27 real ones). There ([`FailureLimiter::for_database`]) the counts are
//! rows of `auth_failure`: one per key, with the times of its failures still in the window
//! (the database's clock, shared by the replicas). An attempt is admitted by one conditional
//! upsert per key (it appends the attempt only while fewer than `max` failures are in the
//! window, and prunes the older ones), all keys in one transaction, keys in a fixed order (no
//! deadlock between two attempts): only an attempt that statement admitted goes on to a
//! password verification, whichever replica it reached. The cost is one small transaction per
//! counted attempt (successful sign-ins are cached by the centrals and do not come here). When
//! the table cannot be reached the attempt is refused, not verified uncounted, as
//! [`Refusal::Unavailable`]: the centrals answer it 503 with a hint, not "too many attempts",
//! which would send whoever reads the Sync page looking for a guesser. Keys nobody failed with
//! for a window are deleted at most once a minute per limiter.
//!
//! What a flood of refused or credential-less requests costs the database is bounded too
//! (review finding 7): every key the table refused is remembered in the replica's memory until
//! its wait ends (a negative cache), and [`FailureLimiter::refuse_early`], which the V6 central
//! asks before every request, answers from that memory only, never with a query; the counting
//! calls refuse a remembered key without a query as well. Only a key not known to be locked
//! costs a statement, and the limiter's statements run at most [`QUERIES_AT_ONCE`] at a time
//! per replica, so they never take more than that many of the pool's connections. The count
//! itself stays in the database, so replicas together still admit `max` guesses per key: a key
//! locked by another replica's failures is learnt here at its first refused reservation.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::db::{Backend, CentralDb};

mod callers;
pub use callers::{TrustedProxies, address_key};

/// The default policy of the issue: 10 failures per 10 minutes.
pub const MAX_FAILURES: usize = 10;
pub const WINDOW: Duration = Duration::from_secs(600);
/// Expired keys are swept when the last sweep is older than this (or than the window)...
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// ...or when the map holds more keys than this (bounded memory under a spray).
const SWEEP_ABOVE: usize = 10_000;
/// Longest site name worth counting; callers refuse longer ones before asking the limiter.
pub const MAX_NAME_BYTES: usize = 256;
/// Argon2 verifications allowed to run at once in this process (each takes ~19 MiB and tens of
/// milliseconds of one core).
pub const ARGON2_SLOTS: usize = 2;
/// Credential checks each limiter runs at once (see [`FailureLimiter::counted`]).
pub const CHECKS_AT_ONCE: usize = 2;
/// Statements on the shared table each limiter runs at once (see the module doc).
pub const QUERIES_AT_ONCE: usize = 3;
/// How long a statement waits for one of the [`QUERIES_AT_ONCE`] slots before the attempt is
/// refused as [`Refusal::Unavailable`].
const QUERY_SLOT_WAIT: Duration = Duration::from_secs(5);
/// Locked keys remembered per limiter past which the expired ones are swept on insert.
const LOCKED_SWEEP_ABOVE: usize = 10_000;

/// Why an attempt was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A key has used up its failures: try again after this long.
    TooMany(Duration),
    /// The shared table could not be reached (or was too busy to answer in time); nothing was
    /// verified. The centrals answer 503.
    Unavailable,
}

impl From<Duration> for Refusal {
    fn from(wait: Duration) -> Refusal {
        Refusal::TooMany(wait)
    }
}

type Key = [u8; 32];

struct Failures {
    times: HashMap<Key, VecDeque<Instant>>,
    last_sweep: Instant,
}

#[derive(Clone)]
pub struct FailureLimiter {
    max: usize,
    window: Duration,
    failures: Arc<Mutex<Failures>>,
    slots: Arc<Semaphore>,
    /// A PostgreSQL central's database: the counts are shared by its replicas (module doc).
    shared: Option<Shared>,
}

/// A limiter's view of the shared table: the database, the keys it refused (locked until the
/// time given), its statement slots, and when this limiter last swept the table.
#[derive(Clone)]
struct Shared {
    db: CentralDb,
    locked: Arc<Mutex<HashMap<Key, Instant>>>,
    queries: Arc<Semaphore>,
    last_sweep: Arc<Mutex<Option<Instant>>>,
}

impl Shared {
    fn new(db: &CentralDb) -> Shared {
        Shared {
            db: db.clone(),
            locked: Default::default(),
            queries: Arc::new(Semaphore::new(QUERIES_AT_ONCE)),
            last_sweep: Default::default(),
        }
    }

    /// How long until every one of `keys` this replica knows to be locked is free again.
    fn remembered(&self, keys: &[String]) -> Option<Duration> {
        let now = Instant::now();
        let locked = self.locked.lock().unwrap_or_else(|e| e.into_inner());
        keys.iter()
            .filter_map(|k| locked.get(&digest(k)))
            .filter(|until| **until > now)
            .map(|until| *until - now)
            .max()
            .map(|wait| wait.max(Duration::from_secs(1)))
    }

    /// Remember that the table refused `key` for `wait`.
    fn remember(&self, key: &str, wait: Duration) {
        let now = Instant::now();
        let mut locked = self.locked.lock().unwrap_or_else(|e| e.into_inner());
        if locked.len() > LOCKED_SWEEP_ABOVE {
            locked.retain(|_, until| *until > now);
        }
        let until = now + wait;
        let slot = locked.entry(digest(key)).or_insert(until);
        *slot = (*slot).max(until);
    }

    /// One of the limiter's statement slots, or `None` when none frees up in time.
    async fn slot(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        tokio::time::timeout(QUERY_SLOT_WAIT, self.queries.acquire()).await.ok()?.ok()
    }

    /// Reserve one attempt against `keys` (plain keys; see [`FailureLimiter::hex_keys`]) in the
    /// table, remembering a key it refuses.
    async fn reserve(
        &self,
        keys: &[String],
        hex: &[String],
        max: usize,
        window: Duration,
    ) -> Result<SharedAttempt, Refusal> {
        if let Some(wait) = self.remembered(keys) {
            return Err(Refusal::TooMany(wait));
        }
        let Some(_slot) = self.slot().await else { return Err(unavailable("no statement slot freed up in time")) };
        sweep(self, window).await;
        match shared::reserve(&self.db, hex, max, window).await {
            Ok(Ok(attempt)) => Ok(attempt),
            Ok(Err((refused, wait))) => {
                if let Some(key) = keys.iter().find(|k| hex_digest(k) == refused) {
                    self.remember(key, wait);
                }
                Err(Refusal::TooMany(wait))
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}

/// Delete keys with no failure in the window from the shared table, at most once a minute per
/// limiter (each limiter its own timer: one shared by every limiter in the process let one
/// central's sweeps starve another's table).
async fn sweep(shared: &Shared, window: Duration) {
    {
        let mut last = shared.last_sweep.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|l| l.elapsed() < SWEEP_EVERY.min(window)) {
            return;
        }
        *last = Some(Instant::now());
    }
    if let Err(e) = shared::sweep(&shared.db, window).await {
        tracing::warn!(error = %e, "could not sweep the failure limiter's table");
    }
}

impl Default for FailureLimiter {
    fn default() -> Self {
        FailureLimiter::new(MAX_FAILURES, WINDOW)
    }
}

/// One attempt, already counted as a failure against its keys. [`Attempt::refund`] it when the
/// credentials were right (or the check could not be made); drop it to keep it counted.
#[must_use = "dropping an attempt counts it as a failure; refund it on success"]
pub struct Attempt {
    limiter: FailureLimiter,
    keys: Vec<Key>,
    at: Instant,
}

/// An attempt counted in the shared table, at the database time `at` (microseconds).
struct SharedAttempt {
    keys: Vec<String>,
    at: i64,
}

impl Attempt {
    /// Take the attempt back: the credentials were right, or nothing was verified.
    pub fn refund(self) {
        let mut failures = self.limiter.lock();
        for key in &self.keys {
            if let Some(times) = failures.times.get_mut(key)
                && let Some(i) = times.iter().rposition(|t| *t == self.at)
            {
                times.remove(i);
            }
        }
    }

    /// Keep the attempt counted (what dropping does; this says so where it happens).
    pub fn failed(self) {}
}

fn digest(key: &str) -> Key {
    Sha256::digest(key.as_bytes()).into()
}

/// A key as the shared table holds it: its SHA-256 in hex.
fn hex_digest(key: &str) -> String {
    digest(key).iter().map(|b| format!("{b:02x}")).collect()
}

impl FailureLimiter {
    pub fn new(max: usize, window: Duration) -> Self {
        let failures = Failures { times: HashMap::new(), last_sweep: Instant::now() };
        FailureLimiter {
            max: max.max(1),
            window,
            failures: Arc::new(Mutex::new(failures)),
            slots: Arc::new(Semaphore::new(CHECKS_AT_ONCE)),
            shared: None,
        }
    }

    /// The default policy for a central on `db`: in memory on SQLite (one process), in the
    /// shared table `auth_failure` on PostgreSQL (see the module doc).
    pub fn for_database(db: &CentralDb) -> Self {
        let mut limiter = FailureLimiter::default();
        if db.backend == Backend::Postgres {
            limiter.shared = Some(Shared::new(db));
        }
        limiter
    }

    /// `Err(retry_after)` when any key is known to be locked; counts nothing, and never asks
    /// the database (it runs before every V6 request): in memory, [`FailureLimiter::check`];
    /// with the shared table, the keys it refused lately (see the module doc). A key locked by
    /// other replicas only is refused by the counting call that follows.
    pub async fn refuse_early(&self, keys: &[String]) -> Result<(), Duration> {
        match &self.shared {
            None => self.check(keys),
            Some(shared) => shared.remembered(keys).map_or(Ok(()), Err),
        }
    }

    /// Count one failure against `keys` without a check (a request without credentials), or
    /// refuse when a key is used up (or the shared table cannot be reached).
    pub async fn count_failure(&self, keys: &[String]) -> Result<(), Refusal> {
        let Some(shared) = &self.shared else { return self.reserve(keys).map(Attempt::failed).map_err(Refusal::from) };
        shared.reserve(keys, &self.hex_keys(keys), self.max, self.window).await.map(drop)
    }

    /// Keys as the shared table holds them: the SHA-256 in hex, sorted (the order the
    /// transaction locks them in), without repeats.
    fn hex_keys(&self, keys: &[String]) -> Vec<String> {
        let mut hex: Vec<String> = keys.iter().map(|k| hex_digest(k)).collect();
        hex.sort();
        hex.dedup();
        hex
    }

    /// `Err(retry_after)` when any key has used up its failures; counts nothing. For refusing
    /// early, before a caller queues for a check.
    pub fn check(&self, keys: &[String]) -> Result<(), Duration> {
        let now = Instant::now();
        let mut failures = self.lock();
        let mut wait = Duration::ZERO;
        for key in keys {
            if let Some(times) = failures.times.get_mut(&digest(key)) {
                prune(times, now, self.window);
                if times.len() >= self.max
                    && let Some(oldest) = times.front()
                {
                    wait = wait.max(self.window.saturating_sub(now.duration_since(*oldest)));
                }
            }
        }
        if wait.is_zero() { Ok(()) } else { Err(wait.max(Duration::from_secs(1))) }
    }

    /// Run a credential check as one counted attempt: wait for one of the limiter's slots, then
    /// check the keys and count the attempt in one step, then run `check`, which answers its
    /// value and whether it was a failed guess (kept) or not (refunded: right credentials, or
    /// nothing verified). Refused, without running `check`, when a key is used up (or the
    /// shared table cannot be reached).
    pub async fn counted<T>(&self, keys: &[String], check: impl Future<Output = (T, bool)>) -> Result<T, Refusal> {
        let _slot = self.slots.acquire().await.map_err(|_| Refusal::TooMany(Duration::from_secs(1)))?;
        if let Some(shared) = &self.shared {
            let attempt = shared.reserve(keys, &self.hex_keys(keys), self.max, self.window).await?;
            let (value, failed) = check.await;
            if !failed {
                let refunded = match shared.slot().await {
                    Some(_slot) => shared::refund(&shared.db, &attempt).await,
                    None => Err(sqlx::Error::PoolTimedOut),
                };
                if let Err(e) = refunded {
                    // Kept counted: a right password cannot be taken for a guess more than `max`
                    // times in a window, and the site's next attempt is cached anyway.
                    tracing::warn!(error = %e, "could not take back a counted sign-in attempt");
                }
            }
            return Ok(value);
        }
        let attempt = self.reserve(keys)?;
        let (value, failed) = check.await;
        if failed {
            attempt.failed()
        } else {
            attempt.refund()
        }
        Ok(value)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Failures> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Count one attempt against every key, in the same locked step as the check, or
    /// `Err(retry_after)` (nothing counted) when any key has used up its failures.
    pub fn reserve(&self, keys: &[String]) -> Result<Attempt, Duration> {
        let now = Instant::now();
        let window = self.window;
        let keys: Vec<Key> = keys.iter().map(|k| digest(k)).collect();
        let mut failures = self.lock();
        if now.duration_since(failures.last_sweep) >= SWEEP_EVERY.min(window) || failures.times.len() > SWEEP_ABOVE {
            failures.times.retain(|_, times| {
                prune(times, now, window);
                !times.is_empty()
            });
            failures.last_sweep = now;
        }
        let mut wait = Duration::ZERO;
        for key in &keys {
            if let Some(times) = failures.times.get_mut(key) {
                prune(times, now, window);
                if times.len() >= self.max
                    && let Some(oldest) = times.front()
                {
                    wait = wait.max(window.saturating_sub(now.duration_since(*oldest)));
                }
            }
        }
        if !wait.is_zero() {
            return Err(wait.max(Duration::from_secs(1)));
        }
        for key in &keys {
            // Below `max` by the check above, so the deque never grows past it.
            failures.times.entry(*key).or_default().push_back(now);
        }
        drop(failures);
        Ok(Attempt { limiter: self.clone(), keys, at: now })
    }

    /// How many keys are held (for tests of the sweep).
    pub fn keys_held(&self) -> usize {
        self.lock().times.len()
    }
}

/// A shared table that cannot be reached refuses the attempt (fail closed).
fn unavailable(e: impl std::fmt::Display) -> Refusal {
    tracing::error!(error = %e, "the failure limiter's table cannot be reached; sign-in attempt refused");
    Refusal::Unavailable
}

mod shared;

fn prune(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times.front().is_some_and(|t| now.duration_since(*t) >= window) {
        times.pop_front();
    }
}

static ARGON2: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(ARGON2_SLOTS)));

/// Run an Argon2 verification (`verify`) on the blocking pool, at most [`ARGON2_SLOTS`] at a
/// time in the process. The slot is held inside the blocking task, so a caller that hangs up
/// while it runs does not free a slot that is still busy.
pub async fn run_argon2<T: Send + 'static>(verify: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    let slot = ARGON2.clone().acquire_owned().await?;
    let result = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        verify()
    })
    .await
    .map_err(|e| anyhow::anyhow!("password check panicked: {e}"))?;
    Ok(result)
}

/// Whole seconds for a `Retry-After` header, rounded up.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    #[test]
    fn the_eleventh_attempt_after_ten_failures_is_refused_with_a_wait_within_the_window() {
        let limiter = FailureLimiter::default();
        let keys = ["site:a".to_owned(), "addr:1.2.3.4".to_owned()];
        for _ in 0..10 {
            limiter.reserve(&keys).unwrap().failed();
        }
        let wait = limiter.reserve(&keys).err().unwrap();
        assert!(wait <= WINDOW && wait > Duration::from_secs(500));
        // Another site from the same address is refused too; the same site elsewhere as well.
        assert!(limiter.reserve(&["site:b".into(), "addr:1.2.3.4".into()]).is_err());
        assert!(limiter.reserve(&["site:a".into(), "addr:5.6.7.8".into()]).is_err());
        assert!(limiter.reserve(&["site:b".into(), "addr:5.6.7.8".into()]).is_ok());
    }

    #[test]
    fn attempts_in_flight_count_before_they_are_decided_and_refunds_give_them_back() {
        let limiter = FailureLimiter::default();
        let keys = ["site:a".to_owned()];
        let in_flight: Vec<Attempt> = (0..10).map(|_| limiter.reserve(&keys).unwrap()).collect();
        assert!(limiter.reserve(&keys).is_err(), "ten undecided attempts already use up the limit");
        for attempt in in_flight {
            attempt.refund();
        }
        for _ in 0..10 {
            limiter.reserve(&keys).unwrap().refund();
        }
        assert!(limiter.reserve(&keys).is_ok(), "successes never count");
    }

    #[test]
    fn failures_older_than_the_window_no_longer_count_and_their_keys_are_swept() {
        let limiter = FailureLimiter::new(2, Duration::from_millis(30));
        let keys = ["k".to_owned()];
        limiter.reserve(&keys).unwrap().failed();
        limiter.reserve(&keys).unwrap().failed();
        assert!(limiter.reserve(&keys).is_err());
        std::thread::sleep(Duration::from_millis(40));
        limiter.reserve(&["other".to_owned()]).unwrap().refund();
        assert_eq!(limiter.keys_held(), 1, "the expired key is gone; only the new one (now empty) is held");
        assert!(limiter.reserve(&keys).is_ok());
    }

    #[tokio::test]
    async fn counted_checks_reserve_only_when_they_run_so_parallel_successes_are_never_limited() {
        let limiter = FailureLimiter::new(3, WINDOW);
        let keys = ["addr:1.2.3.4".to_owned()];
        let rightful = (0..50).map(|_| {
            limiter.counted(&keys, async {
                tokio::time::sleep(Duration::from_millis(1)).await;
                ((), false)
            })
        });
        assert!(futures_util::future::join_all(rightful).await.iter().all(Result::is_ok));
        let guesses = (0..50).map(|_| limiter.counted(&keys, async { ((), true) }));
        let ran = futures_util::future::join_all(guesses).await.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ran, 3, "only the limit's worth of guesses ran");
    }

    #[test]
    fn a_forwarded_address_counts_only_from_a_trusted_proxy() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let none = TrustedProxies::default();
        assert_eq!(none.caller(ip("127.0.0.1"), Some("203.0.113.9")), ip("127.0.0.1"), "trust none by default");
        let proxies = TrustedProxies::new([ip("127.0.0.1"), ip("10.0.0.2")]);
        assert_eq!(proxies.caller(ip("::ffff:127.0.0.1"), Some("203.0.113.9")), ip("203.0.113.9"));
        assert_eq!(proxies.caller(ip("192.0.2.1"), Some("203.0.113.9")), ip("192.0.2.1"), "an untrusted peer");
        assert_eq!(proxies.caller(ip("127.0.0.1"), None), ip("127.0.0.1"), "no header: the proxy itself");
        // A chain: the last hop before our own proxies is the caller, whatever it wrote before.
        let chain = Some("1.1.1.1, 203.0.113.9, 10.0.0.2");
        assert_eq!(proxies.caller(ip("127.0.0.1"), chain), ip("203.0.113.9"));
        assert_eq!(proxies.caller(ip("127.0.0.1"), Some("garbage, 203.0.113.9")), ip("203.0.113.9"));
        assert_eq!(proxies.caller(ip("127.0.0.1"), Some("203.0.113.9, garbage")), ip("127.0.0.1"));
    }

    #[test]
    fn ipv6_callers_are_keyed_per_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(address_key("::ffff:10.0.0.1".parse().unwrap()), "addr:10.0.0.1");
    }
}
