//! Who gets into the centrals: failed logins are limited per site and per source address (429
//! with Retry-After, on V5 and through V6), passwords rest only as Argon2id, and a site can
//! neither pull, push nor acknowledge another site's store data, one test per route.

use outpost_testkit::prelude::*;
use serde_json::{Value, json};
use sqlx::Row;

const V6_URL: &str = "http://v6.example:8002";

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers().get("retry-after").expect("Retry-After is set").to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn ten_failed_logins_for_a_site_lock_it_out_with_429_and_retry_after_even_with_the_right_password() {
    let db = databases().await.remove(0);
    let (server, state) = start_v5(&db).await;
    add_site(&state, "north", "right", &["store_n"], V6_URL).await;
    let mut wrong = V5Site::new(&server.url(), "north", "wrong");
    for attempt in 0..10 {
        assert_eq!(wrong.get("site").await.status(), 401, "attempt {attempt} is an ordinary failure");
    }
    let locked = wrong.get("site").await;
    assert_eq!(locked.status(), 429);
    let wait = retry_after(&locked);
    assert!((1..=600).contains(&wait), "{wait}");
    let (_, code, _) = v5_error(locked).await;
    assert_eq!(code, "site_auth_timeout");
    wrong.password = "right".into();
    assert_eq!(wrong.get("site").await.status(), 429, "the right password waits too");
}

#[tokio::test]
async fn ten_failures_from_one_address_lock_out_every_site_name_from_it() {
    let db = databases().await.remove(0);
    let (server, state) = start_v5(&db).await;
    add_site(&state, "real", "pw", &["store_r"], V6_URL).await;
    for i in 0..10 {
        assert_eq!(V5Site::new(&server.url(), &format!("guess{i}"), "x").get("site").await.status(), 401);
    }
    assert_eq!(V5Site::new(&server.url(), "real", "pw").get("site").await.status(), 429);
}

