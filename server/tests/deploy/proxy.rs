//! The sync client honours HTTP_PROXY (and so HTTPS_PROXY / NO_PROXY, read the same way): a
//! site whose centrals are named by host names that do not resolve still syncs, because
//! every request goes through the proxy, which alone knows where they are.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use outpost_api::SyncStatus;
use outpost_testkit::{SiteProcess, World, admin_client};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::BIN;

/// A forward HTTP proxy, one request per connection: it reads the request head, connects to
/// 127.0.0.1 on the port of its absolute URI whatever the host name, and relays bytes.
/// Returns its address and the `host:port` of every request it carried.
async fn tiny_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let target = text.split_whitespace().nth(1).unwrap_or_default().to_owned();
                let Some(authority) = target.strip_prefix("http://").and_then(|r| r.split('/').next()) else { return };
                log.lock().unwrap().push(authority.to_owned());
                let port = authority.rsplit(':').next().unwrap_or("80");
                let Ok(mut server) = TcpStream::connect(format!("127.0.0.1:{port}")).await else { return };
                // One request per connection, so a kept-alive connection never carries a
                // request for another host to the wrong place.
                let head = text
                    .lines()
                    .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
                    .collect::<Vec<_>>()
                    .join("\r\n");
                let head = format!("{}\r\nconnection: close\r\n\r\n", head.trim_end());
                if server.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn sync_goes_through_the_proxy_named_by_http_proxy() {
    let world = World::start().await;
    let v5_port = world.v5_url.rsplit(':').next().unwrap().to_owned();
    let v6_port = world.v6_url.rsplit(':').next().unwrap().to_owned();
    // Names only the proxy can reach (`.invalid` never resolves).
    let v5_url = format!("http://v5.outpost.invalid:{v5_port}");
    let v6_url = format!("http://v6.outpost.invalid:{v6_port}");
    world.add_site_with_v6("proxied", "proxied-pw", &["proxied-store"], &v6_url).await;
    let (proxy, seen) = tiny_proxy().await;

    let dir = tempfile::tempdir().unwrap();
    let site =
        SiteProcess::start_with(BIN.as_ref(), dir.path(), &[], &[("HTTP_PROXY", &proxy), ("NO_PROXY", "")]).await;
    let admin = admin_client(&site.url).await;
    let input = json!({"url": v5_url, "siteName": "proxied", "password": "proxied-pw", "intervalSeconds": 3600, "isDisabled": false});
    let r = admin.put(format!("{}/api/settings/sync", site.url)).json(&input).send().await.unwrap();
    assert!(r.status().is_success(), "saving settings: {}", r.text().await.unwrap());
    let plain = outpost_testkit::http_client_builder().no_proxy().build().unwrap();
    let start = Instant::now();
    let status = loop {
        let status: SyncStatus =
            plain.get(format!("{}/api/sync/status", site.url)).send().await.unwrap().json().await.unwrap();
        if !status.is_syncing && (status.error.is_some() || status.last_successful_sync.is_some()) {
            break status;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{status:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.error.is_none(), "{:#?}", status.error);
    let seen = seen.lock().unwrap().clone();
    assert!(seen.iter().any(|h| h.starts_with("v5.outpost.invalid")), "{seen:?}");
    assert!(seen.iter().any(|h| h.starts_with("v6.outpost.invalid")), "{seen:?}");
}
