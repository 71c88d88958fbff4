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
//! # A slow link, not a busy central
//!
//! A request's duration also holds the central's own time (reading and encoding the page) and
//! the round trip. Growing pages for those was the first version's rule, and on a busy central
//! it made pages of 5,000 realistic records (5.6 MB of JSON each, held several times over while
//! parsed and stored) on a loopback link: most of the site's memory peak at 1M records
//! (BENCHMARKS.md, "Issue 14, target 3"). A bigger page does not shorten a busy central's time
//! per record; it only shortens a link's fixed costs per record. Our centrals, and any that
//! build an answer before sending it, spend their own time before the headers, and the link
//! spends the time after them ([`Transfer::receiving`]). So a request counts as slow only when
//! the body took at least a [`LINK_SHARE`]th of it: on the bench's cellular line a 500-record
//! page takes about half its request to arrive; on a busy loopback a few percent. A request
//! slow for other reasons never grows the page, and one over [`TARGET`] still shrinks it.
//!
//! # Bounded by bytes too, and shrunk when an answer is too large
//!
//! A slow link grows the pages, and pages of large records grown to [`MAX_PULL_BATCH`] could reach
//! the site's cap on an answer (`wire::client::MAX_RESPONSE_BYTES`, 128 MiB, twice issue 14's
//! memory target), past which the call failed and with it every run (review finding 12). So
//! the next size is the least of three bounds, each kept apart so that none holds longer than
//! the records that set it (review 5, finding 1: one page of 10 MiB records left the rest of
//! the run, and the Pull Remote after it, at one record a page, a round trip per record):
//!
//! - the link's size, set by the time rule above from the pages it sized only: a page shrunk
//!   for its bytes or under the ceiling says nothing about the link;
//! - the byte bound: records of the size last seen must fit in [`PAGE_BYTES`]. It alone may go
//!   below the configured size (it keeps a page of unusually large records within memory), and
//!   it follows the records: the first page of small ones after large ones lifts it;
//! - the ceiling after an answer over the cap ([`PullBatch::too_large`]): the same page is asked
//!   again at once at the size the cap says its records fit ([`PAGE_BYTES`] of them: a
//!   sixteenth at the real cap, never more than that), not halved, because each try downloads up
//!   to the cap (halving from 5,000 to one record was 13 tries, 1.6 GiB, on every run: review 5,
//!   finding 5). The ceiling is the page's, not the run's: it grows fourfold with each page
//!   under [`PAGE_BYTES`] (a cluster of large records further into the page is met with a few
//!   smaller tries, not a full one each page), and is lifted once as many records as that page
//!   asked for have come, or the queue ended before them.
//!
//! Only a single record over the cap fails the run, with its own variant
//! (`Variant::RecordTooLarge`, which says where and what to ask the central's administrator); a
//! refusal never blocks a run, so no page may. That run fails again at the same record on every
//! later run, after the same three or four tries (not remembered across runs: the central may
//! have shrunk the record meanwhile).
//!
//! One [`PullBatch`] serves both V5 pull steps of a run (`Ctx::pull_batch`): they talk to the
//! same central over the same link, so Pull Remote starts at the size Pull Central reached
//! instead of climbing again from the configured 500 (two or three short pages, each with its
//! round trips).

use std::time::Duration;

use crate::wire::client::{MAX_RESPONSE_BYTES, Transfer};

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
/// A request grows the batch only if receiving its body took at least this fraction (1/N) of
/// it: the link, not the central, was slow (module doc).
pub const LINK_SHARE: u32 = 4;
/// The most bytes (decompressed) a page's answer should hold, judged by the records last seen:
/// the site holds the answer and the records parsed from it (several times its size) at once,
/// so 8 MiB keeps a page well inside issue 14's 64 MB memory target, while realistic records
/// (a few hundred bytes) fill [`MAX_PULL_BATCH`] long before it (module doc).
pub const PAGE_BYTES: usize = 8 * 1024 * 1024;
/// After an answer over the cap, the same page is asked again at most at this fraction of its
/// size (module doc: each try downloads up to the cap).
const SHRINK: u32 = 16;
/// How fast the ceiling after an answer over the cap grows back, per page under [`PAGE_BYTES`].
const REGROW: u32 = 4;

