//! Outpost: a site server for supply-chain data that synchronises with two central servers
//! (a V5 "legacy mSupply" central and a V6 "Open mSupply" central), and both of those centrals.
//!
//! Three floors, arrows pointing down only:
//! - `cli` parses arguments and starts a role, or `demo` (all three roles, seeded, in one
//!   process); each role defines its own admin subcommands, which `cli` only mounts;
//! - `site`, `central_v5`, `central_v6` are the roles, one folder each; what the two centrals
//!   share lives in `central_shared`, so neither reaches into the other;
//! - `db`, `backup`, `serve`, `ratelimit`, `wire`, `records` are foundations that know nothing of the
//!   roles. Test and bench tooling (fixtures, relays) lives in `testkit/` and `tools/bench/`,
//!   not in the product.

pub mod argon2_mapped;
pub mod backup;
pub mod central_shared;
pub mod central_v5;
pub mod central_v6;
pub mod cli;
pub mod db;
pub mod demo;
mod kill_point;
pub mod ratelimit;
pub mod readiness;
pub mod records;
pub mod secrets;
pub mod serve;
pub mod site;
pub mod wire;
