//! One test kit for Outpost: the worlds tests build (both centrals on SQLite or PostgreSQL, sites
//! in-process or as the real binary), one relay with hooks to put between a site and a central,
//! and the small helpers every test binary used to copy (admin login, V5/V6 site clients, log
//! capture, waiting for a condition, a silent server).
//!
//! It is a library of its own, not a `tests/support` folder, so that each test binary links it
//! once instead of compiling shared files through `#[path]`, and so that tools (the bench) can
//! build the same worlds. Nothing here assumes it runs under `cargo test` except where named
//! (e.g. [`process::SiteProcess`] takes the binary's path from its caller).

pub mod admin;
pub mod clients;
pub mod db;
pub mod fixtures;
pub mod logs;
pub mod prelude;
pub mod process;
pub mod relay;
pub mod site;
pub mod wait;
pub mod world;

pub use admin::{ADMIN_PASSWORD, admin_client, login_cookie};
pub use db::{TestDb, databases};
pub use process::{CentralProcess, Rss, SiteProcess};
pub use relay::{Entry, Hold, Relay, When};
pub use site::{TestSite, fast};
pub use wait::{eventually, silent_server};
pub use world::{World, WorldBuilder, any_port};

/// A reqwest client builder for tests. reqwest is built with rustls and no crypto provider of
/// its own (we choose `ring`, README "TLS"), so building any client before the provider is
/// installed panics; this installs it first. Use it (or [`http_client`], [`http_get`]) instead
/// of `reqwest::Client::builder()` / `Client::new()` / `reqwest::get`.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    outpost::wire::client::install_crypto_provider();
    reqwest::Client::builder()
}

/// `reqwest::Client::new()`, with the crypto provider installed first.
pub fn http_client() -> reqwest::Client {
    http_client_builder().build().expect("a reqwest client with the ring provider builds")
}

/// `reqwest::get`, with the crypto provider installed first.
pub async fn http_get(url: impl reqwest::IntoUrl) -> reqwest::Result<reqwest::Response> {
    http_client().get(url).send().await
}