/// The batch size to ask for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PullBatch {
    configured: u32,
    /// The size the link's rate asks for (the time rule), whatever the records' size.
    link: u32,
    /// How many records fit in [`PAGE_BYTES`], judged by the last page that held any.
    by_bytes: u32,
    /// The most records a page may ask for after an answer over the cap.
    ceiling: u32,
    /// Records of the page that was over the cap not yet received: the ceiling holds until then.
    owed: u32,
    /// The site's cap on an answer's (decompressed) bytes.
    cap: usize,
}

impl PullBatch {
    pub fn new(configured: u32) -> PullBatch {
        PullBatch {
            configured,
            link: configured,
            by_bytes: MAX_PULL_BATCH,
            ceiling: MAX_PULL_BATCH,
            owed: 0,
            cap: MAX_RESPONSE_BYTES,
        }
    }

    /// The site's cap on an answer (`EngineConfig::max_response_bytes`), which sets how far an
    /// answer over it shrinks the page.
    pub fn with_cap(mut self, cap: usize) -> PullBatch {
        self.cap = cap.max(1);
        self
    }

    pub fn size(&self) -> u32 {
        self.link.min(self.by_bytes).min(self.ceiling).max(1)
    }

    /// A request for `asked` records returned `got` in `took`, in an answer of `transfer.bytes`
    /// (decompressed) whose body took `transfer.receiving` to arrive: choose the next size.
    pub fn observe(&mut self, asked: u32, got: usize, transfer: Transfer, took: Duration) {
        let bytes = transfer.bytes;
        if got > 0 {
            let per_record = bytes.div_ceil(got).max(1);
            self.by_bytes = (PAGE_BYTES / per_record).clamp(1, MAX_PULL_BATCH as usize) as u32;
        }
        // Only a page the link sized tells the link's rate: one shrunk for its bytes or under
        // the ceiling would pull the link's size down with its records (module doc).
        if asked >= self.link
            && let Some(next) = by_time(self.configured, asked, got, took, transfer.receiving)
        {
            self.link = next;
        }
        if self.owed > 0 {
            self.owed = self.owed.saturating_sub(u32::try_from(got).unwrap_or(u32::MAX));
            // A short page is the end of the queue: the page that was too large has all come.
            if self.owed == 0 || (got as u64) < u64::from(asked) {
                self.owed = 0;
                self.ceiling = MAX_PULL_BATCH;
            } else if bytes <= PAGE_BYTES {
                self.ceiling = self.ceiling.saturating_mul(REGROW).min(MAX_PULL_BATCH);
            }
        }
    }

    /// The answer to a request for `asked` records passed the site's cap: ask for the same page
    /// again at once at the size the cap says fits (module doc), at most a sixteenth of
    /// `asked`. `false` when `asked` was a single record, which cannot be shrunk: the run then
    /// fails with `Variant::RecordTooLarge`.
    pub fn too_large(&mut self, asked: u32) -> bool {
        if asked <= 1 {
            return false;
        }
        let fits = (u64::from(asked) * PAGE_BYTES as u64 / self.cap as u64).min(u64::from(asked / SHRINK));
        self.ceiling = self.ceiling.min(fits.max(1) as u32);
        self.owed = self.owed.max(asked);
        true
    }
}

