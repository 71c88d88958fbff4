//! Peak memory under hostile bodies. Alone in its own test binary, because it reads the
//! process's peak resident size (`VmHWM`), which any test running alongside would raise; the
//! tests here take turns ([`measured`]) and reset the peak before they measure.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use outpost_testkit::prelude::*;

/// One measurement at a time in this binary.
static MEASURING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How much `work` raised the process's peak resident size above what it was when `work`
/// started (the peak is reset first, so an earlier test's peak cannot hide this one's).
async fn measured<T>(work: impl std::future::Future<Output = T>) -> (T, u64) {
    let _turn = MEASURING.lock().await;
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = peak_rss();
    let value = work.await;
    (value, peak_rss().saturating_sub(before))
}

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
    gzip_padded(prefix, inflated, "}")
}

/// `prefix`, then a JSON array of `inflated` bytes of zeros, then `suffix`, gzipped in chunks.
fn gzip_padded(prefix: &str, inflated: usize, suffix: &str) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(prefix.as_bytes()).unwrap();
    gz.write_all(b"[").unwrap();
    let chunk = "0,".repeat(32 * 1024);
    for _ in 0..inflated / chunk.len() {
        gz.write_all(chunk.as_bytes()).unwrap();
    }
    gz.write_all(b"0]").unwrap();
    gz.write_all(suffix.as_bytes()).unwrap();
    gz.finish().unwrap()
}

/// The same bomb in zstd (the coding our centrals prefer): `prefix`, then `inflated` bytes of
/// `[0,0,…`, then `}`, compressed in chunks.
fn zstd_bomb(prefix: &str, inflated: usize) -> Vec<u8> {
    let mut z = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    z.write_all(prefix.as_bytes()).unwrap();
    z.write_all(b"[").unwrap();
    let chunk = "0,".repeat(32 * 1024);
    for _ in 0..inflated / chunk.len() {
        z.write_all(chunk.as_bytes()).unwrap();
    }
    z.write_all(b"0]}").unwrap();
    z.finish().unwrap()
}

#[tokio::test]
async fn a_small_gzip_bomb_to_any_central_route_is_refused_without_growing_memory() {
    small_bomb_to_every_central_route("gzip", gzip_bomb).await;
}

#[tokio::test]
async fn a_small_zstd_bomb_to_any_central_route_is_refused_without_growing_memory() {
    small_bomb_to_every_central_route("zstd", zstd_bomb).await;
}

