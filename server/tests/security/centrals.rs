//! Who gets into the centrals: failed logins are limited per site and per source address (429
//! with Retry-After, on V5 and through V6), passwords rest only as Argon2id, and a site can
//! neither pull, push nor acknowledge another site's store data, one test per route.
//! (Bodies sent before credentials are checked: `bodies`.)

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
async fn v5_push_names_every_refused_record_of_a_batch_in_the_envelopes_data() {
    let (_db, _server, _a, b) = two_v5_sites().await;
    let batch = json!({"queueLength": 3, "data": [
        push_record("Location", "mine", location("mine", "store_b")),
        push_record("Location", "new", location("new", "store_a")),
        push_record("Location", "loc-a", location("loc-a", "store_b")),
    ]});
    let (status, code, data) = v5_error(b.post("queued_records", &batch).await).await;
    assert_eq!((status, code.as_str()), (403, "sync_record_rejected"));
    let named: Vec<(&str, &str)> = data["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["recordId"].as_str().unwrap(), r["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(named.len(), 2, "{data}");
    assert_eq!(named[0].0, "new");
    assert!(named[0].1.contains("store_a is not active"), "{}", named[0].1);
    assert_eq!(named[1].0, "loc-a");
    assert!(named[1].1.contains("belongs to store store_a"), "{}", named[1].1);
    // Refused whole, as the reference's central does; the allowed record is sent again alone.
    let alone = json!({"queueLength": 1, "data": [push_record("Location", "mine", location("mine", "store_b"))]});
    assert_eq!(b.post("queued_records", &alone).await.status(), 200);
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

/// On a dual-stack listener this machine (the V6 central, given as `--trusted-proxy 127.0.0.1`)
/// calls the V5 central from `::ffff:127.0.0.1`. That is the trusted address too, so the caller
/// it names is keyed, not the proxy: ten failures forwarded for one remote caller do not lock
/// out the next site it vouches for.
#[tokio::test]
async fn ipv4_mapped_loopback_counts_as_this_machine_so_forwarded_callers_are_keyed_apart() {
    let db = databases().await.remove(0);
    let mut state = outpost::central_v5::V5State::open(&db.url).await.unwrap();
    trust_this_machine(&mut state);
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

/// Without `--trusted-proxy` (the default) nobody may name the caller: a peer sending the
/// forwarded-address header with a new address for every guess is still one address, limited
/// as one, and so is anyone else at that address.
#[tokio::test]
async fn a_forwarded_caller_address_is_ignored_unless_the_peer_is_a_trusted_proxy() {
    let db = databases().await.remove(0);
    let (server, state) = start_v5(&db).await;
    assert!(state.trusted_proxies.is_empty(), "nothing is trusted by default");
    add_site(&state, "real", "pw", &["store_r"], V6_URL).await;
    let forwarded_for = outpost::wire::v5::HEADER_FORWARDED_FOR;
    for i in 0..10 {
        let guess = V5Site::new(&server.url(), &format!("guess{i}"), "x");
        let response = guess.request(reqwest::Method::GET, "site").header(forwarded_for, format!("203.0.113.{i}"));
        assert_eq!(response.send().await.unwrap().status(), 401, "guess {i}");
    }
    let next = V5Site::new(&server.url(), "real", "pw");
    let response = next.request(reqwest::Method::GET, "site").header(forwarded_for, "198.51.100.7").send().await;
    assert_eq!(response.unwrap().status(), 429, "the made-up addresses were not believed: this peer is locked out");
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

fn v5_locations(prefix: &str, from: usize, n: usize) -> Vec<Value> {
    (from..from + n)
        .map(|i| push_record("Location", &format!("{prefix}{i}"), location(&format!("{prefix}{i}"), "store_a")))
        .collect()
}

fn v6_assets(from: usize, n: usize) -> Vec<Value> {
    (from..from + n).map(|i| v6_record("asset", &format!("as{i}"), asset(&format!("as{i}"), "store_b"))).collect()
}

/// A site can hold only so much in a central's push buffer (here 4 KB): a batch that would
/// pass it is refused as a whole with a named error saying so and what to do, on both
/// centrals and in both wire shapes; pushing the same records again costs nothing new, and an
/// integration empties the site's share.
#[tokio::test]
async fn a_site_cannot_push_past_its_push_buffer_cap_on_either_central() {
    for db in databases().await {
        let cap = 4096;
        let (server, state) = start_v5_with(&db, |s| s.limits.max_push_buffer_bytes = cap).await;
        add_site(&state, "a", "pa", &["store_a"], V6_URL).await;
        let a = V5Site::new(&server.url(), "a", "pa");
        a.initialise().await;
        let batch = v5_locations("loc", 0, 20);
        a.push(batch.clone()).await;
        a.push(batch).await;
        let over = a.post("queued_records", &json!({"queueLength": 1, "data": v5_locations("loc", 20, 30)})).await;
        assert_eq!(over.status(), 507);
        let body: Value = over.json().await.unwrap();
        assert_eq!(body["error"]["code"], "push_buffer_full", "{body}");
        assert_eq!(body["error"]["data"]["maxBytes"], cap, "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("push buffer full:"), "{message}");
        assert!(message.contains("--max-push-buffer-mb"), "the hint names the setting: {message}");
        a.push_end_and_wait().await;
        a.push(v5_locations("loc", 20, 20)).await;

        let c = World::builder().database(&db).v6_tweak(move |s| s.max_push_buffer_bytes = cap).start().await;
        add_site(&c.v5_state, "b", "pb", &["store_b"], &c.v6_url).await;
        let a = V6Site::new(&c.v6_url, V5Site::new(&c.v5_url, "b", "pb"));
        assert!(a.push(v6_assets(0, 10), false).await.get("data").is_some());
        assert!(a.push(v6_assets(0, 10), false).await.get("data").is_some(), "the same records again");
        let over = a.push(v6_assets(10, 20), false).await;
        let text = over["error"]["otherServerError"].as_str().unwrap_or_default();
        assert!(text.starts_with("push buffer full:") && text.contains("--max-push-buffer-mb"), "{over}");
        assert!(a.push(vec![], true).await.get("data").is_some());
        a.wait_integrated().await;
        assert_eq!(c.v6_count("asset").await, 10, "what was kept integrates; the refused batch left nothing");
        assert!(a.push(v6_assets(10, 10), false).await.get("data").is_some(), "integration emptied the site's share");
    }
}

/// The cap counts what the buffer really holds: a copy older than the buffered one is not
/// written, so it must not be counted as replacing it. A small, older copy of a big buffered
/// record once took the big copy's bytes off the site's count while the big copy stayed, so a
/// site alternating such copies with new records held as much as it liked.
#[tokio::test]
async fn older_copies_that_are_not_written_cannot_lower_the_push_buffer_count_past_the_cap() {
    for db in databases().await {
        let cap = 4096;
        let (server, state) = start_v5_with(&db, |s| s.limits.max_push_buffer_bytes = cap).await;
        add_site(&state, "a", "pa", &["store_a"], V6_URL).await;
        let a = V5Site::new(&server.url(), "a", "pa");
        a.initialise().await;
        let big = |id: &str, sync_out_id: &str| {
            let mut data = location(id, "store_a");
            data["Description"] = json!("x".repeat(3000));
            json!({"syncOutId": sync_out_id, "tableName": "Location", "recordId": id, "action": "Update", "recordData": data})
        };
        let small_old = json!({"syncOutId": "1", "tableName": "Location", "recordId": "big",
            "action": "Update", "recordData": location("big", "store_a")});
        a.push(vec![big("big", "100")]).await;
        a.push(vec![small_old]).await;
        let over = a.post("queued_records", &json!({"queueLength": 1, "data": [big("n1", "101")]})).await;
        assert_eq!(over.status(), 507, "two records of 3 KB each are held against a 4 KB cap");
    }
}

/// Behind a reverse proxy given to `--trusted-proxy`, the proxy appends the real caller to
/// `X-Forwarded-For` but passes other headers through untouched, including our own
/// `x-outpost-forwarded-for`. A caller who sends that header with a new address for every guess
/// must still be counted as the address the proxy saw, not as the addresses it made up.
#[tokio::test]
async fn behind_a_trusted_reverse_proxy_a_made_up_outpost_forwarded_header_does_not_spread_failures() {
    let db = databases().await.remove(0);
    let mut state = outpost::central_v5::V5State::open(&db.url).await.unwrap();
    trust_this_machine(&mut state);
    add_site(&state, "real", "pw", &["store_r"], V6_URL).await;
    let server = outpost::central_v5::serve_state(any_port(), state).await.unwrap();
    let ours = outpost::wire::v5::HEADER_FORWARDED_FOR;
    // What the proxy sends on: the caller's own headers, and X-Forwarded-For ending with the
    // address the proxy saw (203.0.113.9).
    let through_proxy = |site: &str, password: &str, made_up: String| {
        V5Site::new(&server.url(), site, password)
            .request(reqwest::Method::GET, "site")
            .header(ours, made_up)
            .header("x-forwarded-for", "198.51.100.250, 203.0.113.9")
    };
    for i in 0..10 {
        let response = through_proxy(&format!("guess{i}"), "x", format!("192.0.2.{i}")).send().await.unwrap();
        assert_eq!(response.status(), 401, "guess {i}");
    }
    let next = through_proxy("real", "pw", "192.0.2.99".into()).send().await.unwrap();
    assert_eq!(next.status(), 429, "the guesser at 203.0.113.9 is locked out, whatever it wrote");
}

/// Site ids are BIGINT everywhere and `--site-id` takes any positive one, so a site numbered
/// past 2^31 must integrate like any other, on both centrals and both databases. The
/// PostgreSQL integration lock (`central_shared::integration::lock_site`) cast the id to
/// INTEGER, so every integration of such a site failed with "integer out of range": its pushes
/// were never applied, on either central, however often it pushed again.
#[tokio::test]
async fn a_site_numbered_past_two_to_the_31_has_its_pushes_integrated_on_either_central() {
    let big_id = 3_000_000_000_i64;
    for db in databases().await {
        let (server, state) = start_v5(&db).await;
        let new = outpost::central_v5::admin::NewSite {
            name: "far".into(),
            password: "pf".into(),
            store_ids: vec!["store_a".into()],
            central_v6_url: V6_URL.into(),
            site_id: Some(big_id),
        };
        outpost::central_v5::admin::add_site(&state.db, &new).await.unwrap();
        let a = V5Site::new(&server.url(), "far", "pf");
        a.initialise().await;
        a.push(v5_locations("far", 0, 3)).await;
        assert!(a.push(vec![]).await.integration_started);
        let mut answer = Value::Null;
        for _ in 0..300 {
            answer = a.get("site_status").await.json().await.unwrap();
            if answer["code"] != "integration_in_progress" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(answer["code"], "idle", "{}: V5 site_status after the final push: {answer}", db.label);
        let applied: i64 =
            sqlx::query("SELECT COUNT(*) FROM record WHERE table_name = 'Location' AND store_id = 'store_a'")
                .fetch_one(&state.db.pool)
                .await
                .unwrap()
                .get(0);
        assert_eq!(applied, 3, "{}: the V5 central applied the pushed locations", db.label);

        let c = World::builder().database(&db).start().await;
        // The world's V5 central shares this database: another name and id (the V6 central's own site took the next one).
        let new = outpost::central_v5::admin::NewSite {
            name: "far6".into(),
            store_ids: vec!["store_b".into()],
            central_v6_url: c.v6_url.clone(),
            site_id: Some(big_id + 10),
            ..new
        };
        outpost::central_v5::admin::add_site(&c.v5_state.db, &new).await.unwrap();
        let b = V6Site::new(&c.v6_url, V5Site::new(&c.v5_url, "far6", "pf"));
        assert!(b.push(v6_assets(0, 3), false).await.get("data").is_some());
        assert!(b.push(vec![], true).await.get("data").is_some());
        b.wait_integrated().await;
        let status = b.data("site_status", json!({})).await;
        assert_eq!(c.v6_count("asset").await, 3, "{}: the V6 central applied the pushed assets: {status}", db.label);
    }
}
