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
//! counted attempt (successful sign-ins are cached by the centrals and do not come here, and
//! no attempt is counted before the early check has found its keys free), and the early
//! [`FailureLimiter::refuse_early`] reads the rows. When the table cannot be reached the
//! attempt is refused (as a lock-out of a second), not verified uncounted. Keys nobody failed
//! with for a window are deleted at most once a minute per replica.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::db::{Backend, CentralDb};

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
    shared: Option<CentralDb>,
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
            limiter.shared = Some(db.clone());
        }
        limiter
    }

    /// [`FailureLimiter::check`], across replicas when the counts are shared.
    pub async fn refuse_early(&self, keys: &[String]) -> Result<(), Duration> {
        let Some(db) = &self.shared else { return self.check(keys) };
        match shared::check(db, &self.hex_keys(keys), self.max, self.window).await {
            Ok(wait) => wait.map_or(Ok(()), Err),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Count one failure against `keys` without a check (a request without credentials), or
    /// `Err(retry_after)` when a key is used up.
    pub async fn count_failure(&self, keys: &[String]) -> Result<(), Duration> {
        let Some(db) = &self.shared else { return self.reserve(keys).map(Attempt::failed) };
        match shared::reserve(db, &self.hex_keys(keys), self.max, self.window).await {
            Ok(admitted) => admitted.map(drop),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Keys as the shared table holds them: the SHA-256 in hex, sorted (the order the
    /// transaction locks them in), without repeats.
    fn hex_keys(&self, keys: &[String]) -> Vec<String> {
        let mut hex: Vec<String> =
            keys.iter().map(|k| digest(k).iter().map(|b| format!("{b:02x}")).collect()).collect();
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
    /// nothing verified). `Err(retry_after)`, without running `check`, when a key is used up.
    pub async fn counted<T>(&self, keys: &[String], check: impl Future<Output = (T, bool)>) -> Result<T, Duration> {
        let _slot = self.slots.acquire().await.map_err(|_| Duration::from_secs(1))?;
        if let Some(db) = &self.shared {
            let attempt = match shared::reserve(db, &self.hex_keys(keys), self.max, self.window).await {
                Ok(admitted) => admitted?,
                Err(e) => return Err(unavailable(e)),
            };
            let (value, failed) = check.await;
            if !failed && let Err(e) = shared::refund(db, &attempt).await {
                // Kept counted: a right password cannot be taken for a guess more than `max`
                // times in a window, and the site's next attempt is cached anyway.
                tracing::warn!(error = %e, "could not take back a counted sign-in attempt");
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

/// A shared table that cannot be reached refuses the attempt for a second (fail closed).
fn unavailable(e: sqlx::Error) -> Duration {
    tracing::error!(error = %e, "the failure limiter's table cannot be reached; sign-in attempt refused");
    Duration::from_secs(1)
}

/// The counts in `auth_failure` (see the module doc); keys are hex digests, sorted.
mod shared {
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    use sqlx::AssertSqlSafe;

    use super::SharedAttempt;
    use crate::db::CentralDb;

    const NOW_US: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)";

    fn micros(d: Duration) -> i64 {
        d.as_micros().min(i64::MAX as u128) as i64
    }

    /// How long until the oldest failure of `key` within the window leaves it.
    async fn wait_for(conn: &mut sqlx::AnyConnection, key: &str, now: i64, window: i64) -> sqlx::Result<Duration> {
        let oldest: Option<i64> =
            sqlx::query_scalar("SELECT MIN(t) FROM auth_failure, unnest(times) AS t WHERE key = $1 AND t > $2 - $3")
                .bind(key)
                .bind(now)
                .bind(window)
                .fetch_one(conn)
                .await?;
        let left = oldest.map_or(0, |o| (o + window - now).max(0));
        Ok(Duration::from_micros(left as u64).max(Duration::from_secs(1)))
    }

    /// `Some(retry_after)` when a key has used up its failures; counts nothing.
    pub async fn check(
        db: &CentralDb,
        keys: &[String],
        max: usize,
        window: Duration,
    ) -> sqlx::Result<Option<Duration>> {
        let mut conn = db.pool.acquire().await?;
        let now: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT {NOW_US}"))).fetch_one(&mut *conn).await?;
        let window = micros(window);
        let mut wait = None;
        for key in keys {
            let held: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM auth_failure, unnest(times) AS t WHERE key = $1 AND t > $2 - $3",
            )
            .bind(key)
            .bind(now)
            .bind(window)
            .fetch_one(&mut *conn)
            .await?;
            if held >= max as i64 {
                let w = wait_for(&mut conn, key, now, window).await?;
                wait = Some(wait.map_or(w, |old: Duration| old.max(w)));
            }
        }
        Ok(wait)
    }

    /// Count one attempt against every key in one transaction, each by one conditional upsert,
    /// or `Ok(Err(retry_after))` (nothing counted) when a key has used up its failures.
    pub async fn reserve(
        db: &CentralDb,
        keys: &[String],
        max: usize,
        window: Duration,
    ) -> sqlx::Result<Result<SharedAttempt, Duration>> {
        sweep(db, window).await;
        let window = micros(window);
        let mut tx = db.pool.begin().await?;
        let now: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT {NOW_US}"))).fetch_one(&mut *tx).await?;
        for key in keys {
            // Appends `now` while fewer than `max` failures are in the window, dropping those
            // older than it; the row stays locked to the end of the transaction.
            let admitted: Option<i64> = sqlx::query_scalar(
                "INSERT INTO auth_failure AS f (key, times) VALUES ($1, ARRAY[CAST($2 AS BIGINT)])
                 ON CONFLICT (key) DO UPDATE SET times =
                   COALESCE((SELECT array_agg(t ORDER BY t) FROM unnest(f.times) AS t WHERE t > $2 - $3), '{}') || CAST($2 AS BIGINT)
                 WHERE (SELECT COUNT(*) FROM unnest(f.times) AS t WHERE t > $2 - $3) < $4
                 RETURNING 1",
            )
            .bind(key)
            .bind(now)
            .bind(window)
            .bind(max as i64)
            .fetch_optional(&mut *tx)
            .await?
            .map(|one: i32| one as i64);
            if admitted.is_none() {
                let wait = wait_for(&mut tx, key, now, window).await?;
                tx.rollback().await?;
                return Ok(Err(wait));
            }
        }
        tx.commit().await?;
        Ok(Ok(SharedAttempt { keys: keys.to_vec(), at: now }))
    }

    /// Take an attempt back (the credentials were right).
    pub async fn refund(db: &CentralDb, attempt: &SharedAttempt) -> sqlx::Result<()> {
        for key in &attempt.keys {
            sqlx::query("UPDATE auth_failure SET times = array_remove(times, CAST($2 AS BIGINT)) WHERE key = $1")
                .bind(key)
                .bind(attempt.at)
                .execute(&db.pool)
                .await?;
        }
        Ok(())
    }

    /// Delete keys with no failure in the window, at most once a minute per process.
    async fn sweep(db: &CentralDb, window: Duration) {
        static LAST: Mutex<Option<Instant>> = Mutex::new(None);
        {
            let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|l| l.elapsed() < super::SWEEP_EVERY.min(window)) {
                return;
            }
            *last = Some(Instant::now());
        }
        let swept = sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM auth_failure WHERE COALESCE((SELECT MAX(t) FROM unnest(times) AS t), 0) <= {NOW_US} - $1"
        )))
        .bind(micros(window))
        .execute(&db.pool)
        .await;
        if let Err(e) = swept {
            tracing::warn!(error = %e, "could not sweep the failure limiter's table");
        }
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times.front().is_some_and(|t| now.duration_since(*t) >= window) {
        times.pop_front();
    }
}

/// The address part of a limiter key: canonical (an IPv4 client on a dual-stack listener is one
/// key, not two) and, for IPv6, the /64 (one subscriber usually holds a whole /64, so keying
/// per /128 would give a guesser 2^64 fresh addresses).
pub fn address_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => format!("addr:{v4}"),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("addr:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// The peers allowed to name the real caller in a forwarded-address header (`--trusted-proxy`):
/// a V6 central checking its callers' credentials through the V5 central, or a reverse proxy.
/// From anyone else the header is ignored, so a caller cannot spread its failures over made-up
/// addresses. Empty by default: nothing is trusted until configured.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpAddr]>);

impl TrustedProxies {
    pub fn new(addresses: impl IntoIterator<Item = IpAddr>) -> Self {
        TrustedProxies(addresses.into_iter().map(|ip| ip.to_canonical()).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `peer` is one of them (compared canonically: `::ffff:127.0.0.1` is `127.0.0.1`).
    pub fn trusts(&self, peer: IpAddr) -> bool {
        self.0.contains(&peer.to_canonical())
    }

    /// The address a request from `peer` is counted against: `peer` itself, unless it is a
    /// trusted proxy that names the caller in `forwarded` (an address, or a comma-separated
    /// `X-Forwarded-For` chain, of which the last entry not itself a trusted proxy is the
    /// caller: entries further left were written by whoever the proxy talked to, so anyone).
    pub fn caller(&self, peer: IpAddr, forwarded: Option<&str>) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let mut chain = forwarded.unwrap_or_default().rsplit(',').map(|a| a.trim().parse::<IpAddr>());
        let mut caller = peer;
        for entry in chain.by_ref() {
            match entry {
                Ok(ip) => {
                    caller = ip.to_canonical();
                    if !self.trusts(caller) {
                        break;
                    }
                }
                // Past an entry that is not an address nothing can be relied on: stop at the
                // last hop that could be.
                Err(_) => break,
            }
        }
        caller
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
