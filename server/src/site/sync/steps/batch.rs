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
//! # Bounded by bytes too, and shrunk when an answer is too large
//!
//! A request's duration includes the central's own time, so a slow central (not only a slow
//! link) grows the pages, and pages of large records grown to [`MAX_PULL_BATCH`] could reach
//! the site's cap on an answer (`wire::client::MAX_RESPONSE_BYTES`, 128 MiB, twice issue 14's
//! memory target), past which the call failed and with it every run (review finding 12). So
//! the next size is also bounded by bytes: records of the size last seen must fit in
//! [`PAGE_BYTES`] (this bound alone may go below the configured size: it is what keeps a page
//! of unusually large records within memory). And an answer over the cap is not the end of the
//! run: the same page is asked again at half the size ([`PullBatch::too_large`]), and no later
//! page of the run is asked larger, down to a single record; only a single record over the cap
//! fails the run, with the client's error ("The server's reply is larger than …"). A refusal
//! never blocks a run, so no page may.
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
/// The most bytes (decompressed) a page's answer should hold, judged by the records last seen:
/// the site holds the answer and the records parsed from it (several times its size) at once,
/// so 8 MiB keeps a page well inside issue 14's 64 MB memory target, while realistic records
/// (a few hundred bytes) fill [`MAX_PULL_BATCH`] long before it (module doc).
pub const PAGE_BYTES: usize = 8 * 1024 * 1024;

/// The batch size to ask for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PullBatch {
    configured: u32,
    size: u32,
    /// The most records a page of this run may ask for: half a page whose answer was too large.
    ceiling: u32,
    /// How many records fit in [`PAGE_BYTES`], judged by the last page that held any.
    by_bytes: u32,
}

impl PullBatch {
    pub fn new(configured: u32) -> PullBatch {
        PullBatch { configured, size: configured, ceiling: MAX_PULL_BATCH, by_bytes: MAX_PULL_BATCH }
    }

    pub fn size(&self) -> u32 {
        self.size
    }

    /// A request for `asked` records returned `got` in `took`, in an answer of `bytes`
    /// (decompressed): choose the next size.
    pub fn observe(&mut self, asked: u32, got: usize, bytes: usize, took: Duration) {
        if got > 0 {
            let per_record = bytes.div_ceil(got).max(1);
            self.by_bytes = (PAGE_BYTES / per_record).clamp(1, MAX_PULL_BATCH as usize) as u32;
        }
        if let Some(next) = by_time(self.configured, self.size, asked, got, took) {
            self.size = next;
        }
        self.size = self.size.min(self.by_bytes).min(self.ceiling).max(1);
    }

    /// The answer to a request for `asked` records passed the site's cap: ask for the same page
    /// again at half the size, and never for more in this run. `false` when `asked` was a single
    /// record, which cannot be shrunk (the run then fails with the client's error).
    pub fn too_large(&mut self, asked: u32) -> bool {
        if asked <= 1 {
            return false;
        }
        self.ceiling = self.ceiling.min(asked / 2);
        self.size = self.size.min(self.ceiling);
        true
    }
}

/// The next size by the link's rate (module doc), or `None` to keep `size`.
fn by_time(configured: u32, size: u32, asked: u32, got: usize, took: Duration) -> Option<u32> {
    // A short page (the end of the queue) says nothing about the link's rate.
    if (got as u64) < u64::from(asked) && took < TARGET {
        return None;
    }
    if took < SLOW && size <= configured {
        return None;
    }
    let scaled = f64::from(asked) * TARGET.as_secs_f64() / took.as_secs_f64().max(1e-3);
    // Grow at most fourfold a step, so one lucky fast answer does not overshoot.
    let next = scaled.min(f64::from(asked) * 4.0) as u32;
    Some(next.clamp(configured.min(MAX_PULL_BATCH), MAX_PULL_BATCH))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fast_link_keeps_the_configured_size() {
        let mut b = PullBatch::new(500);
        b.observe(500, 500, 500 * 100, Duration::from_millis(40));
        assert_eq!(b.size(), 500);
    }

    #[test]
    fn a_slow_link_grows_pages_towards_the_target_and_never_past_the_central_limit() {
        let mut b = PullBatch::new(500);
        // 1 Mbit/s, 300 ms round trip, 65 bytes a record: 0.3 s + 0.52 ms a record.
        let took = |n: u32| Duration::from_secs_f64(0.3 + f64::from(n) * 0.00052);
        for _ in 0..6 {
            let n = b.size();
            b.observe(n, n as usize, n as usize * 100, took(n));
        }
        assert_eq!(b.size(), MAX_PULL_BATCH);
        assert!(took(b.size()) < Duration::from_secs(10));
    }

    #[test]
    fn a_request_that_took_too_long_shrinks_the_next_one() {
        let mut b = PullBatch::new(500);
        b.observe(500, 500, 500 * 100, Duration::from_secs(1));
        let grown = b.size();
        assert!(grown > 500);
        b.observe(grown, grown as usize, grown as usize * 100, Duration::from_secs(12));
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
            b.observe(n, n as usize, n as usize * 100, took(n));
        }
        assert!(longest <= LONGEST, "a request took {longest:?}");
        assert!(b.size() < MAX_PULL_BATCH);
        assert!(took(b.size()) <= TARGET + Duration::from_millis(500), "settled at {:?}", took(b.size()));
    }

    #[test]
    fn large_records_bound_the_next_size_by_bytes_even_below_the_configured_size() {
        let mut b = PullBatch::new(500);
        // A slow link would grow the page fourfold, but 64 KiB records fit 128 to a page.
        b.observe(500, 500, 500 * 64 * 1024, Duration::from_secs(1));
        assert_eq!(b.size(), (PAGE_BYTES / (64 * 1024)) as u32);
        // Megabyte records: eight a page, below the configured 500.
        b.observe(128, 128, 128 * 1024 * 1024, Duration::from_millis(100));
        assert_eq!(b.size(), 8);
    }

    #[test]
    fn an_answer_over_the_cap_halves_the_size_for_the_rest_of_the_run_down_to_one_record() {
        let mut b = PullBatch::new(500);
        assert!(b.too_large(500));
        assert_eq!(b.size(), 250);
        // A fast answer with small records does not grow past what was too large.
        b.observe(250, 250, 250 * 100, Duration::from_secs(1));
        assert_eq!(b.size(), 250);
        let mut asked = b.size();
        while b.too_large(asked) {
            asked = b.size();
        }
        assert_eq!(asked, 1, "halved down to a single record, which cannot shrink");
    }

    #[test]
    fn the_last_short_page_does_not_change_the_size() {
        let mut b = PullBatch::new(500);
        b.observe(500, 12, 12 * 100, Duration::from_millis(400));
        assert_eq!(b.size(), 500);
    }
}
