//! Pull batch sizes that adapt to the link (issue 14; Open mSupply #5043 asks for it).
//!
//! Why: on a cellular line (1 Mbit/s, 300 ms round trip) a page of the configured 500 records
//! moves in about a quarter of a second, so the round trips around it (the request, and in Pull
//! Remote the acknowledgement) leave the line idle half the time; a fixed large page would
//! instead make a request run for minutes on a slower line. So each request's duration sets the
//! next one's size: aim at [`TARGET`] per request, never above the central's most
//! ([`MAX_PULL_BATCH`]) nor below the configured size. A fast answer (under [`SLOW`]: a LAN,
//! where a request's fixed cost is small in absolute terms) brings the size back towards the
//! configured one, so pages, and the site's memory per page, stay as they were where the link
//! is not the bound.
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
//! per record; it only shortens a link's fixed costs per record. Those are the round trip and
//! the time the body takes to arrive; the central's own time (reading and serialising the page,
//! which our centrals, and any that build an answer before sending it, spend before the
//! headers) is not. So the link's share of a request is [`Transfer::receiving`] (headers to
//! last byte) plus [`Transfer::round_trip`] (the client's quickest answer so far: a status poll
//! costs the server almost nothing), and a request counts as slow only when that share is at
//! least a [`LINK_SHARE`]th of it. Modelled in the tests: on the bench's cellular line a
//! 500-record page is link-bound even with the central taking 0.4 s of it; on a satellite link
//! (600 ms round trip, fast) the round trip alone makes it so; on a busy loopback the link's
//! share is a few percent. A request slow for other reasons never grows the page and brings it
//! back towards the configured size (one misjudged page cannot ratchet pages up for the rest of
//! a run), and one over [`TARGET`] shrinks it whatever slowed it.
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
            && let Some(next) = by_time(self.configured, asked, got, took, transfer.receiving + transfer.round_trip)
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

