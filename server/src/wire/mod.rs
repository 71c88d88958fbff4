//! The two sync protocols on the wire, as the reference defines them byte by byte:
//! `v5` (legacy mSupply central, `/sync/v5/...`) and `v6` (Open mSupply central,
//! `/central/sync/...`). Only message types and constants live here, shared by the site's
//! clients and by our central servers, so both ends agree by construction.

/// Outpost addition: a central that decodes compressed request bodies says so with this
/// response header, listing the codings (ours: `gzip, zstd`). The site compresses its request
/// bodies only for a central that said it (zstd when listed, else gzip), and sends plain JSON
/// otherwise, as the reference's client does (it never compresses a request), so a legacy
/// central that does not decode request bodies is never sent either.
pub const HEADER_ACCEPTS_COMPRESSED_REQUESTS: &str = "x-outpost-accepts-compressed-requests";

/// What our centrals put in [`HEADER_ACCEPTS_COMPRESSED_REQUESTS`].
pub const ACCEPTED_REQUEST_CODINGS: &str = "gzip, zstd";

/// zstd level of our compressed bodies, both ways. Why zstd: on realistic records (issue 14) a
/// 500-record page at this level is 28 % smaller than gzip -6 and takes less CPU to make. Why
/// not higher: a zstd stream's memory grows fast with the level (measured with the `zstd`
/// command on a streamed page: +1 MB over level 3 at 6, +12 MB at 9, +50 MB at 12), and the
/// central holds one per answer in flight; level 9 would save only 4 % more bytes.
pub const ZSTD_LEVEL: i32 = 6;

pub mod client;
pub mod raw;
pub mod v5;
pub mod v5_client;
pub mod v6;
pub mod v6_client;
