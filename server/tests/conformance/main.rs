//! Conformance with the reference's wire protocols (reference section 3), in both directions:
//!
//! - `centrals`: each rule of section 3 (routes, methods, headers, bodies without a content type,
//!   envelopes, error codes and statuses, cursor rules, version ranges, V6 shapes and actions)
//!   checked by raw HTTP against our V5 and V6 centrals, with bodies typed as upstream's client
//!   types them (no `Content-Type`, no compression, `syncVersion` as a string);
//! - `site_client`: the site's own client against `reference`, a minimal central written here
//!   that behaves exactly as the reference describes (plain JSON only, no compressed requests,
//!   upstream field types) and records what it was sent.

mod centrals;
mod reference;
mod site_client;
