//! The relay's byte stage: seeded faults on the raw TCP stream. For every HTTP request it sees
//! (a site never pipelines: a request starts when the client speaks after the server did) it
//! draws a fault from a seeded [`Schedule`]: drop the request, drop the response after the
//! central committed, cut the request or the response half way, delay it, or deliver it twice.
//! Faults on the bytes, not on parsed requests, so a client meets what a bad link does to it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::WireBytes;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    Pass,
    DropRequest,
    DropResponse,
    CutRequest,
    CutResponse,
    Delay(u64),
    Duplicate,
}

/// The seeded source of faults, shareable by several relays, and what it injected.
#[derive(Clone)]
pub struct Schedule {
    rng: Arc<Mutex<StdRng>>,
    /// Chance that a request is faulted at all (0 after a fault phase, for quiescence).
    rate: Arc<Mutex<f64>>,
    pub injected: Arc<Mutex<Vec<Fault>>>,
}

impl Schedule {
    pub fn new(seed: u64, rate: f64) -> Self {
        Schedule {
            rng: Arc::new(Mutex::new(StdRng::seed_from_u64(seed))),
            rate: Arc::new(Mutex::new(rate)),
            injected: Arc::default(),
        }
    }

    pub fn set_rate(&self, rate: f64) {
        *self.rate.lock().unwrap() = rate;
    }

    fn draw(&self) -> Fault {
        let rate = *self.rate.lock().unwrap();
        let mut rng = self.rng.lock().unwrap();
        if !rng.random_bool(rate.clamp(0.0, 1.0)) {
            return Fault::Pass;
        }
        let fault = match rng.random_range(0..6) {
            0 => Fault::DropRequest,
            1 => Fault::DropResponse,
            2 => Fault::CutRequest,
            3 => Fault::CutResponse,
            4 => Fault::Delay(rng.random_range(10..150)),
            _ => Fault::Duplicate,
        };
        drop(rng);
        self.injected.lock().unwrap().push(fault);
        fault
    }
}

/// Pipe one client connection to `to`, faulting requests as `schedule` (if any) draws and
/// counting the bytes each side was sent.
pub(super) async fn pipe(mut client: TcpStream, to: SocketAddr, schedule: Option<Schedule>, bytes: Arc<WireBytes>) {
    let Ok(mut upstream) = TcpStream::connect(to).await else { return };
    // A relay must not add Nagle's delays to small requests and answers.
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (mut cbuf, mut ubuf) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    // Whether the server has spoken since the client last did: then the client's next bytes
    // start a new request, which gets a fault of its own.
    let mut responding = true;
    let mut fault = Fault::Pass;
    let mut request = Vec::new();
    let mut duplicated = false;
    loop {
        tokio::select! {
            read = client.read(&mut cbuf) => {
                let n = match read { Ok(0) | Err(_) => return, Ok(n) => n };
                if responding {
                    responding = false;
                    fault = schedule.as_ref().map_or(Fault::Pass, Schedule::draw);
                    request.clear();
                    duplicated = false;
                    if let Fault::Delay(ms) = fault {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                    }
                }
                match fault {
                    Fault::DropRequest => return,
                    Fault::CutRequest => {
                        if upstream.write_all(&cbuf[..n / 2]).await.is_ok() { bytes.add(n / 2, 0); }
                        return;
                    }
                    _ => {
                        if fault == Fault::Duplicate {
                            request.extend_from_slice(&cbuf[..n]);
                        }
                        if upstream.write_all(&cbuf[..n]).await.is_err() { return; }
                        bytes.add(n, 0);
                    }
                }
            }
            read = upstream.read(&mut ubuf) => {
                let n = match read { Ok(0) | Err(_) => return, Ok(n) => n };
                responding = true;
                match fault {
                    // The central answered, so it has done (and committed) the work.
                    Fault::DropResponse => return,
                    Fault::CutResponse => {
                        if client.write_all(&ubuf[..n / 2]).await.is_ok() { bytes.add(0, n / 2); }
                        return;
                    }
                    Fault::Duplicate if !duplicated => {
                        duplicated = true;
                        let copy = request.clone();
                        tokio::spawn(async move {
                            if let Ok(mut second) = TcpStream::connect(to).await {
                                let _ = second.write_all(&copy).await;
                                let mut sink = vec![0u8; 16 * 1024];
                                let _ = tokio::time::timeout(Duration::from_secs(5), async {
                                    while matches!(second.read(&mut sink).await, Ok(n) if n > 0) {}
                                }).await;
                            }
                        });
                    }
                    _ => {}
                }
                if client.write_all(&ubuf[..n]).await.is_err() { return; }
                bytes.add(0, n);
            }
        }
    }
}