async fn small_bomb_to_every_central_route(coding: &str, bomb: fn(&str, usize) -> Vec<u8>) {
    let world = World::start().await;
    world.add_site("bomb-site", "pass", &["store_a"]).await;
    let v5 = V5Site::new(&world.site_v5_url(), "bomb-site", "pass");
    let v6 = V6Site::new(&world.site_v6_url(), v5.clone());
    let settings = v6.settings().to_string();
    let inflated = 256 * 1024 * 1024;
    let v6_bomb = bomb(&format!(r#"{{"syncV6Version":5,"syncV5Settings":{settings},"pad":"#), inflated);
    let v5_bomb = bomb(r#"{"pad":"#, inflated);
    assert!(v6_bomb.len() < 1024 * 1024, "the bomb is small: {} bytes", v6_bomb.len());
    let http = outpost_testkit::http_client();
    // Each body measured on its own: "a small body before authentication costs < 32 MB".
    for route in ["site_status", "pull", "push"] {
        let send = http
            .post(format!("{}/central/sync/{route}", world.site_v6_url()))
            .header("content-type", "application/json")
            .header("content-encoding", coding)
            .body(v6_bomb.clone())
            .send();
        let (response, grown) = measured(async { send.await.unwrap() }).await;
        assert_eq!(response.status(), 413, "V6 {route} ({coding})");
        assert!(grown < 32 * 1024 * 1024, "V6 {route} ({coding}): peak memory grew by {} MB", grown / (1024 * 1024));
    }
    // Authenticated: V5 credentials are headers, checked before the body is read, so this is
    // the worst case. (`initialise` reads no body at all.)
    for route in ["queued_records", "acknowledged_records"] {
        let send = v5
            .request(reqwest::Method::POST, route)
            .header("content-type", "application/json")
            .header("content-encoding", coding)
            .body(v5_bomb.clone())
            .send();
        let (response, grown) = measured(async { send.await.unwrap() }).await;
        assert_eq!(response.status(), 413, "V5 {route} ({coding})");
        assert!(grown < 32 * 1024 * 1024, "V5 {route} ({coding}): peak memory grew by {} MB", grown / (1024 * 1024));
    }
}

/// A push just under the 8 MB limit, laid out as the reference's client sends it (`batch`
/// first), whose one record holds millions of numbers (each a 32-byte value once parsed), with
/// credentials that do not hold: its batch must never be parsed, so memory grows by about the
/// body's own bytes. Parsing the batch before the credentials took over 100 MB here.
#[tokio::test]
async fn an_unauthenticated_push_near_the_limit_is_refused_without_parsing_its_batch() {
    let world = World::start().await;
    world.add_site("push-site", "pass", &["store_a"]).await;
    let stranger = V5Site::new(&world.site_v5_url(), &"n".repeat(300), "pass");
    let settings = V6Site::new(&world.site_v6_url(), stranger).settings().to_string();
    let prefix = r#"{"syncV6Version":5,"batch":{"end_cursor":1,"total_records":1,"is_last_batch":true,"records":[{"cursor":1,"record":{"tableName":"asset","recordId":"a","action":"Upsert","recordData":{"pad":"#;
    let suffix = format!(r#"}}}}}}]}},"syncV5Settings":{settings}}}"#);
    let body = gzip_padded(prefix, outpost::central_v6::MAX_BODY_BYTES - 64 * 1024, &suffix);
    let http = outpost_testkit::http_client();
    let push = http
        .post(format!("{}/central/sync/push", world.site_v6_url()))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(body)
        .send();
    let (response, grown) = measured(async { push.await.unwrap() }).await;
    assert_eq!(response.status(), 200);
    let envelope: serde_json::Value = response.json().await.unwrap();
    assert_eq!(envelope["error"]["otherServerError"], "site name or hardware id too long", "{envelope}");
    assert!(grown < 32 * 1024 * 1024, "peak memory grew by {} MB", grown / (1024 * 1024));
}

/// Unauthenticated pushes whose few KB of gzip inflate to almost 8 MB each, with their last
/// bytes held back so none finishes: together they hold no more than the central's budget for
/// bodies not yet vouched for, and the callers past it are answered 503 at once. Without the
/// budget, 24 such connections (190 KB sent) held 191 MB, and 512 would hold 4 GB.
#[tokio::test]
async fn held_back_gzip_pushes_before_authentication_share_one_memory_budget() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let world = World::start().await;
    let addr = world.v6_url.trim_start_matches("http://").to_owned();
    let body = gzip_padded(r#"{"pad":"#, outpost::central_v6::MAX_BODY_BYTES - 256 * 1024, "}");
    assert!(body.len() < 16 * 1024, "a few KB each: {}", body.len());
    let connections = 24;
    let (refused, grown) = measured(async {
        let mut held = Vec::new();
        for _ in 0..connections {
            let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
            let head = format!(
                "POST /central/sync/push HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).await.unwrap();
            stream.write_all(&body[..body.len() - 16]).await.unwrap();
            held.push(stream);
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let mut refused = 0;
        for stream in &mut held {
            let mut answer = [0u8; 64];
            let read = tokio::time::timeout(std::time::Duration::from_millis(50), stream.read(&mut answer)).await;
            if let Ok(Ok(n)) = read
                && String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 503")
            {
                refused += 1;
            }
        }
        refused
    })
    .await;
    let budget = outpost::central_v6::UNAUTHENTICATED_BODY_BUDGET as u64;
    assert!(grown < budget + 16 * 1024 * 1024, "peak memory grew by {} MB", grown / (1024 * 1024));
    assert!(refused >= connections / 2, "the callers past the budget were answered 503: {refused}");
}

/// A zstd frame may declare a window of up to 128 MiB (libzstd's default ceiling), and every
/// byte decoded into it stays resident until the connection ends: 24 connections, each a few
/// KB of zstd inflating to just under 8 MB with the last bytes held back, pinned about 190 MB,
/// and a caller locked out by the failure limiter had its body read that way too, outside the
/// budget for unauthenticated bodies (512 connections: 4 GB). Now a frame asking for a window
/// over 8 MiB is refused at its header, and a locked-out caller is answered 429 without its
/// body being read: the same 24 connections, half from a locked-out address and half from
/// another, cost a few MB in all, and each gets its answer at once.
#[tokio::test]
async fn zstd_pushes_with_a_window_over_8_mib_are_refused_and_locked_out_ones_are_not_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // The set-up (ten Argon2 verifications, a 128 MiB-window encoder) raises the peak too: not
    // while another test measures.
    let setting_up = MEASURING.lock().await;
    let world = World::start().await;
    // Lock this address out at the V6 central: ten sign-ins with names no site has.
    for i in 0..10 {
        let guess = V6Site::new(&world.v6_url, V5Site::new(&world.v5_url, &format!("nobody{i}"), "x"));
        let (status, body) = guess.call("site_status", serde_json::json!({})).await;
        assert_eq!(status, 200, "{body}");
    }
    let locked = V6Site::new(&world.v6_url, V5Site::new(&world.v5_url, "nobody", "x"));
    assert_eq!(locked.call("site_status", serde_json::json!({})).await.0, 429, "this address is locked out");

    let inflated = outpost::central_v6::MAX_BODY_BYTES - 256 * 1024;
    let mut z = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    z.window_log(27).unwrap();
    z.write_all(br#"{"pad":""#).unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    for _ in 0..inflated / chunk.len() {
        z.write_all(&chunk).unwrap();
    }
    z.write_all(br#""}"#).unwrap();
    let body = z.finish().unwrap();
    assert!(body.len() < 16 * 1024, "a few KB each: {}", body.len());
    drop(setting_up);
    let addr: std::net::SocketAddr = world.v6_url.trim_start_matches("http://").parse().unwrap();
    let connections = 24;
    let (answers, grown) = measured(async {
        let mut held = Vec::new();
        for i in 0..connections {
            // 127.0.0.2 is another caller (Linux answers all of 127.0.0.0/8), not locked out.
            let source = if i % 2 == 0 { "127.0.0.1" } else { "127.0.0.2" };
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
            let mut stream = socket.connect(addr).await.unwrap();
            let head = format!(
                "POST /central/sync/push HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-encoding: zstd\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).await.unwrap();
            // The server may answer (and close) before it has taken the whole body.
            let _ = stream.write_all(&body[..body.len() - 16]).await;
            held.push(stream);
        }
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        let mut answers = Vec::new();
        for stream in &mut held {
            let mut answer = vec![0u8; 4096];
            let read = tokio::time::timeout(std::time::Duration::from_millis(500), stream.read(&mut answer)).await;
            answers.push(match read {
                Ok(Ok(n)) => String::from_utf8_lossy(&answer[..n]).into_owned(),
                _ => String::new(),
            });
        }
        answers
    })
    .await;
    for (i, answer) in answers.iter().enumerate() {
        if i % 2 == 0 {
            assert!(answer.starts_with("HTTP/1.1 429"), "connection {i}, locked out, is answered at once: {answer:?}");
        } else {
            assert!(
                answer.contains("window of at most 8 MiB"),
                "connection {i} is refused at the frame's header: {answer:?}"
            );
        }
    }
    assert!(
        grown < 32 * 1024 * 1024,
        "{connections} large-window zstd bodies raised the peak by {} MB",
        grown / (1024 * 1024)
    );
}
