//! The site's client against the reference central of `reference`: what it sends (routes,
//! methods, headers, plain JSON bodies, upstream's field types and action names) and how it
//! reads what a reference central answers (envelopes, error codes and statuses, cursors).

use outpost::records::local;
use outpost::site::settings;
use outpost::wire::v5;
use outpost_api::{Asset, Location, SyncSettingsInput};
use outpost_testkit::prelude::*;
use serde_json::{Value, json};

use super::reference::{self, PASSWORD, SITE, STORE, Seen, Shared};

async fn configured_site(central: &Shared) -> TestSite {
    let site = TestSite::start(fast()).await;
    // Each test site is a new device: let it bind the site, as after a hardware-id reset.
    central.lock().unwrap().hardware_id = None;
    let url = central.lock().unwrap().base.clone();
    let input = SyncSettingsInput {
        url,
        site_name: SITE.into(),
        password: PASSWORD.into(),
        interval_seconds: 3600,
        batch_size_push: Some(2),
        batch_size_pull: Some(3),
        is_disabled: false,
    };
    settings::store(&site.state, input).await.unwrap();
    site
}

fn seen(central: &Shared) -> Vec<Seen> {
    central.lock().unwrap().seen.clone()
}

/// A first sync and a sync with local changes against a central that takes plain JSON only:
/// every request as section 3 has it, and the data arrives and leaves.
#[tokio::test]
async fn the_site_syncs_with_a_reference_central_in_plain_json_with_upstream_types() {
    let (_server, central) = reference::start().await;
    let site = configured_site(&central).await;
    assert_eq!(site.sync().await, None, "first sync");
    assert_eq!(site.count("SELECT COUNT(*) FROM unit").await, 4, "central records integrated");
    assert_eq!(site.count("SELECT COUNT(*) FROM location").await, 1, "the queued location integrated");
    assert_eq!(site.count("SELECT COUNT(*) FROM asset").await, 1, "the V6 asset integrated");
    assert!(central.lock().unwrap().queue.is_empty(), "the queue was acknowledged");

    {
        let mut conn = site.conn().await;
        let location = Location {
            id: "loc_new".into(),
            store_id: STORE.into(),
            code: "N".into(),
            name: "New".into(),
            on_hold: false,
        };
        local::upsert_location(&mut conn, &location).await.unwrap();
        let asset = Asset {
            id: "asset_new".into(),
            store_id: STORE.into(),
            code: "F1".into(),
            serial_number: "S1".into(),
            notes: "fridge".into(),
        };
        local::upsert_asset(&mut conn, &asset).await.unwrap();
    }
    assert_eq!(site.sync().await, None, "sync with local changes");

    let requests = seen(&central);
    for r in &requests {
        assert!(!r.gzip, "a reference central is never sent a compressed body: {} {}", r.method, r.path);
        if r.path.starts_with("/sync/v5/") {
            for header in ["authorization", v5::HEADER_HARDWARE_ID, v5::HEADER_APP_NAME, v5::HEADER_APP_VERSION] {
                assert!(r.headers.contains_key(header), "{header} on {}", r.path);
            }
            assert_eq!(r.headers[v5::HEADER_VERSION], "14");
        } else {
            assert_eq!(r.method, "POST", "every V6 call is a POST: {}", r.path);
            assert!(r.path.starts_with("/central/sync/"), "{}", r.path);
        }
    }
    let first_call = &requests[0];
    assert_eq!((first_call.method.as_str(), first_call.path.as_str()), ("GET", "/sync/v5/site"));
    let initialise = requests.iter().find(|r| r.path == "/sync/v5/initialise").expect("initialise");
    assert_eq!((initialise.method.as_str(), &initialise.body), ("POST", &Some(json!({}))));
    let ack = requests.iter().find(|r| r.path == "/sync/v5/acknowledged_records").expect("acknowledgement");
    assert_eq!(ack.body, Some(json!({"syncIDs": ["1"]})));

    let c = central.lock().unwrap();
    let pushed = c.v5_pushed.iter().find(|r| r["recordId"] == "loc_new").expect("the location pushed to V5");
    assert_eq!(pushed["tableName"], "Location");
    assert_eq!(pushed["action"], "Update");
    assert!(pushed["syncOutId"].is_string(), "{pushed}");
    assert_eq!(pushed["recordData"]["store_ID"], STORE);
    let pushes: Vec<&Value> = requests
        .iter()
        .filter(|r| r.path == "/sync/v5/queued_records" && r.method == "POST")
        .filter_map(|r| r.body.as_ref())
        .collect();
    assert_eq!(
        pushes.last().unwrap(),
        &&json!({"queueLength": 0, "data": []}),
        "the final empty push asks to integrate"
    );
    let asset = c.v6_pushed.iter().find(|r| r["record"]["recordId"] == "asset_new").expect("the asset pushed to V6");
    assert_eq!(asset["record"]["action"], "Update", "upstream's action names");
    assert_eq!(asset["record"]["recordData"]["store_id"], STORE);
    assert!(c.v5_pushed.iter().all(|r| r["tableName"] != "asset"), "a record goes to one central only");
}

