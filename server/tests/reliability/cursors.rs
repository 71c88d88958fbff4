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

use outpost::central_v6;
use outpost::site::sync::steps::pull_v6;
use outpost::wire::client::Timeouts;
use outpost::wire::v5_client::V5Credentials;
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
