//! A hostile central against the site's sync client: a gzip or zstd bomb is refused at the size cap
//! (counted after decompression), and an answer trickled forever ends at the call's deadline.
//! Also a central that is merely mixed (a rolling upgrade): a coding refused with 415 is
//! replaced by the next weaker one.

use std::io::Write;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use flate2::Compression;
use flate2::write::GzEncoder;
use outpost::serve;
use outpost::wire::client::{Failure, HttpClient, Timeouts};
use outpost_testkit::prelude::*;
use reqwest::Method;

/// ~64 KB of gzip that inflates to 64 MB of JSON-ish text.
fn gzip_bomb() -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(b"{\"records\":[").unwrap();
    let chunk = "0,".repeat(32 * 1024);
    for _ in 0..1024 {
        gz.write_all(chunk.as_bytes()).unwrap();
    }
    gz.write_all(b"0]}").unwrap();
    gz.finish().unwrap()
}

/// The same in zstd, the coding the site asks for first.
fn zstd_bomb() -> Vec<u8> {
    let mut z = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    z.write_all(b"{\"records\":[").unwrap();
    let chunk = "0,".repeat(32 * 1024);
    for _ in 0..1024 {
        z.write_all(chunk.as_bytes()).unwrap();
    }
    z.write_all(b"0]}").unwrap();
    z.finish().unwrap()
}

fn client() -> HttpClient {
    let timeouts = Timeouts { connect: vec![Duration::from_secs(1)], idle_read: Duration::from_secs(10) };
    HttpClient::new(&timeouts, None).with_caps(4 * 1024 * 1024, Duration::from_secs(2))
}

#[tokio::test]
async fn a_gzip_bomb_from_a_central_is_refused_at_the_size_cap() {
    let bomb = gzip_bomb();
    assert!(bomb.len() < 1024 * 1024);
    let central = Router::new().route(
        "/bomb",
        get(move || {
            let bomb = bomb.clone();
            async move { ([("content-type", "application/json"), ("content-encoding", "gzip")], bomb) }
        }),
    );
    let running = serve::start(any_port(), central).await.unwrap();
    let reply = client().send::<()>(Method::GET, &format!("{}/bomb", running.url()), |r| r, None).await;
    assert!(matches!(reply, Err(Failure::TooLarge(_))), "{:?}", reply.err());
    running.stop().await;
}

#[tokio::test]
async fn a_zstd_bomb_from_a_central_is_refused_at_the_size_cap() {
    let bomb = zstd_bomb();
    assert!(bomb.len() < 1024 * 1024);
    let central = Router::new().route(
        "/bomb",
        get(move || {
            let bomb = bomb.clone();
            async move { ([("content-type", "application/json"), ("content-encoding", "zstd")], bomb) }
        }),
    );
    let running = serve::start(any_port(), central).await.unwrap();
    let reply = client().send::<()>(Method::GET, &format!("{}/bomb", running.url()), |r| r, None).await;
    assert!(matches!(reply, Err(Failure::TooLarge(_))), "{:?}", reply.err());
    running.stop().await;
}

/// A central shedding load answers 503 with `Retry-After`: the client waits and asks again
/// (the site's run goes on), and a central that stays busy ends as a timeout, never a silent
/// success or an unknown error.
#[tokio::test]
async fn a_busy_central_that_says_when_to_come_back_is_asked_again() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let busy_for = Arc::new(AtomicUsize::new(1));
    let calls = Arc::new(AtomicUsize::new(0));
    let (b, c) = (busy_for.clone(), calls.clone());
    let central = Router::new().route(
        "/busy",
        get(move || {
            let (b, c) = (b.clone(), c.clone());
            async move {
                let n = c.fetch_add(1, Ordering::SeqCst);
                if n < b.load(Ordering::SeqCst) {
                    (axum::http::StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "1")], "{}")
                } else {
                    (axum::http::StatusCode::OK, [("retry-after", "0")], "{\"ok\":true}")
                }
            }
        }),
    );
    let running = serve::start(any_port(), central).await.unwrap();
    let url = format!("{}/busy", running.url());
    let timeouts = Timeouts { connect: vec![Duration::from_secs(1); 2], idle_read: Duration::from_secs(10) };
    let client = HttpClient::new(&timeouts, None);
    let reply = client.send::<()>(Method::GET, &url, |r| r, None).await.unwrap();
    assert_eq!(reply.status, 200, "asked again after the wait");
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    busy_for.store(usize::MAX, Ordering::SeqCst);
    let still = client.send::<()>(Method::GET, &url, |r| r, None).await;
    assert!(matches!(still, Err(Failure::Timeout(_))), "{:?}", still.err());
    running.stop().await;
}

