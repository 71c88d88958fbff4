//! Every cursor follows commit order (issue 11): for each cursor in the system, several writers
//! commit rows one transaction at a time while a reader follows the cursor exactly as the site
//! does, through the real route; once the writers stop and the reader has drained, the reader
//! must have seen every row. Each test repeats this many times on SQLite and, when
//! `OUTPOST_TEST_POSTGRES_URL` is set, on PostgreSQL (where cursors are taken at insert but
//! transactions commit in any order unless the central serialises them).
//!
//! The rounds are small (a few rows each) so that the reader spends most of its time at the
//! end of the log, where "nothing new" pages are answered: that is where a cursor that moves
//! past what was committed meanwhile loses rows.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use outpost::central_v5;
use outpost::central_v6;
use outpost::site::sync::steps::{pull_central, pull_v6};
use outpost::wire::client::Timeouts;
use outpost::wire::v5_client::{V5Client, V5Credentials};
use outpost::wire::v6_client::V6Client;
use outpost_testkit::prelude::*;
use serde_json::json;

/// Rounds per backend, and concurrent writers per round, each committing this many rows.
const ROUNDS: usize = 200;
const WRITERS: usize = 3;
const ROWS_PER_WRITER: usize = 3;

fn credentials(world: &World, site: &str, password: &str) -> V5Credentials {
    V5Credentials {
        url: world.v5_url.clone(),
        site_name: site.to_owned(),
        password_sha256: outpost::wire::v5::password_sha256(password),
        hardware_id: format!("hw-{site}"),
        api_version: outpost::wire::v5::API_VERSION,
    }
}

fn timeouts() -> Timeouts {
    Timeouts { connect: vec![Duration::from_secs(2)], idle_read: Duration::from_secs(10) }
}

/// One round: `WRITERS` tasks run `write(writer, row)` one committed transaction each, while
/// `read` is called in a loop; then `read` once more after they stopped. Returns the ids read.
async fn round<W, WF, R, RF>(write: W, mut read: R) -> HashSet<String>
where
    W: Fn(usize, usize) -> WF + Clone + Send + 'static,
    WF: Future<Output = ()> + Send,
    R: FnMut() -> RF,
    RF: Future<Output = Vec<String>>,
{
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let write = write.clone();
        writers.push(tokio::spawn(async move {
            for r in 0..ROWS_PER_WRITER {
                write(w, r).await;
            }
        }));
    }
    let done = stop.clone();
    let all = tokio::spawn(async move {
        for w in writers {
            w.await.unwrap();
        }
        done.store(true, Ordering::SeqCst);
    });
    let mut seen = HashSet::new();
    while !stop.load(Ordering::SeqCst) {
        seen.extend(read().await);
    }
    all.await.unwrap();
    seen.extend(read().await);
    seen
}

fn expected(round: usize) -> HashSet<String> {
    (0..WRITERS).flat_map(|w| (0..ROWS_PER_WRITER).map(move |r| row_id(round, w, r))).collect()
}

fn row_id(round: usize, writer: usize, row: usize) -> String {
    format!("r{round}-w{writer}-{row}")
}

fn check(label: &str, round: usize, seen: &HashSet<String>) {
    let missing: Vec<_> = expected(round).into_iter().filter(|id| !seen.contains(id)).collect();
    assert!(missing.is_empty(), "{label}, round {round}: the reader never saw {missing:?}");
}

/// V6 `pull`: rows the V6 central commits while a site pulls, followed with the site's own
/// client and cursor rule (`pull_v6::next_cursor`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v6_pull_never_passes_a_row_committed_while_a_site_pulls() {
    for db in databases().await {
        let started = Instant::now();
        let world = World::builder().database(&db).start().await;
        world.add_site("reader", "pw", &["reader-store"]).await;
        let creds = credentials(&world, "reader", "pw");
        let client = V6Client::new(&world.v6_url, &creds, outpost::wire::v6::SYNC_V6_VERSION, &timeouts(), None);
        // The site's stored cursor, across rounds.
        let cursor = Arc::new(AtomicU64::new(0));
        for n in 0..ROUNDS {
            let central = world.v6_state.db.clone();
            let write = move |w: usize, r: usize| {
                let central = central.clone();
                async move {
                    let id = row_id(n, w, r);
                    central_v6::upsert_record(&central, "asset_class", &id, &json!({"id": id, "name": "c"}))
                        .await
                        .unwrap();
                }
            };
            let read = || {
                let (client, cursor) = (client.clone(), cursor.clone());
                async move {
                    let mut ids = Vec::new();
                    loop {
                        let from = cursor.load(Ordering::SeqCst);
                        let batch = client.pull(from, 50, true).await.expect("pull");
                        ids.extend(batch.records.iter().map(|r| r.record.record_id.clone()));
                        cursor.store(pull_v6::next_cursor(from, &batch), Ordering::SeqCst);
                        if batch.is_last_batch {
                            return ids;
                        }
                    }
                }
            };
            let seen = round(write, read).await;
            check(db.label, n, &seen);
        }
        println!("v6 pull on {}: {ROUNDS} rounds in {:.1} s", db.label, started.elapsed().as_secs_f64());
    }
}

