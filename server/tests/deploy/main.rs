//! Issue 13, "ready for a district server room", as an operator would check it with only the
//! binary: HTTPS under a private CA, and the certificate error a site shows when it does not
//! trust its central's authority.

mod app;
mod backup;
mod config;
mod proxy;
mod support;
mod tls;
