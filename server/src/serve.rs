//! Running an axum router on a TCP address: port 0 support, the `listening on http://ADDR`
//! line other tools parse, and graceful shutdown on Ctrl-C / SIGTERM or on request (tests).

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

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
    let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let addr = listener.local_addr()?;
    let (stop, mut stopped) = watch::channel(false);
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
    });
    Ok(Running { addr, stop, task })
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