#[tokio::test]
async fn the_v6_central_limits_failures_too_and_answers_429_with_retry_after() {
    let db = databases().await.remove(0);
    let c = World::builder().database(&db).start().await;
    add_site(&c.v5_state, "a", "pa", &["store_a"], &c.v6_url).await;
    let wrong = V6Site::new(&c.v6_url, V5Site::new(&c.v5_url, "a", "nope"));
    for _ in 0..10 {
        let (status, body) = wrong.call("site_status", json!({})).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("error").is_some(), "{body}");
    }
    let body = serde_json::json!({"syncV5Settings": wrong.settings(), "syncV6Version": wrong.v6_version});
    let locked = outpost_testkit::http_client()
        .post(format!("{}/central/sync/site_status", c.v6_url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(locked.status(), 429);
    assert!(retry_after(&locked) >= 1);
    let envelope: Value = locked.json().await.unwrap();
    assert_eq!(envelope["error"]["legacyServerError"]["code"], "site_auth_timeout", "{envelope}");
}

#[tokio::test]
async fn site_passwords_rest_in_the_database_only_as_argon2id() {
    let db = databases().await.remove(0);
    let (_server, state) = start_v5(&db).await;
    add_site(&state, "north", "plain-secret", &["store_n"], V6_URL).await;
    let rows = sqlx::query("SELECT password_hash FROM site").fetch_all(&state.db.pool).await.unwrap();
    let sha = outpost::wire::v5::password_sha256("plain-secret");
    for row in rows {
        let stored: String = row.get(0);
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(!stored.contains("plain-secret") && !stored.contains(&sha));
    }
}

/// Two sites on one V5 central: `a` owns store_a (with a location in its queue), `b` store_b.
async fn two_v5_sites() -> (TestDb, outpost::serve::Running, V5Site, V5Site) {
    let db = databases().await.remove(0);
    let (server, state) = start_v5(&db).await;
    add_site(&state, "a", "pa", &["store_a"], V6_URL).await;
    add_site(&state, "b", "pb", &["store_b"], V6_URL).await;
    let a = V5Site::new(&server.url(), "a", "pa");
    let b = V5Site::new(&server.url(), "b", "pb");
    a.initialise().await;
    b.initialise().await;
    a.drain(500).await;
    b.drain(500).await;
    outpost::central_v5::admin::upsert(&state.db, "Location", &location("loc-a", "store_a")).await.unwrap();
    (db, server, a, b)
}

#[tokio::test]
async fn v5_pull_a_site_never_receives_another_sites_store_data() {
    let (_db, _server, a, b) = two_v5_sites().await;
    assert!(b.drain(500).await.iter().all(|r| r.record_id != "loc-a"), "b must not see a's location");
    assert!(a.drain(500).await.iter().any(|r| r.record_id == "loc-a"), "a gets its own");
}

#[tokio::test]
async fn v5_acknowledge_a_site_cannot_remove_another_sites_queued_records() {
    let (_db, _server, a, b) = two_v5_sites().await;
    let page: outpost::wire::v5::QueuedRecords = V5Site::ok_json(a.get("queued_records?limit=500").await).await;
    let ids: Vec<String> = page.data.iter().map(|r| r.sync_out_id.clone()).collect();
    assert!(!ids.is_empty());
    assert_eq!(b.post("acknowledged_records", &json!({"syncIDs": ids})).await.status(), 204);
    let again: outpost::wire::v5::QueuedRecords = V5Site::ok_json(a.get("queued_records?limit=500").await).await;
    assert_eq!(again.data.len(), page.data.len(), "b's acknowledgement removed nothing of a's queue");
}

#[tokio::test]
async fn v5_push_a_site_cannot_write_or_take_over_another_sites_store_data() {
    let (_db, _server, a, b) = two_v5_sites().await;
    let into_a = b
        .post(
            "queued_records",
            &json!({"queueLength": 1, "data": [push_record("Location", "new", location("new", "store_a"))]}),
        )
        .await;
    assert_eq!(v5_error(into_a).await.1, "sync_record_rejected");
    let take_over = b
        .post(
            "queued_records",
            &json!({"queueLength": 1, "data": [push_record("Location", "loc-a", location("loc-a", "store_b"))]}),
        )
        .await;
    assert_eq!(v5_error(take_over).await.1, "sync_record_rejected");
    let delete = json!({"syncOutId": "1", "tableName": "Location", "recordId": "loc-a", "action": "Delete"});
    let deleted = b.post("queued_records", &json!({"queueLength": 1, "data": [delete]})).await;
    assert_eq!(v5_error(deleted).await.1, "sync_record_rejected");
    assert!(a.drain(500).await.iter().any(|r| r.record_id == "loc-a"), "a's location is untouched");
}

#[tokio::test]
async fn v6_pull_and_push_a_site_cannot_reach_another_sites_store_data() {
    let db = databases().await.remove(0);
    let c = World::builder().database(&db).start().await;
    add_site(&c.v5_state, "a", "pa", &["store_a"], &c.v6_url).await;
    add_site(&c.v5_state, "b", "pb", &["store_b"], &c.v6_url).await;
    let a = V6Site::new(&c.v6_url, V5Site::new(&c.v5_url, "a", "pa"));
    let b = V6Site::new(&c.v6_url, V5Site::new(&c.v5_url, "b", "pb"));
    a.push(vec![v6_record("asset", "asset-a", asset("asset-a", "store_a"))], true).await;
    a.wait_integrated().await;
    // Pull: b never sees a's asset, initialising or not.
    for initialised in [false, true] {
        assert!(b.pull_all(initialised, 100).await.iter().all(|r| r["recordId"] != "asset-a"));
    }
    // Push: into a's store, taking a's record over, or deleting it.
    let into_a = b.push(vec![v6_record("asset", "asset-b", asset("asset-b", "store_a"))], true).await;
    assert!(into_a.get("error").is_some(), "{into_a}");
    let take_over = b.push(vec![v6_record("asset", "asset-a", asset("asset-a", "store_b"))], true).await;
    assert!(take_over.get("error").is_some(), "{take_over}");
    let delete = json!({"tableName": "asset", "recordId": "asset-a", "action": "Delete", "recordData": null});
    let deleted = b.push(vec![delete], true).await;
    assert!(deleted.get("error").is_some(), "{deleted}");
    b.wait_integrated().await;
    assert!(
        a.pull_all(false, 100)
            .await
            .iter()
            .any(|r| r["recordId"] == "asset-a" && r["recordData"]["store_id"] == "store_a")
    );
}

#[tokio::test]
async fn v6_push_a_site_cannot_write_or_delete_the_centrals_own_rows() {
    let db = databases().await.remove(0);
    let c = World::builder().database(&db).start().await;
    add_site(&c.v5_state, "a", "pa", &["store_a"], &c.v6_url).await;
    outpost::central_v6::upsert_record(
        &c.v6_state.db,
        "asset_class",
        "class-1",
        &json!({"id": "class-1", "name": "Fridge"}),
    )
    .await
    .unwrap();
    let a = V6Site::new(&c.v6_url, V5Site::new(&c.v5_url, "a", "pa"));
    let overwrite =
        a.push(vec![v6_record("asset_class", "class-1", json!({"id": "class-1", "name": "Hijacked"}))], true).await;
    assert!(overwrite.get("error").is_some(), "{overwrite}");
    let delete = json!({"tableName": "asset_class", "recordId": "class-1", "action": "Delete", "recordData": null});
    let deleted = a.push(vec![delete], true).await;
    assert!(deleted.get("error").is_some(), "{deleted}");
    a.wait_integrated().await;
    let rows = a.pull_all(false, 100).await;
    assert!(rows.iter().any(|r| r["recordId"] == "class-1" && r["recordData"]["name"] == "Fridge"), "{rows:?}");
}

#[tokio::test]
async fn a_lock_out_on_the_v5_central_reaches_v6_callers_as_429_with_the_v5_wait() {
    let db = databases().await.remove(0);
    let c = World::builder().database(&db).start().await;
    add_site(&c.v5_state, "a", "pa", &["store_a"], &c.v6_url).await;
    let wrong = V5Site::new(&c.v5_url, "a", "nope");
    for _ in 0..10 {
        assert_eq!(wrong.get("site").await.status(), 401);
    }
    let v5_wait = retry_after(&wrong.get("site").await);
    let right = V6Site::new(&c.v6_url, V5Site::new(&c.v5_url, "a", "pa"));
    let body = json!({"syncV5Settings": right.settings(), "syncV6Version": right.v6_version});
    let locked = outpost_testkit::http_client()
        .post(format!("{}/central/sync/site_status", c.v6_url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(locked.status(), 429, "the V5 central's lock-out holds through the V6 central");
    let wait = retry_after(&locked);
    assert!(wait >= 1 && wait <= v5_wait, "the V5 central's wait is relayed: {wait} vs {v5_wait}");
    let envelope: Value = locked.json().await.unwrap();
    assert_eq!(envelope["error"]["legacyServerError"]["code"], "site_auth_timeout", "{envelope}");
    assert_eq!(envelope["error"]["legacyServerError"]["data"]["retryAfter"], wait, "{envelope}");
}

/// On a dual-stack listener this machine (the V6 central) calls the V5 central from
/// `::ffff:127.0.0.1`. That is loopback too, so the caller it names is keyed, not the relay:
/// ten failures forwarded for one remote caller do not lock out the next site it vouches for.
#[tokio::test]
async fn ipv4_mapped_loopback_counts_as_this_machine_so_forwarded_callers_are_keyed_apart() {
    let db = databases().await.remove(0);
    let state = outpost::central_v5::V5State::open(&db.url).await.unwrap();
    add_site(&state, "real", "pw", &["store_r"], V6_URL).await;
    let server = outpost::central_v5::serve_state("[::]:0".parse().unwrap(), state).await.unwrap();
    let mapped = format!("http://[::ffff:127.0.0.1]:{}", server.addr.port());
    let forwarded_for = outpost::wire::v5::HEADER_FORWARDED_FOR;
    for i in 0..10 {
        let guess = V5Site::new(&mapped, &format!("guess{i}"), "x");
        let response = guess.request(reqwest::Method::GET, "site").header(forwarded_for, "203.0.113.9").send().await;
        assert_eq!(response.unwrap().status(), 401, "guess {i}");
    }
    let rightful = V5Site::new(&mapped, "real", "pw");
    let response = rightful.request(reqwest::Method::GET, "site").header(forwarded_for, "198.51.100.7").send().await;
    assert_eq!(response.unwrap().status(), 200, "another caller vouched for by this machine is not locked out");
    let again = V5Site::new(&mapped, "guess0", "x");
    let locked = again.request(reqwest::Method::GET, "site").header(forwarded_for, "203.0.113.9").send().await;
    assert_eq!(locked.unwrap().status(), 429, "the guessing caller itself is limited");
}

/// An unknown site name is answered only after an Argon2 verification (against a dummy hash),
/// exactly like a wrong password, so response time does not tell which names exist. Proven by
/// the central's own count of verifications, not by timing.
#[tokio::test]
async fn unknown_site_names_cost_one_argon2_verification_like_wrong_passwords() {
    let db = databases().await.remove(0);
    let (server, state) = start_v5(&db).await;
    add_site(&state, "known", "right", &["store_k"], V6_URL).await;
    for name in ["known", "unknown-1", "unknown-2"] {
        let before = state.auth.argon2_runs();
        assert_eq!(V5Site::new(&server.url(), name, "wrong").get("site").await.status(), 401, "{name}");
        assert_eq!(state.auth.argon2_runs(), before + 1, "{name}: one Argon2 verification");
    }
}
