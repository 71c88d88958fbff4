//! The V5 central's request logs. The test captures with a thread-local subscriber on a
//! current-thread runtime, so it sees only its own server while other tests run.

use outpost::central_v5::admin;
use outpost::wire::v5;
use outpost_testkit::prelude::*;

const V6_URL: &str = "http://v6.example:8002";

#[tokio::test]
async fn request_logs_name_route_and_status_but_never_credentials() {
    // A current-thread test runtime runs the server's tasks on this thread, so a thread-local
    // subscriber sees every request log line.
    let (logs, _guard) = outpost_testkit::logs::capture();
    let db = databases().await.remove(0);
    let (server, state) = start_v5(&db).await;
    add_site(&state, "north", "secret-password", &["store_n"], V6_URL).await;
    let site = V5Site::new(&server.url(), "north", "secret-password");
    site.get("site").await;
    site.push(vec![push_record("Location", "l1", location("l1", "store_n"))]).await;
    let mut wrong = site.clone();
    wrong.password = "other-secret".into();
    wrong.get("site").await;
    server.stop().await;

    let text = logs.text();
    assert!(text.contains("/sync/v5/site") && text.contains("401"), "request lines are logged: {text}");
    let stored_hash = admin::list_sites(&state.db).await.unwrap();
    assert!(stored_hash[0].site.password_hash.starts_with("$argon2id$"), "the password is kept as an Argon2id hash");
    let sha = v5::password_sha256("secret-password");
    let basic = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("north:{sha}"));
    for secret in [
        "secret-password",
        "other-secret",
        sha.as_str(),
        basic.as_str(),
        stored_hash[0].site.password_hash.as_str(),
        "$argon2",
    ] {
        assert!(!text.contains(secret), "logs contain {secret}");
    }
}

#[tokio::test]
async fn an_internal_error_reaches_the_site_as_a_fixed_text_with_an_id_that_the_log_explains() {
    let (logs, _guard) = outpost_testkit::logs::capture();
    let db = databases().await.remove(0);
    let (server, state) = start_v5(&db).await;
    add_site(&state, "north", "secret-password", &["store_n"], V6_URL).await;
    sqlx::query("DROP TABLE sync_out").execute(&state.db.pool).await.unwrap();
    let response = V5Site::new(&server.url(), "north", "secret-password").get("queued_records").await;
    assert_eq!(response.status(), 500);
    let body: serde_json::Value = response.json().await.unwrap();
    server.stop().await;

    assert_eq!(body["error"]["code"], v5::code::INTERNAL_ERROR, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(!message.contains("sync_out") && !message.contains("table"), "no internals leave: {message}");
    let id = message
        .split_whitespace()
        .map(|w| w.trim_end_matches(':'))
        .find(|w| w.len() == 32 && w.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("the message carries an id: {message}"));
    let text = logs.text();
    let logged = text.lines().find(|l| l.contains(id)).unwrap_or_else(|| panic!("the id {id} is logged: {text}"));
    assert!(logged.contains("sync_out"), "the log line says what failed: {logged}");
}
