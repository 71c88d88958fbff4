//! No secret leaves the site: not the admin password, its hash, a session token, the sync
//! password or its SHA-256, in any log line or API response. The test captures with a
//! thread-local subscriber on a current-thread runtime, so it sees only its own servers.

use outpost_testkit::prelude::*;

#[tokio::test]
async fn no_password_hash_or_session_appears_in_logs_or_responses() {
    let (logs, _guard) = outpost_testkit::logs::capture();

    let world = World::start().await;
    world.add_site("leak", "sync-secret-pw", &["leak-store"]).await;
    let site = TestSite::start(fast()).await;
    let mut bodies = Vec::new();
    let wrong = login_cookie(&site.url, "wrong-admin-guess").await.unwrap_err();
    bodies.push(wrong.text().await.unwrap());
    let cookie = login_cookie(&site.url, ADMIN_PASSWORD).await.unwrap();
    let token = cookie.split_once('=').unwrap().1.to_owned();
    let admin = site.admin().await;
    let settings = serde_json::json!({"url": world.v5_url, "siteName": "leak", "password": "sync-secret-pw", "intervalSeconds": 3600});
    let bad = serde_json::json!({"url": world.v5_url, "siteName": "leak", "password": "wrong-sync-pw", "intervalSeconds": 3600});
    for body in [&bad, &settings] {
        bodies.push(
            admin.put(format!("{}/api/settings/sync", site.url)).json(body).send().await.unwrap().text().await.unwrap(),
        );
    }
    site.sync().await;
    for path in ["/api/settings/sync", "/api/sync/status", "/api/sync/quarantine", "/api/session", "/api/store-data"] {
        bodies.push(admin.get(format!("{}{path}", site.url)).send().await.unwrap().text().await.unwrap());
    }
    let admin_hash: String =
        sqlx::query_scalar("SELECT value_string FROM key_value_store WHERE id = 'AdminPasswordArgon2id'")
            .fetch_one(&site.state.db)
            .await
            .unwrap();

    let text = logs.text();
    assert!(text.contains("admin signed in"), "the log was captured: {text}");
    let sha = outpost::wire::v5::password_sha256("sync-secret-pw");
    let secrets = [
        ADMIN_PASSWORD,
        "wrong-admin-guess",
        admin_hash.as_str(),
        token.as_str(),
        "sync-secret-pw",
        "wrong-sync-pw",
        sha.as_str(),
        "$argon2",
    ];
    for secret in secrets {
        assert!(!text.contains(secret), "the log contains {secret}");
        for body in &bodies {
            assert!(!body.contains(secret), "a response contains {secret}: {body}");
        }
    }
}
