//! Peak memory under hostile bodies. Alone in its own test binary, because it reads the
//! process's peak resident size (`VmHWM`), which any test running alongside would raise.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use outpost_testkit::prelude::*;

/// The process's peak resident set size so far, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// A gzip body of a few hundred KB that inflates to `prefix` and then `inflated` bytes of
/// `[0,0,…` (JSON that would become a huge `serde_json::Value` if it were ever parsed whole).
/// Built in chunks, so making it does not raise the peak itself.
fn gzip_bomb(prefix: &str, inflated: usize) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(prefix.as_bytes()).unwrap();
    gz.write_all(b"[").unwrap();
    let chunk = "0,".repeat(32 * 1024);
    for _ in 0..inflated / chunk.len() {
        gz.write_all(chunk.as_bytes()).unwrap();
    }
    gz.write_all(b"0]}").unwrap();
    gz.finish().unwrap()
}

#[tokio::test]
async fn a_small_gzip_bomb_to_any_central_route_is_refused_without_growing_memory() {
    let world = World::start().await;
    world.add_site("bomb-site", "pass", &["store_a"]).await;
    let v5 = V5Site::new(&world.site_v5_url(), "bomb-site", "pass");
    let v6 = V6Site::new(&world.site_v6_url(), v5.clone());
    let settings = v6.settings().to_string();
    let inflated = 256 * 1024 * 1024;
    let v6_bomb = gzip_bomb(&format!(r#"{{"syncV6Version":5,"syncV5Settings":{settings},"pad":"#), inflated);
    let v5_bomb = gzip_bomb(r#"{"pad":"#, inflated);
    assert!(v6_bomb.len() < 1024 * 1024, "the bomb is small: {} bytes", v6_bomb.len());
    let http = outpost_testkit::http_client();
    let before = peak_rss();
    for route in ["site_status", "pull", "push"] {
        let response = http
            .post(format!("{}/central/sync/{route}", world.site_v6_url()))
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(v6_bomb.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413, "V6 {route}");
    }
    // Authenticated: V5 credentials are headers, checked before the body is read, so this is
    // the worst case. (`initialise` reads no body at all.)
    for route in ["queued_records", "acknowledged_records"] {
        let response = v5
            .request(reqwest::Method::POST, route)
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(v5_bomb.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413, "V5 {route}");
    }
    let grown = peak_rss().saturating_sub(before);
    assert!(grown < 32 * 1024 * 1024, "peak memory grew by {} MB", grown / (1024 * 1024));
}
