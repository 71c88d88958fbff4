//! Counting authentication failures, so guessing passwords is slow: at most `max` failures per
//! `window` for each key (a site name, a source address), after which every attempt with that
//! key is refused until the oldest failure leaves the window. Shared by both centrals and the
//! site's admin login; it knows nothing of any of them.
//!
//! State is in memory: a restart forgets it, which only gives an attacker one more window, and
//! keeps a database write off every failed attempt (which would itself be a cheap DoS).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The default policy of the issue: 10 failures per 10 minutes.
pub const MAX_FAILURES: usize = 10;
pub const WINDOW: Duration = Duration::from_secs(600);
/// Past this many keys, expired ones are swept on every failure (bounded memory under a spray).
const SWEEP_ABOVE: usize = 10_000;

#[derive(Clone)]
pub struct FailureLimiter {
    max: usize,
    window: Duration,
    failures: Arc<Mutex<HashMap<String, VecDeque<Instant>>>>,
}

impl Default for FailureLimiter {
    fn default() -> Self {
        FailureLimiter::new(MAX_FAILURES, WINDOW)
    }
}

impl FailureLimiter {
    pub fn new(max: usize, window: Duration) -> Self {
        FailureLimiter { max: max.max(1), window, failures: Arc::default() }
    }

    /// `Err(retry_after)` when any key has used up its failures.
    pub fn check(&self, keys: &[String]) -> Result<(), Duration> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let mut wait = Duration::ZERO;
        for key in keys {
            if let Some(times) = map.get_mut(key) {
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

    /// Count one failure against every key.
    pub fn fail(&self, keys: &[String]) {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > SWEEP_ABOVE {
            let window = self.window;
            map.retain(|_, times| {
                prune(times, now, window);
                !times.is_empty()
            });
        }
        for key in keys {
            let times = map.entry(key.clone()).or_default();
            prune(times, now, self.window);
            times.push_back(now);
            // Only the newest `max` matter for the decision.
            while times.len() > self.max {
                times.pop_front();
            }
        }
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times.front().is_some_and(|t| now.duration_since(*t) >= window) {
        times.pop_front();
    }
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
            assert!(limiter.check(&keys).is_ok());
            limiter.fail(&keys);
        }
        let wait = limiter.check(&keys).unwrap_err();
        assert!(wait <= WINDOW && wait > Duration::from_secs(500));
        // Another site from the same address is refused too; the same site elsewhere as well.
        assert!(limiter.check(&["site:b".into(), "addr:1.2.3.4".into()]).is_err());
        assert!(limiter.check(&["site:a".into(), "addr:5.6.7.8".into()]).is_err());
        assert!(limiter.check(&["site:b".into(), "addr:5.6.7.8".into()]).is_ok());
    }

    #[test]
    fn failures_older_than_the_window_no_longer_count() {
        let limiter = FailureLimiter::new(2, Duration::from_millis(30));
        let keys = ["k".to_owned()];
        limiter.fail(&keys);
        limiter.fail(&keys);
        assert!(limiter.check(&keys).is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(limiter.check(&keys).is_ok());
    }
}
