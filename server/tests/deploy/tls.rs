//! HTTPS everywhere: every role serves it with `--tls-cert/--tls-key`, a site syncs with both
//! centrals over it under a private CA (`--ca-cert`, the V6 central trusting it too for its
//! calls to the V5 central), and a site that does not trust the CA shows CERTIFICATE_ERROR
//! with the problem named and a hint.

use std::time::{Duration, Instant};

use outpost_api::SyncStatus;
use outpost_testkit::{SiteProcess, admin_client};
use serde_json::json;

use crate::support::{BIN, Pki, Role, run, s, spawn};

const SITE: &str = "tls-site";
const PASSWORD: &str = "tls-pw";
const STORE: &str = "tls-store";

/// Both centrals over HTTPS, the V6 central trusting the CA, the site registered on V5.
fn centrals(dir: &std::path::Path, pki: &Pki) -> (Role, Role) {
    let (v5_dir, v6_dir) = (dir.join("v5"), dir.join("v6"));
    let tls = ["--tls-cert", s(&pki.cert), "--tls-key", s(&pki.key)];
    let mut v5_args = vec!["legacy-central", "--listen", "127.0.0.1:0", "--data-dir", s(&v5_dir)];
    v5_args.extend(tls);
    let v5 = spawn(&v5_args);
    let mut v6_args = vec![
        "central",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        s(&v6_dir),
        "--legacy-url",
        &v5.url,
        "--ca-cert",
        s(&pki.ca),
    ];
    v6_args.extend(tls);
    let v6 = spawn(&v6_args);
    run(&[
        "legacy-central",
        "--data-dir",
        s(&v5_dir),
        "add-site",
        "--name",
        SITE,
        "--password",
        PASSWORD,
        "--store",
        STORE,
        "--central-url",
        &v6.url,
    ]);
    (v5, v6)
}

async fn configure_and_wait(site: &SiteProcess, v5_url: &str, done: impl Fn(&SyncStatus) -> bool) -> SyncStatus {
    let admin = admin_client(&site.url).await;
    let input =
        json!({"url": v5_url, "siteName": SITE, "password": PASSWORD, "intervalSeconds": 3600, "isDisabled": false});
    let r = admin.put(format!("{}/api/settings/sync", site.url)).json(&input).send().await.unwrap();
    assert!(r.status().is_success(), "saving settings: {}", r.text().await.unwrap());
    wait_for(site, done).await
}

async fn wait_for(site: &SiteProcess, done: impl Fn(&SyncStatus) -> bool) -> SyncStatus {
    let plain = outpost_testkit::http_client_builder().no_proxy().build().unwrap();
    let start = Instant::now();
    loop {
        let status: SyncStatus =
            plain.get(format!("{}/api/sync/status", site.url)).send().await.unwrap().json().await.unwrap();
        if done(&status) {
            return status;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "the run never ended as expected: {status:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn every_role_serves_https_with_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "serve");
    let tls = ["--tls-cert", s(&pki.cert), "--tls-key", s(&pki.key)];
    let site_dir = dir.path().join("site");
    let v5_dir = dir.path().join("v5");
    let v6_dir = dir.path().join("v6");
    let roles: Vec<Vec<&str>> = vec![
        vec!["site", "--listen", "127.0.0.1:0", "--data-dir", s(&site_dir), "--admin-password", "x-admin-password"],
        vec!["legacy-central", "--listen", "127.0.0.1:0", "--data-dir", s(&v5_dir)],
        vec!["central", "--listen", "127.0.0.1:0", "--data-dir", s(&v6_dir)],
    ];
    let client = pki.client();
    for mut args in roles {
        args.extend(tls);
        let role = spawn(&args);
        assert!(role.url.starts_with("https://127.0.0.1:"), "{}: {}", args[0], role.url);
        let path = if args[0] == "site" { "/api/health" } else { "/health" };
        let health = client.get(format!("{}{path}", role.url)).send().await.unwrap();
        assert_eq!(health.status(), 200, "{}", args[0]);
        // Plain HTTP on the TLS port gets no answer (the handshake fails), never the data.
        let plain = outpost_testkit::http_client_builder().no_proxy().build().unwrap();
        let http_url = role.url.replacen("https://", "http://", 1);
        assert!(plain.get(format!("{http_url}{path}")).send().await.is_err(), "{}", args[0]);
    }
}

#[tokio::test]
async fn a_site_syncs_with_both_centrals_over_https_under_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "private");
    let (v5, _v6) = centrals(dir.path(), &pki);
    let site = SiteProcess::start_with(BIN.as_ref(), &dir.path().join("site"), &["--ca-cert", s(&pki.ca)], &[]).await;
    let status = configure_and_wait(&site, &v5.url, |s| {
        !s.is_syncing && (s.error.is_some() || s.last_successful_sync.is_some())
    })
    .await;
    assert!(status.error.is_none(), "the run failed: {:#?}", status.error);
    assert!(status.last_successful_sync.is_some());
    assert_eq!(status.initialisation, outpost_api::Initialisation::Initialised, "{status:#?}");
}

#[tokio::test]
async fn a_site_that_does_not_trust_the_ca_shows_the_certificate_error_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "unknown");
    let (v5, _v6) = centrals(dir.path(), &pki);
    let site_dir = dir.path().join("site");

    // Saving the settings checks the central: refused, naming the certificate problem.
    let site = SiteProcess::start_with(BIN.as_ref(), &site_dir, &[], &[]).await;
    let admin = admin_client(&site.url).await;
    let input =
        json!({"url": v5.url, "siteName": SITE, "password": PASSWORD, "intervalSeconds": 3600, "isDisabled": false});
    let r = admin.put(format!("{}/api/settings/sync", site.url)).json(&input).send().await.unwrap();
    let text = r.text().await.unwrap();
    assert!(text.contains("TLS certificate is not trusted") && text.contains("UnknownIssuer"), "{text}");
    assert!(text.contains("--ca-cert"), "the hint names the flag: {text}");
    site.stop().await;

    // A site set up while it trusted the CA, restarted without it: the Sync page's error.
    let site = SiteProcess::start_with(BIN.as_ref(), &site_dir, &["--ca-cert", s(&pki.ca)], &[]).await;
    configure_and_wait(&site, &v5.url, |s| s.last_successful_sync.is_some()).await;
    site.stop().await;
    let site = SiteProcess::start_with(BIN.as_ref(), &site_dir, &[], &[]).await;
    let admin = admin_client(&site.url).await;
    let r = admin.post(format!("{}/api/sync/run", site.url)).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let status = wait_for(&site, |s| s.error.is_some()).await;
    let error = status.error.unwrap();
    assert_eq!(error.variant, "CERTIFICATE_ERROR", "{error:#?}");
    assert!(error.full_error.contains("UnknownIssuer"), "the problem is named: {}", error.full_error);
    assert!(error.hint.as_deref().unwrap_or_default().contains("--ca-cert"), "{error:#?}");
}
