//! The binary is the whole site: copied alone into an empty folder, it serves the browser app
//! it carries, with caching that cannot keep an old app after an upgrade.

use crate::support::{BIN, spawn_in};

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
