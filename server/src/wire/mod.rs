//! The two sync protocols on the wire, as the reference defines them byte by byte:
//! `v5` (legacy mSupply central, `/sync/v5/...`) and `v6` (Open mSupply central,
//! `/central/sync/...`). Only message types and constants live here, shared by the site's
//! clients and by our central servers, so both ends agree by construction.

/// Outpost addition: a central that decodes gzip request bodies says so with this response
/// header (value `gzip`). The site compresses its request bodies only for a central that said
/// it, and sends plain JSON otherwise, as the reference's client does (it never compresses a
/// request), so a legacy central that does not decode request bodies is never sent gzip.
pub const HEADER_ACCEPTS_COMPRESSED_REQUESTS: &str = "x-outpost-accepts-compressed-requests";

pub mod client;
pub mod raw;
pub mod v5;
pub mod v5_client;
pub mod v6;
pub mod v6_client;
