//! What an attacker or a careless operator meets: authentication and authorisation on the
//! site and both centrals, bad input of any shape, and secrets kept out of the logs.
//!
//! The log tests capture with a thread-local subscriber on a current-thread runtime, so they
//! see only their own servers even while other tests of this binary run.

mod bad_input;
mod bodies;
mod central_logs;
mod centrals;
mod connections;
mod limiter;
mod ownership;
mod site;
mod site_logs;
mod sync_client;
