//! The binary is the whole product: copied alone into an empty folder, it serves the browser
//! app it carries, with caching that cannot keep an old app after an upgrade, and runs both
//! centrals and a site that syncs with them.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{BIN, s, spawn_in};

#[tokio::test]
async fn the_binary_copied_alone_to_an_empty_folder_serves_the_app() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("outpost");
    std::fs::copy(BIN, &bin).unwrap();
    let site = spawn_in(
        &bin,
        dir.path(),
        &["site", "--listen", "127.0.0.1:0", "--data-dir", "data", "--admin-password", "copied-admin-pw"],
    );
    let client = outpost_testkit::http_client_builder().no_proxy().gzip(false).build().unwrap();
    let index = client.get(format!("{}/", site.url)).send().await.unwrap();
    if !outpost::site::app::is_embedded() {
        // Straight to stderr: the test harness captures `eprintln!`, and this must be seen.
        let note = "\n!!! NOTE: this build has no browser app inside (build it first: scripts/test.sh does); \
                    only the 'not built' answer is checked here !!!\n";
        let _ = std::io::Write::write_all(&mut std::io::stderr(), note.as_bytes());
        assert_eq!(index.status(), 503);
        assert!(index.text().await.unwrap().contains("--app-dir"));
        return;
    }
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()["cache-control"], "no-cache");
    assert!(index.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = index.text().await.unwrap();
    assert!(html.contains("pkg/app"), "the app's index: {html}");

    // A route of the app in the browser gets the index too.
    let route = client.get(format!("{}/store-data", site.url)).send().await.unwrap();
    assert_eq!(route.status(), 200);
    assert_eq!(route.text().await.unwrap(), html);

    let wasm =
        client.get(format!("{}/pkg/app_bg.wasm", site.url)).header("accept-encoding", "br").send().await.unwrap();
    assert_eq!(wasm.status(), 200);
    assert_eq!(wasm.headers()["content-type"], "application/wasm");
    assert_eq!(wasm.headers()["content-encoding"], "br");
    let etag = wasm.headers()["etag"].clone();
    let again = client
        .get(format!("{}/pkg/app_bg.wasm", site.url))
        .header("accept-encoding", "br")
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304, "an unchanged app is revalidated, not downloaded again");
}

#[tokio::test]
async fn the_binary_copied_alone_runs_both_centrals_and_a_site_that_syncs_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("outpost");
    std::fs::copy(BIN, &bin).unwrap();
    let cwd = dir.path();
    let v5 = spawn_in(&bin, cwd, &["legacy-central", "--listen", "127.0.0.1:0", "--data-dir", "v5"]);
    let v6 = spawn_in(&bin, cwd, &["central", "--listen", "127.0.0.1:0", "--data-dir", "v6", "--legacy-url", &v5.url]);
    let added = Command::new(&bin)
        .current_dir(cwd)
        .args(["legacy-central", "--data-dir", "v5", "add-site", "--name", "copied", "--password", "copied-pw"])
        .args(["--store", "copied-store", "--central-url", &v6.url])
        .output()
        .unwrap();
    assert!(added.status.success(), "{added:?}");
    let seeded = Command::new(&bin)
        .current_dir(cwd)
        .args(["legacy-central", "--data-dir", "v5", "seed", "30", "--store", "copied-store"])
        .output()
        .unwrap();
    assert!(seeded.status.success(), "{seeded:?}");
    let site = spawn_in(
        &bin,
        cwd,
        &["site", "--listen", "127.0.0.1:0", "--data-dir", "site", "--admin-password", outpost_testkit::ADMIN_PASSWORD],
    );
    let admin = outpost_testkit::admin_client(&site.url).await;
    let settings = serde_json::json!({"url": v5.url, "siteName": "copied", "password": "copied-pw",
        "intervalSeconds": 3600, "isDisabled": false});
    let saved = admin.put(format!("{}/api/settings/sync", site.url)).json(&settings).send().await.unwrap();
    assert!(saved.status().is_success(), "saving settings: {}", saved.text().await.unwrap());
    let start = Instant::now();
    let status = loop {
        let status: outpost_api::SyncStatus =
            admin.get(format!("{}/api/sync/status", site.url)).send().await.unwrap().json().await.unwrap();
        if !status.is_syncing && (status.error.is_some() || status.last_successful_sync.is_some()) {
            break status;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "the run never ended: {status:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.error.is_none(), "the run failed: {:#?}", status.error);
    assert_eq!(status.initialisation, outpost_api::Initialisation::Initialised, "{status:#?}");
    let integrated = status.steps.iter().find(|s| s.key == outpost_api::StepKey::Integration).unwrap();
    assert!(integrated.total.unwrap_or(0) >= 30, "the seeded records were integrated: {integrated:?}");
    let data = cwd.join("site");
    assert!(data.join("site.db").is_file(), "the site's data is in the folder it was given: {}", s(&data));
}