/// V5 `central_records`: central data the V5 central commits while a site pulls, followed with
/// the site's own client and cursor rule (`pull_central::next_cursor`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v5_change_log_never_passes_a_row_committed_while_a_site_pulls() {
    for db in databases().await {
        let started = Instant::now();
        let world = World::builder().database(&db).start().await;
        world.add_site("reader", "pw", &["reader-store"]).await;
        let client = V5Client::new(credentials(&world, "reader", "pw"), &timeouts(), None);
        let cursor =
            Arc::new(AtomicU64::new(central_v5::changelog::max_cursor(&world.v5_state.db).await.unwrap() as u64));
        for n in 0..ROUNDS {
            let central = world.v5_state.db.clone();
            let write = move |w: usize, r: usize| {
                let central = central.clone();
                async move {
                    let id = row_id(n, w, r);
                    central_v5::admin::upsert(&central, "unit", &json!({"ID": id, "units": "tab"})).await.unwrap();
                }
            };
            let read = || {
                let (client, cursor) = (client.clone(), cursor.clone());
                async move {
                    let mut ids = Vec::new();
                    loop {
                        let from = cursor.load(Ordering::SeqCst);
                        let page = client.central_records(from, 50).await.expect("central_records");
                        ids.extend(page.data.iter().map(|r| r.record_id.clone()));
                        match pull_central::next_cursor(from, &page) {
                            Some(next) => cursor.store(next, Ordering::SeqCst),
                            None => return ids,
                        }
                    }
                }
            };
            let seen = round(write, read).await;
            check(db.label, n, &seen);
        }
        println!("v5 change log on {}: {ROUNDS} rounds in {:.1} s", db.label, started.elapsed().as_secs_f64());
    }
}

/// V5 `queued_records`: store data queued for a site while it drains its queue the way Pull
/// Remote does (a page, then its acknowledgement, until a page is empty).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v5_queue_never_loses_a_row_queued_while_a_site_drains_it() {
    for db in databases().await {
        let started = Instant::now();
        let world = World::builder().database(&db).start().await;
        world.add_site("reader", "pw", &["reader-store"]).await;
        let client = V5Client::new(credentials(&world, "reader", "pw"), &timeouts(), None);
        for n in 0..ROUNDS {
            let central = world.v5_state.db.clone();
            let write = move |w: usize, r: usize| {
                let central = central.clone();
                async move {
                    let id = row_id(n, w, r);
                    central_v5::admin::upsert(&central, "Location", &location(&id, "reader-store")).await.unwrap();
                }
            };
            let read = || {
                let client = client.clone();
                async move {
                    let mut ids = Vec::new();
                    loop {
                        let page = client.queued_records(50).await.expect("queued_records");
                        if page.data.is_empty() {
                            return ids;
                        }
                        ids.extend(page.data.iter().map(|r| r.record_id.clone()));
                        let acks = page.data.iter().map(|r| r.sync_out_id.clone()).collect();
                        client.acknowledge(acks).await.expect("acknowledged_records");
                    }
                }
            };
            let seen = round(write, read).await;
            check(db.label, n, &seen);
            // queueLength is a counter kept beside the queue (`central_v5::queue`), not a count.
            let left = client.queued_records(50).await.expect("queued_records");
            assert_eq!(
                (left.queue_length, left.data.len()),
                (0, 0),
                "{}: the drained queue's length is 0 after adds and acknowledgements raced",
                db.label
            );
        }
        println!("v5 queue on {}: {ROUNDS} rounds in {:.1} s", db.label, started.elapsed().as_secs_f64());
    }
}

/// The site's push cursors: locations edited on the site while a push walks the changelog
/// with the push steps' own batch query and cursor rule (the next row after the batch's last).
/// The site's database is SQLite only.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn site_push_cursor_never_passes_a_row_committed_while_it_pushes() {
    use outpost::site::sync::changelog;
    let started = Instant::now();
    let world = World::start().await;
    world.add_site("pusher", "pw", &["push-store"]).await;
    let site = TestSite::start(fast()).await;
    site.configure(&world, "pusher", "pw").await;
    assert_eq!(site.sync().await, None);
    let db = site.state.sync.db().clone();
    let mut conn = db.acquire().await.unwrap();
    let cursor = Arc::new(AtomicU64::new(changelog::end_cursor(&mut conn).await.unwrap()));
    let conn = Arc::new(tokio::sync::Mutex::new(conn));
    for n in 0..ROUNDS {
        let writer_db = db.clone();
        let write = move |w: usize, r: usize| {
            let db = writer_db.clone();
            async move {
                let l = outpost_api::Location {
                    id: row_id(n, w, r),
                    store_id: "push-store".into(),
                    code: "C".into(),
                    name: "n".into(),
                    on_hold: false,
                };
                let mut conn = db.acquire().await.unwrap();
                outpost::records::upsert_location(&mut conn, &l).await.unwrap();
            }
        };
        let read = || {
            let (conn, cursor) = (conn.clone(), cursor.clone());
            async move {
                let mut conn = conn.lock().await;
                let mut ids = Vec::new();
                loop {
                    let from = cursor.load(Ordering::SeqCst);
                    let rows = changelog::batch(&mut conn, from, 50).await.unwrap();
                    let Some(last) = rows.last() else { return ids };
                    cursor.store(last.cursor + 1, Ordering::SeqCst);
                    ids.extend(rows.iter().map(|r| r.record_id.clone()));
                }
            }
        };
        let seen = round(write, read).await;
        check("site", n, &seen);
    }
    println!("site push cursor: {ROUNDS} rounds in {:.1} s", started.elapsed().as_secs_f64());
}