/// Until a central says it decodes compressed bodies, bodies go plain; once it has, they are
/// gzipped. Each run learns it anew from each central's first answer: the V5 central's is
/// `GET /site`, which has no body; the V6 central's first call of a run goes plain.
#[tokio::test]
async fn the_site_compresses_request_bodies_only_for_a_central_that_said_so() {
    let (_server, central) = reference::start().await;
    let site = configured_site(&central).await;
    assert_eq!(site.sync().await, None);
    let plain_posts = seen(&central).iter().filter(|r| r.method == "POST").count();
    assert!(plain_posts > 0 && seen(&central).iter().all(|r| !r.gzip));

    central.lock().unwrap().advertise_gzip = true;
    let asset = Asset {
        id: "asset_gz".into(),
        store_id: STORE.into(),
        code: "G".into(),
        serial_number: "G1".into(),
        notes: String::new(),
    };
    local::upsert_asset(&mut *site.conn().await, &asset).await.unwrap();
    let before = seen(&central).len();
    assert_eq!(site.sync().await, None);
    let after: Vec<Seen> = seen(&central).into_iter().skip(before).collect();
    let v5_posts: Vec<&Seen> = after.iter().filter(|r| r.method == "POST" && r.path.starts_with("/sync/v5/")).collect();
    assert!(!v5_posts.is_empty());
    assert!(v5_posts.iter().all(|r| r.gzip), "every V5 body after GET /site said so is gzipped");
    let v6_posts: Vec<&Seen> = after.iter().filter(|r| r.path.starts_with("/central/sync/")).collect();
    assert!(v6_posts.len() >= 2, "{}", v6_posts.len());
    assert!(!v6_posts[0].gzip, "the V6 central has not said anything yet in this run");
    assert!(v6_posts[1..].iter().all(|r| r.gzip), "every V6 body after its first answer is gzipped");
}

async fn run_error(central: &Shared) -> outpost_api::SyncError {
    let site = configured_site(central).await;
    site.sync().await.expect("the run fails")
}

