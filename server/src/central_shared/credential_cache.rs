//! What a central remembers of credentials it has already checked, so a sync run's many
//! requests, and a fleet's syncs every few minutes, do not each pay for a check that costs an
//! Argon2 verification (V5) or a call to the legacy central (V6).
//!
//! Keys are SHA-256 digests of the credentials and what they were checked against, never the
//! credentials. Each caller says how long an entry lives ([`Lifetime`]): a V5 entry names the
//! stored hash it was verified against, so a changed password misses at once and the entry can
//! be renewed on every use; a V6 entry cannot be invalidated (the legacy central never tells us
//! of a change), so it expires a fixed time after the check.
//!
//! Finding an entry costs one map lookup: expired entries are swept at most once per
//! [`SWEEP_EVERY`], not on every lookup, because at tens of thousands of sites a sweep per
//! request was a scan of the whole map per request under the lock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The most often expired entries are swept out.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// How long an entry is kept.
#[derive(Debug, Clone, Copy)]
pub enum Lifetime {
    /// Until it has gone unused this long (each use renews it).
    Idle(Duration),
    /// This long after it was stored, used or not.
    Fixed(Duration),
}

impl Lifetime {
    fn duration(self) -> Duration {
        match self {
            Lifetime::Idle(d) | Lifetime::Fixed(d) => d,
        }
    }
}

struct Entries<V> {
    map: HashMap<[u8; 32], (Instant, V)>,
    next_sweep: Instant,
}

/// Checked credentials, by digest, with what the check found.
pub struct CredentialCache<V> {
    lifetime: Lifetime,
    entries: Arc<Mutex<Entries<V>>>,
}

impl<V> Clone for CredentialCache<V> {
    fn clone(&self) -> Self {
        CredentialCache { lifetime: self.lifetime, entries: self.entries.clone() }
    }
}

impl<V: Clone> CredentialCache<V> {
    pub fn new(lifetime: Lifetime) -> Self {
        let entries = Entries { map: HashMap::new(), next_sweep: Instant::now() + SWEEP_EVERY };
        CredentialCache { lifetime, entries: Arc::new(Mutex::new(entries)) }
    }

    /// What the check of `key` found, if it is still remembered.
    pub fn get(&self, key: &[u8; 32]) -> Option<V> {
        let now = Instant::now();
        let mut entries = self.lock();
        entries.sweep(now);
        let (expires, value) = entries.map.get_mut(key)?;
        if *expires <= now {
            return None;
        }
        if let Lifetime::Idle(idle) = self.lifetime {
            *expires = now + idle;
        }
        Some(value.clone())
    }

    /// Remember that `key` was checked and found `value`.
    pub fn insert(&self, key: [u8; 32], value: V) {
        let now = Instant::now();
        let mut entries = self.lock();
        entries.sweep(now);
        entries.map.insert(key, (now + self.lifetime.duration(), value));
    }

    /// How many entries are held (expired ones not yet swept included).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries<V>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<V> Entries<V> {
    fn sweep(&mut self, now: Instant) {
        if now >= self.next_sweep {
            self.map.retain(|_, (expires, _)| *expires > now);
            self.next_sweep = now + SWEEP_EVERY;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn an_idle_entry_is_renewed_by_each_use_and_a_fixed_one_is_not() {
        let idle = CredentialCache::new(Lifetime::Idle(Duration::from_millis(300)));
        let fixed = CredentialCache::new(Lifetime::Fixed(Duration::from_millis(300)));
        idle.insert(KEY, 1);
        fixed.insert(KEY, 1);
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(150));
            assert_eq!(idle.get(&KEY), Some(1), "used every 150 ms, an idle entry of 300 ms stays");
        }
        assert_eq!(fixed.get(&KEY), None, "450 ms after it was stored, a fixed entry of 300 ms is gone");
    }

    #[test]
    fn expired_entries_are_swept_out_of_memory() {
        let cache = CredentialCache::new(Lifetime::Fixed(Duration::from_millis(1)));
        for i in 0..100u8 {
            cache.insert([i; 32], ());
        }
        std::thread::sleep(Duration::from_millis(5));
        cache.lock().next_sweep = Instant::now();
        assert_eq!(cache.get(&[0; 32]), None);
        assert!(cache.is_empty(), "the sweep removed the expired entries");
    }
}
