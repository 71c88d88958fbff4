//! A round-robin TCP load balancer for the central-scale scenario: each new connection goes to
//! the next replica, and its bytes are piped both ways untouched, as an L4 balancer in front of
//! a deployment's replicas does. A site's sync opens its own connections (one per central), so
//! successive syncs land on different replicas while the requests of one sync share one.
//!
//! Not the test kit's relay: that one forwards to one server (its hooks are per target), and
//! its HTTP stage would add the cost of parsing every request to what is measured. This is the
//! bytes-only pipe alone, with a choice of target.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};

/// Listens on a port of its own until dropped.
pub struct Balancer {
    pub url: String,
    accept: tokio::task::JoinHandle<()>,
}

impl Balancer {
    /// Balance over `targets` (replica addresses), starting with the first.
    pub async fn start(targets: Vec<SocketAddr>) -> anyhow::Result<Balancer> {
        anyhow::ensure!(!targets.is_empty(), "a balancer needs at least one replica");
        let listener = TcpListener::bind(outpost_testkit::any_port()).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let next = Arc::new(AtomicUsize::new(0));
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let to = targets[next.fetch_add(1, Ordering::Relaxed) % targets.len()];
                tokio::spawn(pipe(client, to));
            }
        });
        Ok(Balancer { url, accept })
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn pipe(mut client: TcpStream, to: SocketAddr) {
    let Ok(mut upstream) = TcpStream::connect(to).await else { return };
    // No Nagle's delays on small requests and answers, which a balancer must not add.
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}