#[tokio::test]
async fn an_answer_trickled_forever_ends_at_the_call_deadline() {
    let central = Router::new().route(
        "/trickle",
        get(|| async {
            let drip = futures_util::stream::unfold((), |()| async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from_static(b" ")), ()))
            });
            ([("content-type", "application/json")], Body::from_stream(drip))
        }),
    );
    let running = serve::start(any_port(), central).await.unwrap();
    let started = Instant::now();
    let reply = client().send::<()>(Method::GET, &format!("{}/trickle", running.url()), |r| r, None).await;
    assert!(matches!(reply, Err(Failure::Timeout(_))), "{:?}", reply.err());
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    running.stop().await;
}

/// The site learns from each answer which codings the central decodes. Behind a load balancer
/// during a rolling upgrade, that answer may come from a new replica (`gzip, zstd`) and the next
/// request go to an old one, which knows gzip only and answers 415: the same call is then sent
/// again in gzip, and succeeds, rather than failing the site's run.
#[tokio::test]
async fn a_zstd_body_refused_with_415_by_an_older_replica_is_sent_again_in_gzip() {
    use axum::http::{HeaderMap, StatusCode};
    use outpost::wire::HEADER_ACCEPTS_COMPRESSED_REQUESTS;
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    let balancer = Router::new().route(
        "/call",
        axum::routing::post(move |headers: HeaderMap, body: bytes::Bytes| {
            let log = log.clone();
            async move {
                let coding = headers.get("content-encoding").map_or("", |v| v.to_str().unwrap()).to_owned();
                let first = {
                    let mut seen = log.lock().unwrap();
                    seen.push(coding.clone());
                    seen.len() == 1
                };
                let json = match coding.as_str() {
                    // The new replica answers the first call, and says it decodes zstd.
                    _ if first => {
                        return (StatusCode::OK, [(HEADER_ACCEPTS_COMPRESSED_REQUESTS, "gzip, zstd")], String::new());
                    }
                    // The old replica answers every later one: gzip only.
                    "zstd" => {
                        return (
                            StatusCode::UNSUPPORTED_MEDIA_TYPE,
                            [(HEADER_ACCEPTS_COMPRESSED_REQUESTS, "gzip")],
                            String::new(),
                        );
                    }
                    "gzip" => {
                        let mut text = String::new();
                        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut text).unwrap();
                        text
                    }
                    _ => String::from_utf8(body.to_vec()).unwrap(),
                };
                (StatusCode::OK, [(HEADER_ACCEPTS_COMPRESSED_REQUESTS, "gzip")], json)
            }
        }),
    );
    let running = serve::start(any_port(), balancer).await.unwrap();
    let url = format!("{}/call", running.url());
    let client = client();
    let body = serde_json::json!({"records": ["a", "b"]});
    let first = client.send(Method::POST, &url, |r| r, Some(&body)).await.unwrap();
    assert_eq!(first.status, 200);
    let reply = client.send(Method::POST, &url, |r| r, Some(&body)).await.unwrap();
    assert_eq!(reply.status, 200, "the call succeeds in gzip: {}", reply.text());
    assert_eq!(reply.json::<serde_json::Value>().unwrap(), body, "the old replica read the whole body");
    assert_eq!(*seen.lock().unwrap(), ["", "zstd", "gzip"], "plain, then zstd refused, then gzip");
    running.stop().await;
}
