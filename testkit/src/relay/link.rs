//! A slow line in the relay's front: a bandwidth shared by every connection of the relay (per
//! direction, as on one cellular modem), half the round-trip time added to every byte each way,
//! and a bounded buffer at the bottleneck, so a server writing faster than the line waits as it
//! would on a real one. Also measures what the bench reports about such a line: the longest
//! request as the client saw it (first byte sent to last byte of the answer delivered).
//!
//! Pacing is a virtual clock per direction: a chunk of `n` bytes starts when the line is free
//! and holds it for `n × 8 / rate` seconds, then arrives half a round trip later.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::WireBytes;

/// Chunks in flight per direction of a connection: the bottleneck's buffer (16 KB each).
const BUFFERED_CHUNKS: usize = 16;
const CHUNK: usize = 16 * 1024;

/// A line's shape, and what was measured on it.
#[derive(Debug)]
pub struct Link {
    /// Bits per second, each way.
    pub rate_bits_per_s: u64,
    pub round_trip: Duration,
    /// When each direction is next free: [up, down].
    free: [Mutex<Instant>; 2],
    /// Longest request seen so far, in microseconds.
    longest_us: AtomicU64,
}

impl Link {
    pub fn new(rate_bits_per_s: u64, round_trip: Duration) -> Arc<Link> {
        let now = Instant::now();
        Arc::new(Link {
            rate_bits_per_s: rate_bits_per_s.max(1),
            round_trip,
            free: [Mutex::new(now), Mutex::new(now)],
            longest_us: AtomicU64::new(0),
        })
    }

    /// The longest request so far, from its first byte leaving the client to the last byte of
    /// its answer reaching it.
    pub fn longest_request(&self) -> Duration {
        Duration::from_micros(self.longest_us.load(Ordering::Relaxed))
    }

    /// When a chunk of `n` bytes sent now in direction `dir` (0 up, 1 down) arrives.
    fn schedule(&self, dir: usize, n: usize) -> Instant {
        let mut free = self.free[dir].lock().unwrap();
        let start = (*free).max(Instant::now());
        *free = start + Duration::from_secs_f64(n as f64 * 8.0 / self.rate_bits_per_s as f64);
        *free + self.round_trip / 2
    }

    fn record(&self, took: Duration) {
        self.longest_us.fetch_max(took.as_micros() as u64, Ordering::Relaxed);
    }
}

/// What a connection's two directions share to time its requests.
#[derive(Default)]
struct Exchange {
    /// When the request under way started (its first byte left the client).
    started: Option<Instant>,
    /// When the last answer byte reached the client.
    answered: Option<Instant>,
}

/// Pipe one client connection to `to` through `link`, counting bytes as the client sent and
/// received them.
pub(super) async fn pipe(client: TcpStream, to: SocketAddr, link: Arc<Link>, bytes: Arc<WireBytes>) {
    let Ok(upstream) = TcpStream::connect(to).await else { return };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = upstream.into_split();
    let exchange = Arc::new(Mutex::new(Exchange::default()));
    tokio::join!(
        carry(client_read, server_write, 0, link.clone(), bytes.clone(), exchange.clone()),
        carry(server_read, client_write, 1, link.clone(), bytes, exchange.clone()),
    );
    let e = exchange.lock().unwrap();
    if let (Some(s), Some(a)) = (e.started, e.answered) {
        link.record(a.saturating_duration_since(s));
    }
}

/// One direction: read, schedule on the line, deliver on time.
async fn carry(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    dir: usize,
    link: Arc<Link>,
    bytes: Arc<WireBytes>,
    exchange: Arc<Mutex<Exchange>>,
) {
    let (tx, mut rx) = mpsc::channel::<(Vec<u8>, Instant)>(BUFFERED_CHUNKS);
    let reader = {
        let (link, exchange) = (link.clone(), exchange.clone());
        async move {
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = match from.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if dir == 0 {
                    // A client speaking after an answer starts a new request.
                    let mut e = exchange.lock().unwrap();
                    if e.started.is_none() || e.answered.is_some() {
                        if let (Some(s), Some(a)) = (e.started, e.answered) {
                            link.record(a.saturating_duration_since(s));
                        }
                        e.started = Some(Instant::now());
                        e.answered = None;
                    }
                }
                let at = link.schedule(dir, n);
                if tx.send((buf[..n].to_vec(), at)).await.is_err() {
                    break;
                }
            }
        }
    };
    let writer = async move {
        while let Some((chunk, at)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
            if dir == 0 {
                bytes.add(chunk.len(), 0);
            } else {
                bytes.add(0, chunk.len());
                exchange.lock().unwrap().answered = Some(Instant::now());
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
