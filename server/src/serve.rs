//! Running an axum router on a TCP address: port 0 support, the `listening on http://ADDR`
//! (or `https://ADDR`) line other tools parse, and graceful shutdown on Ctrl-C / SIGTERM or on
//! request (tests).
//!
//! With a [`Tls`] (`--tls-cert FILE --tls-key FILE`) every connection is a TLS one (rustls,
//! HTTP/1.1 only); the handshake runs in the connection's own task and must finish within the
//! header timeout, so a client that opens a socket and never says hello holds only its slot.
//!
//! Every role is served through here, so the connection hygiene lives here too: a client that
//! sends half a request header (or nothing, or stays idle between requests) is dropped after
//! [`Hygiene::header_read_timeout`]; at most [`Hygiene::max_connections`] connections are served
//! at once (further ones wait in the kernel's backlog); a request body that stops arriving for
//! [`Hygiene::body_read_timeout`] fails its request; and a graceful shutdown waits for open
//! connections at most [`Hygiene::drain_deadline`], so a half-open connection cannot hold it.
//! This is our own accept loop rather than `axum::serve`, which exposes none of these.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
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

/// A server certificate and key, loaded once at start.
#[derive(Clone)]
pub struct Tls {
    acceptor: tokio_rustls::TlsAcceptor,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls")
    }
}

/// Why `--tls-cert` / `--tls-key` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(
        "cannot read the TLS certificate chain {path}: {error} (hint: a PEM file with -----BEGIN CERTIFICATE-----)"
    )]
    Cert { path: String, error: String },
    #[error(
        "cannot read the TLS private key {path}: {error} (hint: a PEM file with an unencrypted PKCS#8, PKCS#1 or SEC1 key)"
    )]
    Key { path: String, error: String },
    #[error("the TLS certificate and key do not go together: {0} (hint: give the key the certificate was made for)")]
    Mismatch(String),
}

impl Tls {
    /// Load a PEM certificate chain (server certificate first) and its private key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Tls, TlsError> {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let cert_path = cert.display().to_string();
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| TlsError::Cert { path: cert_path.clone(), error: e.to_string() })?;
        if chain.is_empty() {
            return Err(TlsError::Cert { path: cert_path, error: "no certificate in the file".into() });
        }
        let key = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| TlsError::Key { path: key.display().to_string(), error: e.to_string() })?;
        Tls::new(chain, key)
    }

    /// From certificates and a key already in memory (tests generate them).
    pub fn new(
        chain: Vec<rustls_pki_types::CertificateDer<'static>>,
        key: rustls_pki_types::PrivateKeyDer<'static>,
    ) -> Result<Tls, TlsError> {
        crate::wire::client::install_crypto_provider();
        let mut config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::Mismatch(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls { acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)) })
    }
}

/// A server started in the background. Dropping it also stops the server (the stop channel
/// closes); [`Running::stop`] additionally waits until it is gone.
pub struct Running {
    pub addr: SocketAddr,
    tls: bool,
    stop: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// `https://ADDR` when serving TLS, else `http://ADDR`.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
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
    start_full(addr, router, hygiene, None).await
}

/// [`start`] over TLS when `tls` is given.
pub async fn start_tls(addr: SocketAddr, router: Router, tls: Option<Tls>) -> anyhow::Result<Running> {
    start_full(addr, router, Hygiene::default(), tls).await
}

/// Everything explicit: limits and, optionally, TLS.
pub async fn start_full(
    addr: SocketAddr,
    router: Router,
    hygiene: Hygiene,
    tls: Option<Tls>,
) -> anyhow::Result<Running> {
    let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let is_tls = tls.is_some();
    let task = tokio::spawn(accept_loop(listener, router, hygiene, tls, stopped));
    Ok(Running { addr, tls: is_tls, stop, task })
}

async fn stop_requested(stopped: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: the `Running` was dropped, which also means stop.
    let _ = stopped.wait_for(|s| *s).await;
}

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    hygiene: Hygiene,
    tls: Option<Tls>,
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
        let watcher = graceful.watcher();
        let http = http.clone();
        let tls = tls.clone();
        connections.spawn(async move {
            // A client that goes away, times out or fails its handshake is routine, not worth
            // a log line.
            match tls {
                None => serve_connection(stream, peer, router, hygiene, http, watcher).await,
                Some(tls) => {
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(hygiene.header_read_timeout, tls.acceptor.accept(stream)).await
                    {
                        serve_connection(stream, peer, router, hygiene, http, watcher).await;
                    }
                }
            }
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

async fn serve_connection(
    stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    peer: SocketAddr,
    router: Router,
    hygiene: Hygiene,
    http: hyper::server::conn::http1::Builder,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let body_timeout = hygiene.body_read_timeout;
        router.clone().oneshot(request.map(|body| axum::body::Body::new(TimeoutBody::new(body_timeout, body))))
    });
    let _ = watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await;
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
