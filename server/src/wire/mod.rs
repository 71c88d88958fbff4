//! The two sync protocols on the wire, as the reference defines them byte by byte:
//! `v5` (legacy mSupply central, `/sync/v5/...`) and `v6` (Open mSupply central,
//! `/central/sync/...`). Only message types and constants live here, shared by the site's
//! clients and by our central servers, so both ends agree by construction.

pub mod client;
pub mod raw;
pub mod v5;
pub mod v5_client;
pub mod v6;
pub mod v6_client;
