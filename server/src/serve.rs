//! Running an axum router on a TCP address: port 0 support, the `listening on http://ADDR`
//! line other tools parse, and graceful shutdown on Ctrl-C / SIGTERM or on request (tests).
//!
//! Every role is served through here, so the connection hygiene lives here too: a client that
//! sends half a request header (or nothing, or stays idle between requests) is dropped after
//! [`Hygiene::header_read_timeout`]; at most [`Hygiene::max_connections`] connections are served
//! at once (further ones wait in the kernel's backlog); a request body that stops arriving for
//! [`Hygiene::body_read_timeout`] fails its request; and a graceful shutdown waits for open
//! connections at most [`Hygiene::drain_deadline`], so a half-open connection cannot hold it.
//! This is our own accept loop rather than `axum::serve`, which exposes none of these.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

/// Connection limits every server runs with; tests shorten them.
#[derive(Debug, Clone, Copy)]
pub struct Hygiene {
    /// How long a connection may take to send a complete request header. Hyper starts this
    /// clock whenever it waits for a request head, so it is also the idle keep-alive timeout.
    pub header_read_timeout: Duration,
    /// Longest silence while a request body is being read (the handler then gets an error).
    pub body_read_timeout: Duration,
    /// Connections served at once; the accept loop waits for a free slot beyond this.
    pub max_connections: usize,
    /// How long a graceful shutdown waits for open connections before dropping them.
    pub drain_deadline: Duration,
}

impl Default for Hygiene {
    fn default() -> Self {
        Hygiene {
            header_read_timeout: Duration::from_secs(20),
            body_read_timeout: Duration::from_secs(60),
            max_connections: 512,
            drain_deadline: Duration::from_secs(10),
        }
    }
}

/// A server started in the background. Dropping it also stops the server (the stop channel
/// closes); [`Running::stop`] additionally waits until it is gone.
pub struct Running {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop accepting, finish in-flight requests, and wait until the server is gone.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Wait until the server ends (after a signal or `stop`).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("server task panicked")?.context("server failed")
    }

    /// A handle that asks the server to stop, usable while `wait` runs.
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

/// Bind `addr` (port 0 picks a free port) and serve `router` in the background.
pub async fn start(addr: SocketAddr, router: Router) -> anyhow::Result<Running> {
    start_with(addr, router, Hygiene::default()).await
}

/// [`start`] with explicit connection limits.
pub async fn start_with(addr: SocketAddr, router: Router, hygiene: Hygiene) -> anyhow::Result<Running> {
    let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, router, hygiene, stopped));
    Ok(Running { addr, stop, task })
}

async fn stop_requested(stopped: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: the `Running` was dropped, which also means stop.
    let _ = stopped.wait_for(|s| *s).await;
}

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    hygiene: Hygiene,
    mut stopped: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(hygiene.max_connections.max(1)));
    let mut connections = JoinSet::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(hygiene.header_read_timeout);
    loop {
        while connections.try_join_next().is_some() {}
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            _ = stop_requested(&mut stopped) => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop_requested(&mut stopped) => break,
        };
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let body_timeout = hygiene.body_read_timeout;
            router.clone().oneshot(request.map(|body| axum::body::Body::new(TimeoutBody::new(body_timeout, body))))
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        connections.spawn(async move {
            // A client that goes away or times out is routine, not worth a log line.
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(hygiene.drain_deadline, graceful.shutdown()).await.is_err() {
        tracing::info!("drain deadline passed, dropping {} open connection(s)", connections.len());
    }
    connections.shutdown().await;
    Ok(())
}

/// Ctrl-C and SIGTERM, listened for from the moment this is made: install it before printing
/// `listening on`, or a signal sent right after that line would kill the process instead of
/// stopping it gracefully.
pub struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn install() -> anyhow::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals { interrupt: signal(SignalKind::interrupt())?, terminate: signal(SignalKind::terminate())? })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// Resolves when either signal arrives.
    pub async fn recv(mut self) {
        #[cfg(unix)]
        tokio::select! { _ = self.interrupt.recv() => {}, _ = self.terminate.recv() => {} }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested, finishing in-flight requests");
    }
}

/// Print the line other tools wait for. `role` is appended for the demo, which runs three.
pub fn announce(running: &Running, role: Option<&str>) {
    match role {
        Some(role) => println!("listening on {} ({role})", running.url()),
        None => println!("listening on {}", running.url()),
    }
}

/// Stop every server when a signal arrives; resolves once they have all stopped.
pub async fn run_until_signal(signals: Signals, servers: Vec<Running>) -> anyhow::Result<()> {
    let stoppers: Vec<_> = servers.iter().map(Running::stopper).collect();
    tokio::spawn(async move {
        signals.recv().await;
        for s in stoppers {
            let _ = s.send(true);
        }
    });
    for s in servers {
        s.wait().await?;
    }
    Ok(())
}