/// The reference's error replies become the reference's variants, with the full text as the
/// reference formats it (the context, then the list of causes).
#[tokio::test]
async fn reference_error_replies_map_to_the_reference_variants() {
    let (_server, central) = reference::start().await;
    let envelope = |code: &str| json!({"error": {"code": code, "message": "m", "data": null}}).to_string();
    for (status, body, variant) in [
        (401, envelope(v5::code::SITE_INCORRECT_PASSWORD), "INCORRECT_PASSWORD"),
        (401, envelope(v5::code::SITE_NAME_NOT_FOUND), "SITE_NAME_NOT_FOUND"),
        (401, envelope(v5::code::SITE_INCORRECT_HARDWARE_ID), "HARDWARE_ID_MISMATCH"),
        (401, envelope(v5::code::SITE_HAS_NO_STORE), "SITE_HAS_NO_STORE"),
        (409, envelope(v5::code::API_VERSION_INCOMPATIBLE), "API_VERSION_INCOMPATIBLE"),
        (503, envelope(v5::code::SYNC_IS_RUNNING), "UNKNOWN"),
        (500, "not json at all".to_owned(), "UNKNOWN"),
    ] {
        // Settings are saved first (against a healthy central), then the central turns.
        let site = configured_site(&central).await;
        central.lock().unwrap().site_reply = Some((status, body.clone()));
        let error = site.sync().await.expect("the run fails");
        central.lock().unwrap().site_reply = None;
        assert_eq!(error.variant, variant, "{status} {body}: {}", error.full_error);
        assert!(
            error.full_error.contains(r#"["Sync api error, url: '"#)
                && error.full_error.contains("route: '/sync/v5/site'"),
            "the reference's format: {}",
            error.full_error
        );
        if status == 500 {
            assert!(
                error.full_error.contains("500") && error.full_error.contains("not json at all"),
                "{}",
                error.full_error
            );
        }
    }
    central.lock().unwrap().v6_error = Some(json!({"syncVersionMismatch": [0, 5, 6]}));
    assert_eq!(run_error(&central).await.variant, "V6_API_VERSION_INCOMPATIBLE");
    central.lock().unwrap().v6_error = Some(json!({"otherServerError": "boom"}));
    let error = run_error(&central).await;
    assert_eq!(error.variant, "UNKNOWN");
    assert!(error.full_error.contains("boom"), "{}", error.full_error);
}

/// V5 central records are paged by cursor up to `maxCursor`, and the V6 pull by `end_cursor + 1`
/// until `is_last_batch`: with pages of 3 the site asks for each page once and gets everything.
#[tokio::test]
async fn the_site_follows_the_reference_cursor_rules() {
    let (_server, central) = reference::start().await;
    {
        let mut c = central.lock().unwrap();
        for i in 0..4 {
            let asset =
                json!({"id": format!("a{i}"), "store_id": STORE, "notes": "n", "asset_number": format!("A{i}")});
            c.v6_records.push(json!({"cursor": 10 + i, "record": {"tableName": "asset", "recordId": asset["id"], "action": "Insert", "recordData": asset}}));
        }
    }
    let site = configured_site(&central).await;
    assert_eq!(site.sync().await, None);
    assert_eq!(site.count("SELECT COUNT(*) FROM asset").await, 5);
    let requests = seen(&central);
    let cursors: Vec<u64> = requests
        .iter()
        .filter(|r| r.path == "/central/sync/pull")
        .map(|r| r.body.as_ref().unwrap()["cursor"].as_u64().unwrap())
        .collect();
    assert_eq!(cursors, vec![0, 12], "each request starts at the previous end_cursor + 1");
    let initialised: Vec<bool> = requests
        .iter()
        .filter(|r| r.path == "/central/sync/pull")
        .map(|r| r.body.as_ref().unwrap()["isInitialised"].as_bool().unwrap())
        .collect();
    assert!(initialised.iter().all(|i| !i), "a first sync pulls with isInitialised false");
    let central_cursors: Vec<String> = requests
        .iter()
        .filter(|r| r.path == "/sync/v5/central_records")
        .map(|r| r.query.clone().unwrap_or_default())
        .collect();
    assert!(central_cursors.len() >= 2, "{central_cursors:?}");
    assert!(central_cursors[0].contains("cursor=0"), "{central_cursors:?}");
    assert!(central_cursors[1].contains("cursor=3"), "the next page starts after the last ID: {central_cursors:?}");
    assert!(central_cursors.iter().skip(2).all(|q| q.contains("cursor=6")), "{central_cursors:?}");
}
