//! Push buffers cleared by what was read (issue 11), on both centrals, SQLite and PostgreSQL:
//! a push committed while the site's buffer is being integrated is applied by the next
//! integration, never cleared unapplied; and a late duplicate of an older batch never replaces
//! the newer copy, whether it arrives before or after the newer one was integrated.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use outpost::central_shared::push_buffer;
use outpost::central_v5;
use outpost::central_v6;
use outpost::db::CentralDb;
use outpost_testkit::prelude::*;
use serde_json::{Value, json};

/// Records pushed one transaction at a time while integration runs in a loop.
const PUSHES: usize = 150;

async fn stored(db: &CentralDb, table: &str, id: &str) -> Option<Value> {
    let row: Option<(String,)> = sqlx::query_as("SELECT data FROM record WHERE table_name = $1 AND record_id = $2")
        .bind(table)
        .bind(id)
        .fetch_optional(&db.pool)
        .await
        .unwrap();
    row.map(|(data,)| serde_json::from_str(&data).unwrap())
}

async fn count_like(db: &CentralDb, table: &str, prefix: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM record WHERE table_name = $1 AND record_id LIKE $2")
        .bind(table)
        .bind(format!("{prefix}%"))
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

/// Buffer one record as the push route does (a request that passed the "not integrating"
/// check just before integration began commits while it runs).
/// The action is each central's word for a write: V6 "upsert", V5 "update".
async fn buffer_one(db: &CentralDb, site_id: i64, table: &str, id: &str, data: &Value, version: i64) {
    let action = if table == "asset" { "upsert" } else { "update" };
    let mut tx = db.begin_write().await.unwrap();
    let row = (table, id, action, data.get("store_id").and_then(Value::as_str), Some(data.to_string()), version);
    push_buffer::put(&mut tx, db.backend, site_id, vec![row], push_buffer::DEFAULT_MAX_BYTES).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v6_a_push_committed_during_integration_is_integrated_next_time_not_cleared() {
    for db in databases().await {
        let world = World::builder().database(&db).start().await;
        let site_id = world.add_site("busy", "pw", &["busy-store"]).await;
        let (state, done) = (world.v6_state.clone(), Arc::new(AtomicBool::new(false)));
        // Integration reads the site's stores as last learnt from the legacy central.
        state.legacy_stores.refresh(&state, true).await;
        let integrating = {
            let (state, done) = (state.clone(), done.clone());
            tokio::spawn(async move {
                while !done.load(Ordering::SeqCst) {
                    central_v6::sync::integrate(&state, site_id).await.unwrap();
                }
            })
        };
        for n in 0..PUSHES {
            let id = format!("pb-{n}");
            buffer_one(&state.db, site_id, "asset", &id, &asset(&id, "busy-store"), n as i64 + 1).await;
        }
        done.store(true, Ordering::SeqCst);
        integrating.await.unwrap();
        central_v6::sync::integrate(&state, site_id).await.unwrap();
        assert_eq!(count_like(&state.db, "asset", "pb-").await, PUSHES as i64, "{}: every push was applied", db.label);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v5_a_push_committed_during_integration_is_integrated_next_time_not_cleared() {
    for db in databases().await {
        let world = World::builder().database(&db).start().await;
        let site_id = world.add_site("busy", "pw", &["busy-store"]).await;
        let (state, done) = (world.v5_state.clone(), Arc::new(AtomicBool::new(false)));
        let integrating = {
            let (state, done) = (state.clone(), done.clone());
            tokio::spawn(async move {
                while !done.load(Ordering::SeqCst) {
                    central_v5::push::integrate(&state, site_id).await.unwrap();
                }
            })
        };
        for n in 0..PUSHES {
            let id = format!("pb-{n}");
            let mut data = location(&id, "busy-store");
            // The V5 buffer keeps the owning store it computed; here the record says it.
            data["store_id"] = json!("busy-store");
            buffer_one(&state.db, site_id, "Location", &id, &data, n as i64 + 1).await;
        }
        done.store(true, Ordering::SeqCst);
        integrating.await.unwrap();
        central_v5::push::integrate(&state, site_id).await.unwrap();
        assert_eq!(
            count_like(&state.db, "Location", "pb-").await,
            PUSHES as i64,
            "{}: every push was applied",
            db.label
        );
    }
}

/// A V6 push batch of one record at the site's changelog cursor `cursor`.
fn v6_batch(id: &str, notes: &str, cursor: u64) -> Value {
    let mut data = asset(id, "late-store");
    data["notes"] = json!(notes);
    let record = v6_record("asset", id, data);
    json!({"batch": {"end_cursor": cursor, "total_records": 1, "records": [{"cursor": cursor, "record": record}],
        "is_last_batch": true}})
}

#[tokio::test]
async fn v6_a_late_duplicate_of_an_older_batch_never_replaces_the_newer_copy() {
    for db in databases().await {
        let world = World::builder().database(&db).start().await;
        world.add_site("late", "pw", &["late-store"]).await;
        let site = V6Site::new(&world.v6_url, V5Site::new(&world.v5_url, "late", "pw"));
        // After: the newer copy is integrated, then the older one arrives.
        site.call("push", v6_batch("after", "new", 9)).await;
        site.wait_integrated().await;
        site.call("push", v6_batch("after", "old", 4)).await;
        site.wait_integrated().await;
        let after = stored(&world.v6_state.db, "asset", "after").await.unwrap();
        assert_eq!(after["notes"], "new", "{}: the late older copy was not applied", db.label);
        // Before: both wait in the buffer (integration held), the older one arriving last.
        let hold = world.v6_state.activity.pause_integration().await;
        let site_id = sqlx::query_scalar::<_, i64>("SELECT site_id FROM site WHERE name = 'late'")
            .fetch_one(&world.v5_state.db.pool)
            .await
            .unwrap();
        buffer_one(&world.v6_state.db, site_id, "asset", "before", &asset("before", "late-store"), 12).await;
        let mut old = asset("before", "late-store");
        old["notes"] = json!("old");
        buffer_one(&world.v6_state.db, site_id, "asset", "before", &old, 7).await;
        drop(hold);
        central_v6::sync::integrate(&world.v6_state, site_id).await.unwrap();
        let before = stored(&world.v6_state.db, "asset", "before").await.unwrap();
        assert_eq!(before["notes"], "asset before", "{}: the buffered newer copy was kept", db.label);
    }
}

#[tokio::test]
async fn v5_a_late_duplicate_of_an_older_batch_never_replaces_the_newer_copy() {
    for db in databases().await {
        let world = World::builder().database(&db).start().await;
        world.add_site("late", "pw", &["late-store"]).await;
        let site = V5Site::new(&world.v5_url, "late", "pw");
        let push = |version: &str, description: &str| {
            let mut record = push_record("Location", "loc", location("loc", "late-store"));
            record["syncOutId"] = json!(version);
            record["recordData"]["Description"] = json!(description);
            record
        };
        site.push(vec![push("9", "new")]).await;
        site.push_end_and_wait().await;
        site.push(vec![push("4", "old")]).await;
        site.push_end_and_wait().await;
        let data = stored(&world.v5_state.db, "Location", "loc").await.unwrap();
        assert_eq!(data["Description"], "new", "{}: the late older copy was not applied", db.label);
        // A newer copy still applies after the late one was dropped.
        site.push(vec![push("10", "newer")]).await;
        site.push_end_and_wait().await;
        let data = stored(&world.v5_state.db, "Location", "loc").await.unwrap();
        assert_eq!(data["Description"], "newer", "{}", db.label);
    }
}

/// A change made on the central that locks two of the records an integration is writing, in
/// the other order, deadlocks with it; PostgreSQL rolls the integration back to break it. The
/// integration is run again (nothing of the first try was applied): the site's records land,
/// and the site is not told its integration failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v5_an_integration_rolled_back_to_break_a_deadlock_is_run_again_and_lands() {
    let db = TestDb::fresh("postgres").await;
    if db.label != "postgres" {
        eprintln!("note: deadlocks need OUTPOST_TEST_POSTGRES_URL; skipped");
        return;
    }
    let (server, state) = start_v5(&db).await;
    add_site(&state, "north", "pw", &["store_n"], "http://v6.example:8002").await;
    let site = V5Site::new(&server.url(), "north", "pw");
    site.initialise().await;
    let located = |id: &str, note: &str| {
        let mut record = location(id, "store_n");
        record["comment"] = json!(note);
        push_record("Location", id, record)
    };
    site.push(vec![located("dl-a", "first"), located("dl-b", "first")]).await;
    site.push_end_and_wait().await;

    // The central holds B; the integration of a push of A then B takes A and waits for B.
    let mut central = state.db.pool.begin().await.unwrap();
    sqlx::query("UPDATE record SET data = data WHERE table_name = 'Location' AND record_id = 'dl-b'")
        .execute(&mut *central)
        .await
        .unwrap();
    site.push(vec![located("dl-a", "second"), located("dl-b", "second")]).await;
    let started = site.push(vec![]).await;
    assert!(started.integration_started);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // Now the central wants A: a deadlock, which PostgreSQL breaks by rolling back the one that
    // waited first past `deadlock_timeout` (1 s), the integration.
    sqlx::query("UPDATE record SET data = data WHERE table_name = 'Location' AND record_id = 'dl-a'")
        .execute(&mut *central)
        .await
        .unwrap();
    central.commit().await.unwrap();

    site.wait_idle().await;
    for id in ["dl-a", "dl-b"] {
        let record = stored(&state.db, "Location", id).await.unwrap_or_else(|| panic!("{id} is stored"));
        assert_eq!(record["comment"], "second", "{id}: the site's second push landed");
    }
    let failures: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM integration_failure").fetch_one(&state.db.pool).await.unwrap();
    assert_eq!(failures, 0, "no integration failure is kept for the site to show");
}
