//! What request bodies cost before their credentials are checked, and for how long.
//!
//! V6 credentials travel inside the body, so every V6 call is read (up to its limit) before
//! anyone knows who sent it. Three bounds keep that from becoming a way to take the central
//! away from everyone:
//!
//! - all such bodies together hold at most [`super::UNAUTHENTICATED_BODY_BUDGET`] (a few KB of
//!   gzip per connection, held back before its last bytes, once added up to gigabytes);
//! - one caller address (IPv4 address or IPv6 /64, keyed as the failure limiter keys it) holds
//!   at most [`CALLER_SHARE`] of it: with one pool only, sixteen held-back 4 MiB pushes from one
//!   address took the whole budget and every site's call was answered 503. The share is one
//!   maximal push, so a site never needs more; sites behind one NAT address share it and wait
//!   their turn (503 with Retry-After) when they push large batches at the same moment;
//! - each body must arrive whole within [`BodyBudget::deadline`] (a grace period plus the
//!   route's limit at [`MIN_BODY_RATE`]). The connection's own body timeout is an idle timeout,
//!   reset by every byte, so one byte a minute per connection held a share for ever; now a
//!   share is held at most a couple of minutes before its caller has to start again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// What one caller address may hold of the budget: one push at its largest.
pub const CALLER_SHARE: usize = super::MAX_BODY_BYTES;
/// The slowest a body may arrive on average (after decompression), on top of [`BODY_GRACE`]:
/// a full 8 MiB push gets about two and a half minutes, which a link of 512 kbit/s manages; a
/// usual push batch is under 1 MB.
pub const MIN_BODY_RATE: usize = 64 * 1024;
/// What every body gets on top of its size at [`MIN_BODY_RATE`] (a slow start, a retransmit).
pub const BODY_GRACE: Duration = Duration::from_secs(30);

/// Why a body could not take more of the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// All unauthenticated bodies together hold the whole budget.
    Full,
    /// This caller address holds its whole share.
    CallerShare,
}

/// The budget, counted in KiB; cloned handles share it.
#[derive(Clone)]
pub struct BodyBudget {
    total: Arc<Semaphore>,
    caller_kib: usize,
    by_caller: Arc<Mutex<HashMap<String, usize>>>,
    /// What every body gets on top of its limit at `min_bytes_per_second` (tests shorten it).
    pub grace: Duration,
    pub min_bytes_per_second: usize,
}

impl BodyBudget {
    /// `total` bytes for everyone, `per_caller` bytes for one address.
    pub fn new(total: usize, per_caller: usize) -> Self {
        BodyBudget {
            total: Arc::new(Semaphore::new(total / 1024)),
            caller_kib: per_caller.div_ceil(1024),
            by_caller: Default::default(),
            grace: BODY_GRACE,
            min_bytes_per_second: MIN_BODY_RATE,
        }
    }

    /// How long a body of at most `limit` bytes may take to arrive whole.
    pub fn deadline(&self, limit: usize) -> Duration {
        self.grace + Duration::from_secs_f64(limit as f64 / self.min_bytes_per_second.max(1) as f64)
    }

    /// Start counting one body of the caller keyed `caller` (see `ratelimit::address_key`).
    pub fn start(&self, caller: String) -> Held {
        Held { budget: self.clone(), caller, kib: 0, permit: None }
    }

    /// KiB the caller keyed `caller` holds now.
    pub fn held_by(&self, caller: &str) -> usize {
        self.by_caller.lock().unwrap_or_else(|e| e.into_inner()).get(caller).copied().unwrap_or(0)
    }
}

/// One body's part of the budget, given back when dropped.
pub struct Held {
    budget: BodyBudget,
    caller: String,
    kib: usize,
    permit: Option<OwnedSemaphorePermit>,
}

impl Held {
    /// Hold enough for `bytes` in all, or say which bound refused it (nothing more is taken then).
    pub fn grow_to(&mut self, bytes: usize) -> Result<(), Refused> {
        let need = bytes.div_ceil(1024).saturating_sub(self.kib);
        if need == 0 {
            return Ok(());
        }
        let mut by_caller = self.budget.by_caller.lock().unwrap_or_else(|e| e.into_inner());
        let mine = by_caller.entry(self.caller.clone()).or_default();
        if *mine + need > self.budget.caller_kib {
            if *mine == 0 {
                by_caller.remove(&self.caller);
            }
            return Err(Refused::CallerShare);
        }
        let more = self.budget.total.clone().try_acquire_many_owned(need as u32).map_err(|_| Refused::Full);
        let more = match more {
            Ok(more) => more,
            Err(refused) => {
                if *mine == 0 {
                    by_caller.remove(&self.caller);
                }
                return Err(refused);
            }
        };
        *mine += need;
        self.kib += need;
        match self.permit.as_mut() {
            Some(permit) => permit.merge(more),
            None => self.permit = Some(more),
        }
        Ok(())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.kib == 0 {
            return;
        }
        let mut by_caller = self.budget.by_caller.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mine) = by_caller.get_mut(&self.caller) {
            *mine = mine.saturating_sub(self.kib);
            if *mine == 0 {
                by_caller.remove(&self.caller);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_caller_cannot_take_more_than_its_share_and_others_still_get_theirs() {
        let budget = BodyBudget::new(64 * 1024, 16 * 1024);
        let mut first = budget.start("addr:192.0.2.1".into());
        first.grow_to(10 * 1024).unwrap();
        let mut second = budget.start("addr:192.0.2.1".into());
        assert_eq!(second.grow_to(7 * 1024), Err(Refused::CallerShare), "10 + 7 KiB is past the 16 KiB share");
        second.grow_to(6 * 1024).unwrap();
        let mut other = budget.start("addr:198.51.100.1".into());
        other.grow_to(16 * 1024).unwrap();
        assert_eq!(budget.held_by("addr:192.0.2.1"), 16);
        drop((first, second));
        assert_eq!(budget.held_by("addr:192.0.2.1"), 0, "a finished body gives its share back");
        let mut again = budget.start("addr:192.0.2.1".into());
        again.grow_to(16 * 1024).unwrap();
    }

    #[test]
    fn the_total_still_bounds_many_callers() {
        let budget = BodyBudget::new(32 * 1024, 16 * 1024);
        let held: Vec<_> = (0..2)
            .map(|i| {
                let mut h = budget.start(format!("addr:192.0.2.{i}"));
                h.grow_to(16 * 1024).unwrap();
                h
            })
            .collect();
        let mut third = budget.start("addr:192.0.2.9".into());
        assert_eq!(third.grow_to(1024), Err(Refused::Full));
        assert_eq!(budget.held_by("addr:192.0.2.9"), 0, "a refused caller holds nothing");
        drop(held);
        third.grow_to(1024).unwrap();
    }

    #[test]
    fn the_deadline_grows_with_the_limit_at_the_minimum_rate() {
        let budget = BodyBudget::new(1024, 1024);
        assert_eq!(budget.deadline(0), BODY_GRACE);
        assert_eq!(budget.deadline(8 * 1024 * 1024), BODY_GRACE + Duration::from_secs(128));
    }
}
