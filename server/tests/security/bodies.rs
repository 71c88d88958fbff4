//! Request bodies nobody has vouched for yet, on the V6 central (whose credentials travel in
//! the body): a large unauthenticated push is refused before its batch is parsed, one caller
//! holding bodies back cannot take the body budget from every site, and a body trickled in
//! slower than the minimum rate is cut off at its deadline.

use outpost_testkit::prelude::*;
use serde_json::{Value, json};

/// A push laid out as the reference's own client sends it (`batch` before `syncV5Settings`):
/// `records` assets whose data pads out to about `bytes` in all, then `credentials` (the whole
/// `"syncV5Settings": …` member, or nothing).
fn batch_first_push(bytes: usize, credentials: &str) -> Vec<u8> {
    let records = 100;
    let pad = "0,".repeat(bytes / records / 2);
    let mut body = String::from(r#"{"syncV6Version":5,"batch":{"end_cursor":1,"total_records":100,"records":["#);
    for i in 0..records {
        let comma = if i + 1 < records { "," } else { "" };
        body.push_str(&format!(
            r#"{{"cursor":{i},"record":{{"tableName":"asset","recordId":"a{i}","action":"Upsert","recordData":{{"pad":[{pad}0]}}}}}}{comma}"#
        ));
    }
    body.push_str(r#"],"is_last_batch":true}"#);
    body.push_str(credentials);
    body.push('}');
    body.into_bytes()
}

/// Before a push's credentials are checked, its batch is never parsed, and a caller whose
/// address is locked out is refused before its body is read: an unauthenticated 8 MB push costs
/// no Argon2 verification (and no call to the V5 central) however it is laid out. (The 429 is
/// sent with `Connection: close` while the push is still being sent, so the client may see the
/// connection close before it has read the answer's body; its status arrives.)
#[tokio::test]
async fn an_unauthenticated_eight_mb_push_is_refused_before_its_batch_is_parsed_and_costs_no_argon2() {
    let db = databases().await.remove(0);
    let c = World::builder().database(&db).start().await;
    add_site(&c.v5_state, "a", "pa", &["store_a"], &c.v6_url).await;
    let push = |body: Vec<u8>| {
        let url = format!("{}/central/sync/push", c.v6_url);
        async move {
            let response = outpost_testkit::http_client()
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let near_limit = outpost::central_v6::MAX_BODY_BYTES - 64 * 1024;
    let before = c.v5_state.auth.argon2_runs();

    let (status, body) = push(batch_first_push(near_limit, "")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["error"]["otherServerError"], "syncV5Settings is missing");

    let long_name = format!(
        r#","syncV5Settings":{{"serverUrl":"x","username":"{}","passwordSha256":"p","siteUuid":"h","appVersion":"1","appName":"a","syncVersion":14}}"#,
        "n".repeat(300)
    );
    let (status, body) = push(batch_first_push(near_limit, &long_name)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["error"]["otherServerError"], "site name or hardware id too long");
    assert_eq!(c.v5_state.auth.argon2_runs(), before, "no verification for either");

    // Lock this address out with ten small wrong guesses (ten verifications), then push 8 MB.
    let wrong = V6Site::new(&c.v6_url, V5Site::new(&c.v5_url, "a", "nope"));
    for _ in 0..10 {
        wrong.call("site_status", json!({})).await;
    }
    let locked_at = c.v5_state.auth.argon2_runs();
    let credentials = format!(r#","syncV5Settings":{}"#, wrong.settings());
    let (status, body) = push(batch_first_push(near_limit, &credentials)).await;
    assert_eq!(status, 429, "{body}");
    if !body.is_null() {
        assert_eq!(body["error"]["legacyServerError"]["code"], "site_auth_timeout");
    }
    assert_eq!(c.v5_state.auth.argon2_runs(), locked_at, "refused before any verification");
}

/// `n` of store_a's locations (V5) or store_b's assets (V6), numbered from `from`, with ids `{prefix}{i}`.
/// A connection to `addr` from `source` (another loopback address: Linux answers all of
/// 127.0.0.0/8), so a test can be two callers at once.
async fn connect_from(source: &str, addr: &str) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(addr.parse().unwrap()).await.unwrap()
}

/// What an answer on a raw connection starts with, if it comes within `wait`.
async fn answer_within(stream: &mut tokio::net::TcpStream, wait: std::time::Duration) -> String {
    use tokio::io::AsyncReadExt;
    let mut answer = vec![0u8; 4096];
    match tokio::time::timeout(wait, stream.read(&mut answer)).await {
        Ok(Ok(n)) => String::from_utf8_lossy(&answer[..n]).into_owned(),
        _ => String::new(),
    }
}

/// What all unauthenticated bodies may hold together (`UNAUTHENTICATED_BODY_BUDGET`, 64 MiB)
/// was one pool for every caller: sixteen connections from one address, each sending 4 MiB of
/// a push body and holding back its last bytes, took all of it, and from then on every site's
/// V6 call was answered 503 (V6 credentials travel in the body, so every call is read first).
/// Now one address holds at most its share (`body_budget::CALLER_SHARE`, one maximal push):
/// the attacker's later connections are refused 503 at once, and a site at another address,
/// with the right credentials, is served as before.
#[tokio::test]
async fn a_held_back_flood_of_unauthenticated_pushes_from_one_address_leaves_other_sites_served() {
    use tokio::io::AsyncWriteExt;
    let world = World::start().await;
    add_site(&world.v5_state, "a", "pa", &["store_a"], &world.v6_url).await;
    let a = V6Site::new(&world.v6_url, V5Site::new(&world.v5_url, "a", "pa"));
    assert_eq!(a.call("site_status", json!({})).await.0, 200, "the site is served before the attack");
    let addr = world.v6_url.trim_start_matches("http://").to_owned();
    let share = outpost::central_v6::UNAUTHENTICATED_BODY_BUDGET / 16;
    let chunk = vec![b' '; share];
    let mut held = Vec::new();
    for _ in 0..16 {
        let mut stream = connect_from("127.0.0.2", &addr).await;
        let head = format!(
            "POST /central/sync/push HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            share + 64
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        // A refused connection may be closed before it has taken all 4 MiB.
        let _ = stream.write_all(&chunk).await;
        held.push(stream);
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let (status, body) = a.call("site_status", json!({})).await;
    assert_eq!(status, 200, "the rightful site at another address is served during the flood: {body}");
    assert!(body.get("data").is_some(), "{body}");
    let mut refused = 0;
    for stream in &mut held {
        let answer = answer_within(stream, std::time::Duration::from_millis(200)).await;
        if answer.starts_with("HTTP/1.1 503") {
            assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
            refused += 1;
        }
    }
    let allowed = outpost::central_v6::body_budget::CALLER_SHARE / share;
    assert_eq!(refused, 16 - allowed, "past its share the flooding address is refused at once");
    drop(held);
}

/// The connection's body timeout is an idle one (every byte resets it), so a body trickled a
/// byte at a time used to hold its share of the budget for as long as its sender liked. Now a
/// body must arrive whole within its deadline (a grace period plus its limit at the minimum
/// rate, shortened here), and is then answered 408 and its connection closed.
#[tokio::test]
async fn a_body_trickled_in_slower_than_the_minimum_rate_is_cut_off_at_its_deadline() {
    use tokio::io::AsyncWriteExt;
    let world = World::builder()
        .v6_tweak(|state| {
            state.unauthenticated_bodies.grace = std::time::Duration::from_millis(500);
            state.unauthenticated_bodies.min_bytes_per_second = 64 * 1024 * 1024;
        })
        .start()
        .await;
    let addr = world.v6_url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /central/sync/site_status HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let answer = loop {
        // One byte every 100 ms: never idle long enough for the 60 s idle timeout.
        let answer = answer_within(&mut stream, std::time::Duration::from_millis(100)).await;
        if !answer.is_empty() || started.elapsed() > std::time::Duration::from_secs(10) {
            break answer;
        }
        let _ = stream.write_all(b" ").await;
    };
    assert!(answer.starts_with("HTTP/1.1 408"), "the trickled body is cut off: {answer:?}");
    assert!(answer.contains("did not arrive whole within"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "at its deadline: {:?}", started.elapsed());
}
