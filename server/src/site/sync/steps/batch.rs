//! Pull batch sizes that adapt to the link (issue 14; Open mSupply #5043 asks for it).
//!
//! Why: on a cellular line (1 Mbit/s, 300 ms round trip) a page of the configured 500 records
//! moves in about a quarter of a second, so the round trips around it (the request, and in Pull
//! Remote the acknowledgement) leave the line idle half the time; a fixed large page would
//! instead make a request run for minutes on a slower line. So each request's duration sets the
//! next one's size: aim at [`TARGET`] per request, never above the central's most
//! ([`MAX_PULL_BATCH`]) nor below the configured size. A fast answer (under [`SLOW`]: a LAN,
//! where a request's fixed cost is small in absolute terms) leaves the size as configured, so
//! pages, and the site's memory per page, stay as they were where the link is not the bound.
//!
//! Why [`TARGET`] is 6 s (it was 3 s): every Pull Remote page costs two round trips besides its
//! transfer (the request, and the acknowledgement that must follow the page's store), so the
//! share of a request spent waiting shrinks only as the page grows. On the bench's cellular line
//! (1 Mbit/s, 300 ms) a page of realistic records at 3 s settled near 3,700 records and the
//! line was busy 69 % of the pull; the central's 5,000 takes about 4 s there, so aiming at 6 s
//! lets pages reach it (BENCHMARKS.md, issue 14). 6 s keeps 1.6× headroom under the 10 s a
//! request may take, for a line whose rate drops between two pages: the next page is sized
//! from the last one's duration, and one that ran long shrinks the next at once.
//!
//! One [`PullBatch`] serves both V5 pull steps of a run (`Ctx::pull_batch`): they talk to the
//! same central over the same link, so Pull Remote starts at the size Pull Central reached
//! instead of climbing again from the configured 500 (two or three short pages, each with its
//! round trips).

use std::time::Duration;

/// The most records a V5 central serves per page (ours caps `limit` there too).
pub const MAX_PULL_BATCH: u32 = 5000;
/// What each request should take on a slow link: well within [`LONGEST`] (module doc: why 6 s).
pub const TARGET: Duration = Duration::from_secs(6);
/// The longest a pull request should run (issue 14: no request over 10 s on a cellular line).
pub const LONGEST: Duration = Duration::from_secs(10);
// Room for the line to slow by half between two pages without a request passing LONGEST.
const _: () = assert!(TARGET.as_millis() * 3 / 2 <= LONGEST.as_millis());
/// Requests faster than this do not grow the batch.
pub const SLOW: Duration = Duration::from_millis(250);

/// The batch size to ask for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PullBatch {
    configured: u32,
    size: u32,
}

impl PullBatch {
    pub fn new(configured: u32) -> PullBatch {
        PullBatch { configured, size: configured }
    }

    pub fn size(&self) -> u32 {
        self.size
    }

    /// A request for `asked` records returned `got` in `took`: choose the next size.
    pub fn observe(&mut self, asked: u32, got: usize, took: Duration) {
        // A short page (the end of the queue) says nothing about the link's rate.
        if (got as u64) < u64::from(asked) && took < TARGET {
            return;
        }
        if took < SLOW && self.size <= self.configured {
            return;
        }
        let scaled = f64::from(asked) * TARGET.as_secs_f64() / took.as_secs_f64().max(1e-3);
        // Grow at most fourfold a step, so one lucky fast answer does not overshoot.
        let next = scaled.min(f64::from(asked) * 4.0) as u32;
        self.size = next.clamp(self.configured.min(MAX_PULL_BATCH), MAX_PULL_BATCH);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fast_link_keeps_the_configured_size() {
        let mut b = PullBatch::new(500);
        b.observe(500, 500, Duration::from_millis(40));
        assert_eq!(b.size(), 500);
    }

    #[test]
    fn a_slow_link_grows_pages_towards_the_target_and_never_past_the_central_limit() {
        let mut b = PullBatch::new(500);
        // 1 Mbit/s, 300 ms round trip, 65 bytes a record: 0.3 s + 0.52 ms a record.
        let took = |n: u32| Duration::from_secs_f64(0.3 + f64::from(n) * 0.00052);
        for _ in 0..6 {
            let n = b.size();
            b.observe(n, n as usize, took(n));
        }
        assert_eq!(b.size(), MAX_PULL_BATCH);
        assert!(took(b.size()) < Duration::from_secs(10));
    }

    #[test]
    fn a_request_that_took_too_long_shrinks_the_next_one() {
        let mut b = PullBatch::new(500);
        b.observe(500, 500, Duration::from_secs(1));
        let grown = b.size();
        assert!(grown > 500);
        b.observe(grown, grown as usize, Duration::from_secs(12));
        assert!(b.size() < grown);
        assert!(b.size() >= 500, "never below the configured size");
    }

    #[test]
    fn on_a_line_too_slow_for_the_central_limit_requests_settle_under_the_longest() {
        // 64 kbit/s (a poor GPRS line), 300 ms round trip, realistic records (~91 bytes each on
        // the wire): 5,000 records would take 57 s.
        let took = |n: u32| Duration::from_secs_f64(0.3 + f64::from(n) * 91.0 * 8.0 / 64_000.0);
        let mut b = PullBatch::new(500);
        let mut longest = Duration::ZERO;
        for _ in 0..12 {
            let n = b.size();
            longest = longest.max(took(n));
            b.observe(n, n as usize, took(n));
        }
        assert!(longest <= LONGEST, "a request took {longest:?}");
        assert!(b.size() < MAX_PULL_BATCH);
        assert!(took(b.size()) <= TARGET + Duration::from_millis(500), "settled at {:?}", took(b.size()));
    }

    #[test]
    fn the_last_short_page_does_not_change_the_size() {
        let mut b = PullBatch::new(500);
        b.observe(500, 12, Duration::from_millis(400));
        assert_eq!(b.size(), 500);
    }
}
