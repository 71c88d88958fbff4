//! A simulated slow link, for the demo's `--link-delay-ms` only: a TCP relay that holds every chunk the client sends
//! for a fixed delay before passing it on, so each request takes at least that long, the way
//! it does over a cellular line. It lets a person (or a browser test) watch the stepper walk
//! through a run that would otherwise finish between two polls.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A running relay; dropping it stops accepting (open connections finish on their own).
pub struct Relay {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Relay {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Relay connections on a free loopback port to `target`, delaying client→server data.
pub async fn start(target: SocketAddr, delay: Duration) -> anyhow::Result<Relay> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(server) = TcpStream::connect(target).await {
                    relay(client, server, delay).await;
                }
            });
        }
    });
    Ok(Relay { addr, task })
}

async fn relay(client: TcpStream, server: TcpStream, delay: Duration) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    tokio::time::sleep(delay).await;
                    if server_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = server_write.shutdown().await;
    };
    let downstream = async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn every_request_through_the_relay_takes_at_least_the_delay() {
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = echo.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = echo.accept().await.unwrap();
            let mut buf = [0u8; 16];
            loop {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                s.write_all(&buf[..n]).await.unwrap();
            }
        });
        let relay = start(target, Duration::from_millis(120)).await.unwrap();
        let mut conn = TcpStream::connect(relay.addr).await.unwrap();
        for _ in 0..2 {
            let started = Instant::now();
            conn.write_all(b"ping").await.unwrap();
            let mut got = [0u8; 4];
            conn.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"ping");
            assert!(started.elapsed() >= Duration::from_millis(120));
        }
    }
}
