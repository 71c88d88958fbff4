//! Who may change a site: settings, store-data writes and the quarantine retry need an admin
//! session; the Sync page's data does not. The session cookie is HttpOnly and SameSite=Strict,
//! state-changing requests must pass the CSRF rule, failed logins are limited, bodies over the
//! limit get 413, and the admin password and sessions rest only as hashes.

use outpost_api::ApiErrorBody;
use outpost_testkit::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn variant(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: ApiErrorBody = response.json().await.unwrap();
    (status, body.error.variant)
}

const GUARDED: [(Method, &str); 9] = [
    (Method::GET, "/api/settings/sync"),
    (Method::PUT, "/api/settings/sync"),
    (Method::POST, "/api/store-data/locations"),
    (Method::PUT, "/api/store-data/locations/x"),
    (Method::DELETE, "/api/store-data/locations/x"),
    (Method::POST, "/api/store-data/assets"),
    (Method::PUT, "/api/store-data/assets/x"),
    (Method::DELETE, "/api/store-data/assets/x"),
    (Method::POST, "/api/sync/quarantine/retry"),
];

#[tokio::test]
async fn settings_store_data_writes_and_quarantine_retry_need_an_admin_session() {
    let site = TestSite::start(fast()).await;
    let anonymous = outpost_testkit::http_client();
    for (method, path) in GUARDED {
        let response =
            anonymous.request(method.clone(), format!("{}{path}", site.url)).json(&json!({})).send().await.unwrap();
        assert_eq!(variant(response).await, (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED".into()), "{method} {path}");
    }
    let forged = anonymous
        .get(format!("{}/api/settings/sync", site.url))
        .header("cookie", "outpost_session=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let admin = site.admin().await;
    for (method, path) in GUARDED {
        let response =
            admin.request(method.clone(), format!("{}{path}", site.url)).json(&json!({})).send().await.unwrap();
        assert_ne!(response.status(), StatusCode::UNAUTHORIZED, "{method} {path} with a session");
    }
}

#[tokio::test]
async fn the_sync_page_data_and_sync_now_need_no_admin() {
    let site = TestSite::start(fast()).await;
    let anonymous = outpost_testkit::http_client();
    for path in ["/api/sync/status", "/api/sync/quarantine", "/api/store-data", "/api/health", "/api/session"] {
        assert_eq!(
            anonymous.get(format!("{}{path}", site.url)).send().await.unwrap().status(),
            StatusCode::OK,
            "{path}"
        );
    }
    let run = anonymous.post(format!("{}/api/sync/run", site.url)).json(&json!({})).send().await.unwrap();
    assert_eq!(variant(run).await.1, "NOT_CONFIGURED", "reaches the handler, not an auth wall");
}

#[tokio::test]
async fn login_sets_an_httponly_samesite_strict_cookie_and_logout_ends_the_session() {
    let site = TestSite::start(fast()).await;
    let wrong = login_cookie(&site.url, "not-it").await.unwrap_err();
    assert_eq!(variant(wrong).await, (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED".into()));

    let response = outpost_testkit::http_client()
        .post(format!("{}/api/session", site.url))
        .json(&json!({"password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let body = response.text().await.unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let token = cookie.split_once('=').unwrap().1;
    assert!(!body.contains(token), "the token travels only in the cookie");

    let who = |cookie: String| {
        let url = site.url.clone();
        async move {
            let r = outpost_testkit::http_client()
                .get(format!("{url}/api/session"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            r.json::<outpost_api::SessionInfo>().await.unwrap().admin
        }
    };
    assert!(who(cookie.clone()).await);
    let out = outpost_testkit::http_client()
        .delete(format!("{}/api/session", site.url))
        .header("cookie", &cookie)
        .header("x-outpost-csrf", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::OK);
    assert!(!who(cookie).await, "the session is over after logout");
}

#[tokio::test]
async fn state_changing_requests_without_json_or_the_csrf_header_are_refused_with_403() {
    let site = TestSite::start(fast()).await;
    let cookie = login_cookie(&site.url, ADMIN_PASSWORD).await.unwrap();
    // What a cross-site HTML form can send: a form body, the cookie (were SameSite absent).
    let form = outpost_testkit::http_client()
        .post(format!("{}/api/store-data/locations", site.url))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("storeId=s&code=c")
        .send()
        .await
        .unwrap();
    assert_eq!(variant(form).await, (StatusCode::FORBIDDEN, "FORBIDDEN".into()));
    let bare = outpost_testkit::http_client()
        .delete(format!("{}/api/store-data/locations/x", site.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::FORBIDDEN);
    let run = outpost_testkit::http_client().post(format!("{}/api/sync/run", site.url)).send().await.unwrap();
    assert_eq!(run.status(), StatusCode::FORBIDDEN, "sync now too needs the header or JSON");
    let with_header = outpost_testkit::http_client()
        .delete(format!("{}/api/store-data/locations/x", site.url))
        .header("cookie", &cookie)
        .header("x-outpost-csrf", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(with_header.status(), StatusCode::NOT_FOUND, "passes the guard and the auth, then finds nothing");
}

#[tokio::test]
async fn ten_failed_admin_logins_from_an_address_get_429_with_retry_after() {
    let site = TestSite::start(fast()).await;
    for _ in 0..10 {
        assert_eq!(login_cookie(&site.url, "guess").await.unwrap_err().status(), StatusCode::UNAUTHORIZED);
    }
    let locked = login_cookie(&site.url, ADMIN_PASSWORD).await.unwrap_err();
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_on_the_site_api() {
    let site = TestSite::start(fast()).await;
    let admin = site.admin().await;
    let huge = json!({"storeId": "s", "code": "c", "name": "x".repeat(2 * 1024 * 1024)});
    let response = admin.post(format!("{}/api/store-data/locations", site.url)).json(&huge).send().await.unwrap();
    assert_eq!(variant(response).await, (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE".into()));
    let login = outpost_testkit::http_client()
        .post(format!("{}/api/session", site.url))
        .json(&json!({"password": "x".repeat(2 * 1024 * 1024)}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn unknown_routes_and_methods_get_a_clear_json_error() {
    let site = TestSite::start(fast()).await;
    let missing = outpost_testkit::http_client().get(format!("{}/api/no-such-table", site.url)).send().await.unwrap();
    assert_eq!(variant(missing).await, (StatusCode::NOT_FOUND, "NOT_FOUND".into()));
    let method = outpost_testkit::http_client()
        .patch(format!("{}/api/sync/status", site.url))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(variant(method).await, (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED".into()));
}

#[tokio::test]
async fn the_admin_password_and_sessions_rest_only_as_hashes() {
    let site = TestSite::start(fast()).await;
    let cookie = login_cookie(&site.url, ADMIN_PASSWORD).await.unwrap();
    let token = cookie.split_once('=').unwrap().1.to_owned();
    let stored = site.count("SELECT COUNT(*) FROM key_value_store WHERE id = 'AdminPasswordArgon2id' AND value_string LIKE '$argon2id$%'").await;
    assert_eq!(stored, 1);
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&site.state.db).await.unwrap();
    let file = std::fs::read(site.dir.path().join("site.db")).unwrap();
    let contains = |needle: &str| file.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(!contains(ADMIN_PASSWORD), "the password is not in the database file");
    assert!(!contains(&token), "the session token is not in the database file");
}

#[tokio::test]
async fn set_admin_password_replaces_the_password_and_ends_every_session() {
    let site = TestSite::start(fast()).await;
    let cookie = login_cookie(&site.url, ADMIN_PASSWORD).await.unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args(["site", "--data-dir"])
        .arg(site.dir.path())
        .args(["set-admin-password", "--password", "brand-new-one"])
        .env_remove("OUTPOST_ADMIN_PASSWORD")
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let old = outpost_testkit::http_client()
        .get(format!("{}/api/settings/sync", site.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED, "the old session ended");
    assert!(login_cookie(&site.url, ADMIN_PASSWORD).await.is_err());
    assert!(login_cookie(&site.url, "brand-new-one").await.is_ok());
}

#[tokio::test]
async fn an_admin_password_under_twelve_characters_is_refused_with_a_hint_and_the_old_one_stays() {
    let site = TestSite::start(fast()).await;
    let set = |password: &'static str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_outpost"))
            .args(["site", "--data-dir"])
            .arg(site.dir.path())
            .args(["set-admin-password", "--password", password])
            .env_remove("OUTPOST_ADMIN_PASSWORD")
            .output()
            .unwrap()
    };
    let short = set("eleven-char");
    assert!(!short.status.success());
    let stderr = String::from_utf8_lossy(&short.stderr);
    assert!(stderr.contains("too short: 11 characters, at least 12"), "{stderr}");
    assert!(stderr.contains("Hint: choose a passphrase"), "{stderr}");
    assert!(login_cookie(&site.url, ADMIN_PASSWORD).await.is_ok(), "the old password still works");
    assert!(set("twelve-chars").status.success(), "twelve is enough");
    assert!(login_cookie(&site.url, "twelve-chars").await.is_ok());
    // The same rule on a first start: a short --admin-password stops the site before it serves.
    let fresh = tempfile::tempdir().unwrap();
    let start = std::process::Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args(["site", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(fresh.path())
        .args(["--admin-password", "admin"])
        .env_remove("OUTPOST_ADMIN_PASSWORD")
        .output()
        .unwrap();
    assert!(!start.status.success());
    assert!(String::from_utf8_lossy(&start.stderr).contains("the admin password is too short"));
}

/// A web page on another origin cannot frame the site and trick an admin into clicking its
/// buttons (clickjacking): every answer, the app and the API alike, forbids framing. The site
/// answers any IP literal, so a page cannot be kept out by its host name alone.
#[tokio::test]
async fn no_page_of_the_site_may_be_framed_by_another_origin() {
    let site = TestSite::start(fast()).await;
    let client = outpost_testkit::http_client();
    for path in ["/", "/sync", "/settings", "/api/session", "/api/no-such-route"] {
        let response = client.get(format!("{}{path}", site.url)).send().await.unwrap();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        assert_eq!(header("x-frame-options").as_deref(), Some("DENY"), "{path}");
        let csp = header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp:?}");
    }
}
