//! Slow and silent clients: connections that send half a request header are closed after the
//! header timeout while others are served, and a graceful shutdown does not wait for them.

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use outpost::serve::{self, Hygiene};
use outpost_testkit::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn hygiene() -> Hygiene {
    Hygiene {
        header_read_timeout: Duration::from_secs(2),
        body_read_timeout: Duration::from_secs(2),
        max_connections: 64,
        drain_deadline: Duration::from_secs(1),
    }
}

async fn half_open(url: &std::net::SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut all = Vec::new();
    for _ in 0..n {
        let mut s = TcpStream::connect(url).await.unwrap();
        s.write_all(b"GET /hello HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").await.unwrap();
        all.push(s);
    }
    all
}

#[tokio::test]
async fn half_sent_headers_are_closed_after_the_timeout_while_others_are_served() {
    let router = Router::new().route("/hello", get(|| async { "hi" }));
    let running = serve::start_with(any_port(), router, hygiene()).await.unwrap();
    let started = Instant::now();
    let mut slow = half_open(&running.addr, 20).await;
    let ok = outpost_testkit::http_get(format!("{}/hello", running.url())).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "hi");
    for s in &mut slow {
        let mut buf = [0u8; 1024];
        // The server closes (EOF, or an error if it answered and reset): anything but hanging.
        let read = tokio::time::timeout(Duration::from_secs(30), s.read(&mut buf)).await;
        assert!(read.is_ok(), "a half-open connection was still open after 30 s");
    }
    assert!(started.elapsed() < Duration::from_secs(30));
    running.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_completes_while_half_open_connections_are_held() {
    let router = Router::new().route("/hello", get(|| async { "hi" }));
    let long = Hygiene { header_read_timeout: Duration::from_secs(3600), ..hygiene() };
    let running = serve::start_with(any_port(), router, long).await.unwrap();
    let _slow = half_open(&running.addr, 20).await;
    // Let the server accept them all before asking it to stop.
    assert_eq!(outpost_testkit::http_get(format!("{}/hello", running.url())).await.unwrap().status(), 200);
    let stopped = tokio::time::timeout(Duration::from_secs(10), running.stop()).await;
    assert!(stopped.is_ok(), "shutdown waited for half-open connections");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let router = Router::new().route("/hello", get(|| async { "hi" }));
    let capped = Hygiene { max_connections: 2, ..hygiene() };
    let running = serve::start_with(any_port(), router, capped).await.unwrap();
    let _slow = half_open(&running.addr, 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let ok = outpost_testkit::http_get(format!("{}/hello", running.url())).await.unwrap();
    assert_eq!(ok.status(), 200);
    // Served only once the header timeout freed a slot.
    assert!(started.elapsed() >= Duration::from_millis(1500), "served after {:?}", started.elapsed());
    running.stop().await;
}

#[tokio::test]
async fn a_body_that_stops_arriving_fails_its_request_after_the_timeout() {
    let router = Router::new().route("/echo", axum::routing::post(|body: String| async move { body }));
    let running = serve::start_with(any_port(), router, hygiene()).await.unwrap();
    let mut s = TcpStream::connect(running.addr).await.unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nonly ten b").await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the stalled upload was still open after 30 s");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.is_empty() || !answer.starts_with("HTTP/1.1 200"), "{answer}");
    running.stop().await;
}
