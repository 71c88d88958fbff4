//! The site answers only its own names (DESIGN.md, "Trust rules"), against DNS rebinding: a web
//! page on `attacker.example` whose name is re-pointed at this server would otherwise be
//! same-origin with it and could read the open routes and drive the login. The browser still
//! sends `Host: attacker.example`, so refusing unknown names closes that door.
//!
//! Accepted: IP literals (nobody can rebind an address), `localhost`, the host of
//! `--public-url`, and names given with `--allowed-host`. A request without any host (HTTP/1.0
//! without a `Host` header) is refused too: no browser sends one, and accepting it would be a
//! gap with no user behind it.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// The names this site answers to, besides IP literals and `localhost`.
#[derive(Clone, Debug, Default)]
pub struct AllowedHosts {
    names: Arc<HashSet<String>>,
}

impl AllowedHosts {
    /// The host of `public_url` (when it parses) and every name in `extra`.
    pub fn new(public_url: Option<&str>, extra: &[String]) -> AllowedHosts {
        let from_url = public_url.and_then(|u| reqwest::Url::parse(u).ok()).and_then(|u| u.host_str().map(normalise));
        let names = extra.iter().map(|n| normalise(n)).chain(from_url).filter(|n| !n.is_empty()).collect();
        AllowedHosts { names: Arc::new(names) }
    }

    /// Whether a `Host` value (`name`, `name:port`, `[v6]:port`) names this site.
    pub fn allows(&self, host: &str) -> bool {
        let Some(name) = host_name(host) else { return false };
        if name.parse::<IpAddr>().is_ok() || name == "localhost" {
            return true;
        }
        self.names.contains(&name)
    }
}

/// The name part of a `Host` value, lower-cased and without a trailing dot; `None` when malformed.
fn host_name(host: &str) -> Option<String> {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        inside
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if is_port(port) => name,
            Some(_) => return None,
            None => host,
        }
    };
    let name = normalise(name);
    (!name.is_empty()).then_some(name)
}

fn is_port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
}

fn normalise(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Middleware: 421 Misdirected Request, in the API's JSON error shape, for any other host.
pub async fn guard(allowed: AllowedHosts, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()));
    match host {
        Some(host) if allowed.allows(&host) => next.run(request).await,
        _ => ApiError::MisdirectedRequest(
            "This server does not answer to that host name; add it with --allowed-host.".into(),
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ip_literals_localhost_the_public_url_host_and_allowed_names_only() {
        let allowed = AllowedHosts::new(Some("https://Outpost.Clinic.example:8443/"), &["pharmacy.lan".into()]);
        for ok in [
            "127.0.0.1:8000",
            "10.1.2.3",
            "[::1]:8000",
            "[::ffff:127.0.0.1]",
            "localhost",
            "LOCALHOST:8000",
            "outpost.clinic.example",
            "outpost.clinic.example.:8443",
            "pharmacy.lan:8000",
        ] {
            assert!(allowed.allows(ok), "{ok}");
        }
        for refused in [
            "attacker.example:8000",
            "attacker.example",
            "localhost.attacker.example",
            "127.0.0.1.attacker.example",
            "",
            "[::1]x",
            "pharmacy.lan:80x",
        ] {
            assert!(!allowed.allows(refused), "{refused}");
        }
    }
}