/// The next size by the link's rate (module doc), or `None` to keep the size.
fn by_time(configured: u32, asked: u32, got: usize, took: Duration, receiving: Duration) -> Option<u32> {
    // A short page (the end of the queue) says nothing about the link's rate.
    if (got as u64) < u64::from(asked) && took < TARGET {
        return None;
    }
    // Slow because the link was: time before the headers is the central's (module doc).
    let link_bound = took >= SLOW && receiving * LINK_SHARE >= took;
    if !link_bound && took <= TARGET {
        return None;
    }
    let scaled = f64::from(asked) * TARGET.as_secs_f64() / took.as_secs_f64().max(1e-3);
    // Grow at most fourfold a step, so one lucky fast answer does not overshoot; and only for
    // a slow link, while any request over the target shrinks the next.
    let most = if link_bound { f64::from(asked) * 4.0 } else { f64::from(asked) };
    let next = scaled.min(most) as u32;
    Some(next.clamp(configured.min(MAX_PULL_BATCH), MAX_PULL_BATCH))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request on a slow link: half its time spent receiving the body.
    fn on_link(b: &mut PullBatch, asked: u32, got: usize, bytes: usize, took: Duration) {
        b.observe(asked, got, Transfer { bytes, receiving: took / 2 }, took);
    }

    #[test]
    fn a_busy_central_on_a_fast_link_does_not_grow_pages_and_one_over_the_target_shrinks_them() {
        // The central takes 0.4-0.7 s before it answers (the 1M bench on a loaded machine), and
        // the answer then arrives in a few milliseconds.
        let busy = |took_ms: u64| {
            (Transfer { bytes: 500 * 1100, receiving: Duration::from_millis(15) }, Duration::from_millis(took_ms))
        };
        let mut b = PullBatch::new(500);
        for took_ms in [400, 700, 550, 650] {
            let (transfer, took) = busy(took_ms);
            b.observe(500, 500, transfer, took);
            assert_eq!(b.size(), 500, "a busy central is not a slow link");
        }
        // Grown on a slow link first, then the central slows past the target: the next shrinks.
        on_link(&mut b, 500, 500, 500 * 100, Duration::from_secs(1));
        let grown = b.size();
        assert!(grown > 500);
        let (transfer, _) = busy(0);
        b.observe(grown, grown as usize, transfer, Duration::from_secs(9));
        assert!(b.size() < grown, "a request over the target shrinks the next, whatever slowed it");
    }

    #[test]
    fn a_fast_link_keeps_the_configured_size() {
        let mut b = PullBatch::new(500);
        on_link(&mut b, 500, 500, 500 * 100, Duration::from_millis(40));
        assert_eq!(b.size(), 500);
    }

    #[test]
    fn a_slow_link_grows_pages_towards_the_target_and_never_past_the_central_limit() {
        let mut b = PullBatch::new(500);
        // 1 Mbit/s, 300 ms round trip, 65 bytes a record: 0.3 s + 0.52 ms a record.
        let took = |n: u32| Duration::from_secs_f64(0.3 + f64::from(n) * 0.00052);
        for _ in 0..6 {
            let n = b.size();
            on_link(&mut b, n, n as usize, n as usize * 100, took(n));
        }
        assert_eq!(b.size(), MAX_PULL_BATCH);
        assert!(took(b.size()) < Duration::from_secs(10));
    }

    #[test]
    fn a_request_that_took_too_long_shrinks_the_next_one() {
        let mut b = PullBatch::new(500);
        on_link(&mut b, 500, 500, 500 * 100, Duration::from_secs(1));
        let grown = b.size();
        assert!(grown > 500);
        on_link(&mut b, grown, grown as usize, grown as usize * 100, Duration::from_secs(12));
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
            on_link(&mut b, n, n as usize, n as usize * 100, took(n));
        }
        assert!(longest <= LONGEST, "a request took {longest:?}");
        assert!(b.size() < MAX_PULL_BATCH);
        assert!(took(b.size()) <= TARGET + Duration::from_millis(500), "settled at {:?}", took(b.size()));
    }

    #[test]
    fn large_records_bound_the_next_size_by_bytes_even_below_the_configured_size() {
        let mut b = PullBatch::new(500);
        // A slow link would grow the page fourfold, but 64 KiB records fit 128 to a page.
        on_link(&mut b, 500, 500, 500 * 64 * 1024, Duration::from_secs(1));
        assert_eq!(b.size(), (PAGE_BYTES / (64 * 1024)) as u32);
        // Megabyte records: eight a page, below the configured 500.
        on_link(&mut b, 128, 128, 128 * 1024 * 1024, Duration::from_millis(100));
        assert_eq!(b.size(), 8);
    }

    #[test]
    fn an_answer_over_the_cap_asks_the_same_page_again_at_a_sixteenth_down_to_one_record() {
        let mut b = PullBatch::new(500);
        assert!(b.too_large(500));
        assert_eq!(b.size(), 31);
        // While the records of the page that was too large are still coming, the ceiling grows
        // back fourfold a page, not to the whole 500 at once.
        on_link(&mut b, 31, 31, 31 * 100, Duration::from_secs(1));
        assert_eq!(b.size(), 124);
        let mut asked = b.size();
        while b.too_large(asked) {
            asked = b.size();
        }
        assert_eq!(asked, 1, "shrunk down to a single record, which cannot shrink");
    }

    #[test]
    fn a_small_cap_shrinks_a_page_as_the_real_one_does() {
        let mut b = PullBatch::new(3).with_cap(100 * 1024);
        assert!(b.too_large(3));
        assert_eq!(b.size(), 1);
        assert!(!b.too_large(1));
    }

    #[test]
    fn the_end_of_the_queue_lifts_the_ceiling_for_the_next_step() {
        let mut b = PullBatch::new(500);
        assert!(b.too_large(500));
        // Pull Central's log ends inside the page that was too large: Pull Remote starts at 500.
        on_link(&mut b, 31, 10, 10 * 100, Duration::from_millis(40));
        assert_eq!(b.size(), 500);
    }

    #[test]
    fn the_last_short_page_does_not_change_the_size() {
        let mut b = PullBatch::new(500);
        on_link(&mut b, 500, 12, 12 * 100, Duration::from_millis(400));
        assert_eq!(b.size(), 500);
    }

    /// Review 5: one page of large records must not leave the rest of the run asking for a
    /// few records a page. On a link faster than `SLOW` the time rule keeps any size at or
    /// below the configured one, so the byte bound, once it went down, never comes back up.
    #[test]
    fn small_records_after_a_page_of_large_ones_get_the_configured_size_back() {
        let mut b = PullBatch::new(500);
        // One page of 64 KiB records (attachments, say): 128 a page is right for those.
        on_link(&mut b, 500, 500, 500 * 64 * 1024, Duration::from_millis(200));
        assert_eq!(b.size(), 128);
        // Then ordinary 300-byte records, answered fast, page after page.
        for _ in 0..5 {
            let n = b.size();
            on_link(&mut b, n, n as usize, n as usize * 300, Duration::from_millis(60));
        }
        assert_eq!(b.size(), 500, "back to the configured size once the records are small again");
    }

    /// Review 5: a cluster of records too large together halves the page down to what fits
    /// them, and that ceiling then holds for every later page of the run, however small.
    #[test]
    fn a_cluster_of_large_records_does_not_cap_the_rest_of_the_run() {
        let mut b = PullBatch::new(500);
        // Three 60 MiB records in a row: any page of three or more is over a 128 MiB cap.
        let mut asked = b.size();
        while asked >= 3 && b.too_large(asked) {
            asked = b.size();
        }
        on_link(&mut b, asked, asked as usize, asked as usize * 60 * 1024 * 1024, Duration::from_secs(2));
        for _ in 0..5 {
            let n = b.size();
            on_link(&mut b, n, n as usize, n as usize * 300, Duration::from_millis(60));
        }
        assert!(b.size() >= 500, "later pages of small records asked for {} records", b.size());
    }

    /// Review 5: each try at a page over the cap reads up to the cap (128 MiB) before it is
    /// refused, so halving from `MAX_PULL_BATCH` to a single record over the cap downloads
    /// about 13 x 128 MiB, on every run (the ceiling is the run's).
    #[test]
    fn a_record_over_the_cap_is_given_up_on_after_a_few_tries() {
        let mut b = PullBatch::new(MAX_PULL_BATCH);
        let mut tries = 1;
        let mut asked = b.size();
        while b.too_large(asked) {
            asked = b.size();
            tries += 1;
        }
        assert!(tries <= 4, "{tries} tries, each reading up to the cap");
    }
}
