//! Signing in to a test site as its admin: the password every test site is started with, and a
//! client that carries the session cookie and the CSRF header on every request.

use reqwest::header::{HeaderMap, HeaderValue};

pub const ADMIN_PASSWORD: &str = "test-admin-password";

/// The `outpost_session=…` pair of a login's `Set-Cookie`.
pub async fn login_cookie(site_url: &str, password: &str) -> Result<String, reqwest::Response> {
    // Loopback only: a proxy set in the environment must not carry these requests.
    let response = crate::http_client_builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{site_url}/api/session"))
        .json(&serde_json::json!({"password": password}))
        .send()
        .await
        .unwrap();
    if !response.status().is_success() {
        return Err(response);
    }
    let set_cookie = response.headers().get("set-cookie").expect("a login sets the session cookie").to_str().unwrap();
    Ok(set_cookie.split(';').next().unwrap().to_owned())
}

/// A client signed in as the site's admin (cookie + `x-outpost-csrf: 1` on every request).
pub async fn admin_client(site_url: &str) -> reqwest::Client {
    let cookie =
        login_cookie(site_url, ADMIN_PASSWORD).await.unwrap_or_else(|r| panic!("admin login failed: {}", r.status()));
    let mut headers = HeaderMap::new();
    headers.insert("cookie", HeaderValue::from_str(&cookie).unwrap());
    headers.insert(outpost_api::CSRF_HEADER, HeaderValue::from_static("1"));
    crate::http_client_builder().no_proxy().default_headers(headers).build().unwrap()
}
