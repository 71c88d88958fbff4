//! Running an axum router on a TCP address: port 0 support, the `listening on http://ADDR`
//! line other tools parse, and graceful shutdown on Ctrl-C / SIGTERM or on request (tests).

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A server started in the background. Dropping it does not stop it; call [`Running::stop`].
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

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown requested, finishing in-flight requests");
}

/// Print the line other tools wait for. `role` is appended for the demo, which runs three.
pub fn announce(running: &Running, role: Option<&str>) {
    match role {
        Some(role) => println!("listening on {} ({role})", running.url()),
        None => println!("listening on {}", running.url()),
    }
}

/// Stop every server when a signal arrives; resolves once they have all stopped.
pub async fn run_until_signal(servers: Vec<Running>) -> anyhow::Result<()> {
    let stoppers: Vec<_> = servers.iter().map(Running::stopper).collect();
    tokio::spawn(async move {
        shutdown_signal().await;
        for s in stoppers {
            let _ = s.send(true);
        }
    });
    for s in servers {
        s.wait().await?;
    }
    Ok(())
}
