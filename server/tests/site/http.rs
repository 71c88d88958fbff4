//! The site server as a browser and other tools meet it: started for real on port 0 against a
//! temporary database, spoken to over HTTP.

use outpost::site::{self, SiteConfig};
use outpost_api::{ApiErrorBody, Health, ServerInfo};

struct Site {
    running: outpost::serve::Running,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

/// A site with a tiny fake app build (an index.html and a wasm file) in its app folder.
async fn start_site(public_url: Option<&str>) -> Site {
    start_site_answering(public_url, &[]).await
}

/// Like [`start_site`], also answering to the `allowed_hosts` names.
async fn start_site_answering(public_url: Option<&str>, allowed_hosts: &[&str]) -> Site {
    let data = tempfile::tempdir().unwrap();
    let app = tempfile::tempdir().unwrap();
    std::fs::write(app.path().join("index.html"), "<!doctype html><title>Outpost</title><body>app shell</body>")
        .unwrap();
    std::fs::create_dir_all(app.path().join("pkg")).unwrap();
    std::fs::write(app.path().join("pkg/app_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let running = site::start(SiteConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.path().to_path_buf(),
        public_url: public_url.map(str::to_owned),
        allowed_hosts: allowed_hosts.iter().map(|h| h.to_string()).collect(),
        app_dir: Some(app.path().to_path_buf()),
        admin_password: Some("site-http-admin".into()),
        sync_badge_threshold: 1,
    })
    .await
    .unwrap();
    Site { running, _dirs: (data, app) }
}

#[tokio::test]
async fn health_reports_ok_once_the_database_is_migrated() {
    let site = start_site(None).await;
    let health: Health =
        outpost_testkit::http_get(format!("{}/api/health", site.running.url())).await.unwrap().json().await.unwrap();
    assert_eq!(health.status, "ok");
    assert_eq!(health.role, "site");
    site.running.stop().await;
}

#[tokio::test]
async fn server_info_uses_the_request_host_and_carries_a_qr_code() {
    let site = start_site(None).await;
    let info: ServerInfo = outpost_testkit::http_get(format!("{}/api/server-info", site.running.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info.url, site.running.url());
    assert!(info.qr_svg.starts_with("<?xml") || info.qr_svg.starts_with("<svg"), "{}", &info.qr_svg[..40]);
    site.running.stop().await;
}

#[tokio::test]
async fn server_info_prefers_the_configured_public_url() {
    let site = start_site(Some("http://clinic.example:8000")).await;
    let info: ServerInfo = outpost_testkit::http_get(format!("{}/api/server-info", site.running.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info.url, "http://clinic.example:8000");
    site.running.stop().await;
}

#[tokio::test]
async fn root_and_unknown_client_routes_serve_the_app() {
    let site = start_site(None).await;
    for path in ["/", "/sync", "/admin/sync", "/some/deep/client/route"] {
        let response = outpost_testkit::http_get(format!("{}{path}", site.running.url())).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{path}");
        assert!(response.text().await.unwrap().contains("app shell"), "{path}");
    }
    site.running.stop().await;
}

#[tokio::test]
async fn wasm_is_served_as_application_wasm() {
    let site = start_site(None).await;
    let response = outpost_testkit::http_get(format!("{}/pkg/app_bg.wasm", site.running.url())).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/wasm");
    site.running.stop().await;
}

#[tokio::test]
async fn unknown_api_routes_get_a_json_404_not_the_app() {
    let site = start_site(None).await;
    let response = outpost_testkit::http_get(format!("{}/api/no-such-thing", site.running.url())).await.unwrap();
    assert_eq!(response.status(), 404);
    let body: ApiErrorBody = response.json().await.unwrap();
    assert_eq!(body.error.variant, "NOT_FOUND");
    site.running.stop().await;
}

/// GET `path` with an explicit `Host` header, as a browser on a rebound domain would send it.
async fn get_with_host(site: &Site, path: &str, host: &str) -> reqwest::Response {
    outpost_testkit::http_client()
        .get(format!("{}{path}", site.running.url()))
        .header("host", host)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_foreign_host_name_gets_421_in_the_json_error_shape_and_no_store_data() {
    let site = start_site(None).await;
    for path in ["/api/store-data", "/api/sync/status", "/api/health", "/", "/pkg/app_bg.wasm"] {
        let response = get_with_host(&site, path, "attacker.example:8000").await;
        assert_eq!(response.status(), 421, "{path}");
        let body: ApiErrorBody = response.json().await.unwrap();
        assert_eq!(body.error.variant, "MISDIRECTED_REQUEST", "{path}");
    }
    let login = outpost_testkit::http_client()
        .post(format!("{}/api/session", site.running.url()))
        .header("host", "attacker.example")
        .header("origin", "http://attacker.example")
        .json(&serde_json::json!({"password": "site-http-admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 421, "the login cannot be driven from a rebound page");
    site.running.stop().await;
}

#[tokio::test]
async fn ip_literals_localhost_the_public_url_host_and_allowed_hosts_are_answered() {
    let site = start_site_answering(Some("https://clinic.example/"), &["pharmacy.lan"]).await;
    let port = site.running.addr.port();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        "192.168.1.20".to_owned(),
        format!("localhost:{port}"),
        "clinic.example".to_owned(),
        format!("Pharmacy.LAN:{port}"),
    ] {
        assert_eq!(get_with_host(&site, "/api/health", &host).await.status(), 200, "{host}");
    }
    assert_eq!(get_with_host(&site, "/api/health", "other.lan").await.status(), 421);
    site.running.stop().await;
}

#[tokio::test]
async fn a_request_without_any_host_is_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let site = start_site(None).await;
    let mut stream = tokio::net::TcpStream::connect(site.running.addr).await.unwrap();
    stream.write_all(b"GET /api/health HTTP/1.0\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.0 421"), "{answer}");
    site.running.stop().await;
}