/// The next size by the link's rate (module doc), or `None` to keep the size. `on_link` is the
/// part of `took` that was the link's: the body's arrival and the round trip.
fn by_time(configured: u32, asked: u32, got: usize, took: Duration, on_link: Duration) -> Option<u32> {
    // A short page (the end of the queue) says nothing about the link's rate.
    if (got as u64) < u64::from(asked) && took < TARGET {
        return None;
    }
    let link_bound = took >= SLOW && on_link * LINK_SHARE >= took;
    let scaled = f64::from(asked) * TARGET.as_secs_f64() / took.as_secs_f64().max(1e-3);
    let next = if link_bound {
        // Grow at most fourfold a step, so one lucky fast answer does not overshoot.
        scaled.min(f64::from(asked) * 4.0)
    } else if took > TARGET {
        scaled
    } else {
        // Not the link's time: a bigger page would not shorten it. Back towards the configured
        // size, so one misjudged request does not keep pages large.
        f64::from(asked / 2)
    };
    Some((next as u32).clamp(configured.min(MAX_PULL_BATCH), MAX_PULL_BATCH))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request on a slow link: half its time spent receiving the body.
    fn on_link(b: &mut PullBatch, asked: u32, got: usize, bytes: usize, took: Duration) {
        b.observe(asked, got, Transfer { bytes, receiving: took / 2, round_trip: Duration::ZERO }, took);
    }

    /// A link of `bits_per_s` and `rtt`, a central that takes `central` before its headers,
    /// records of `wire` bytes each (compressed) and 1,100 decoded: a request for `n` records,
    /// as the site sees it. The headers come with the body's first 16 KB (the bench relay's
    /// chunk), which therefore never counts as receiving.
    fn request(n: u32, bits_per_s: f64, rtt: f64, central: f64, wire: f64) -> (Transfer, Duration) {
        let body = f64::from(n) * wire * 8.0 / bits_per_s;
        let first_chunk = (16_384.0 * 8.0 / bits_per_s).min(body);
        let took = Duration::from_secs_f64(rtt + central + body);
        let transfer = Transfer {
            bytes: n as usize * 1100,
            receiving: Duration::from_secs_f64(body - first_chunk),
            round_trip: Duration::from_secs_f64(rtt),
        };
        (transfer, took)
    }

    /// Sizes chosen over `pages` requests on that link, and the longest request.
    fn run(pages: usize, link: impl Fn(u32) -> (Transfer, Duration)) -> (Vec<u32>, Duration) {
        let mut b = PullBatch::new(500);
        let (mut sizes, mut longest) = (Vec::new(), Duration::ZERO);
        for _ in 0..pages {
            let n = b.size();
            let (transfer, took) = link(n);
            longest = longest.max(took);
            b.observe(n, n as usize, transfer, took);
            sizes.push(b.size());
        }
        (sizes, longest)
    }

    #[test]
    fn a_cellular_line_grows_pages_to_the_central_limit_even_with_a_slow_central() {
        // 1 Mbit/s, 300 ms, ~91 B a record on the wire; the central takes 0.4 s a page (what it
        // took at load 7-13) or nothing.
        for central in [0.0, 0.4] {
            let (sizes, longest) = run(6, |n| request(n, 1e6, 0.3, central, 91.0));
            assert_eq!(sizes.last(), Some(&MAX_PULL_BATCH), "central {central} s: {sizes:?}");
            assert!(longest <= LONGEST, "a request took {longest:?}");
        }
    }

    #[test]
    fn a_satellite_link_grows_pages_for_its_round_trip() {
        // 600 ms round trip, 10 Mbit/s: a 500-record body arrives in 36 ms; the round trip is
        // most of each request, and a bigger page spreads it over more records.
        let (sizes, longest) = run(6, |n| request(n, 10e6, 0.6, 0.02, 91.0));
        assert_eq!(sizes.last(), Some(&MAX_PULL_BATCH), "{sizes:?}");
        assert!(longest <= LONGEST);
    }

    #[test]
    fn a_busy_central_on_a_fast_link_keeps_the_configured_size() {
        // Loopback (1 Gbit/s, 50 µs); the central takes 0.4-0.7 s before it answers (the 1M
        // bench on a loaded machine), then the answer arrives in milliseconds.
        for central in [0.4, 0.7, 2.0] {
            let (sizes, _) = run(8, |n| request(n, 1e9, 50e-6, central, 91.0));
            assert!(sizes.iter().all(|s| *s == 500), "central {central} s: {sizes:?}");
        }
    }

    #[test]
    fn a_request_grows_the_page_only_when_the_link_had_at_least_a_quarter_of_it() {
        let took = Duration::from_millis(1000);
        let page = |on_link_ms: u64| {
            let mut b = PullBatch::new(500);
            let transfer = Transfer {
                bytes: 500 * 1100,
                receiving: Duration::from_millis(on_link_ms - 20),
                round_trip: Duration::from_millis(20),
            };
            b.observe(500, 500, transfer, took);
            b.size()
        };
        assert_eq!(page(240), 500, "24 % of the request on the link");
        assert!(page(260) > 500, "26 % of the request on the link");
    }

    #[test]
    fn one_misjudged_request_does_not_keep_pages_large() {
        let mut b = PullBatch::new(500);
        // A busy loopback, one request of which the body was slow (a descheduled reader).
        let odd = Transfer { bytes: 500 * 1100, receiving: Duration::from_millis(300), round_trip: Duration::ZERO };
        b.observe(500, 500, odd, Duration::from_millis(600));
        assert!(b.size() > 500);
        for _ in 0..4 {
            let n = b.size();
            let (transfer, took) = request(n, 1e9, 50e-6, 0.5, 91.0);
            b.observe(n, n as usize, transfer, took);
        }
        assert_eq!(b.size(), 500, "back to the configured size once requests are the central's again");
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
    fn a_request_that_took_too_long_shrinks_the_next_one_whatever_slowed_it() {
        let mut b = PullBatch::new(500);
        on_link(&mut b, 500, 500, 500 * 100, Duration::from_secs(1));
        let grown = b.size();
        assert!(grown > 500);
        // A busy central: the answer arrived at once, but the request passed the target.
        let mut busy = b;
        let (transfer, _) = request(grown, 1e9, 50e-6, 0.0, 91.0);
        busy.observe(grown, grown as usize, transfer, Duration::from_secs(9));
        assert!(busy.size() < grown);
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
