//! Integration as a whole: a database failure part-way through, or a run stopped part-way by
//! the stall watchdog, commits nothing (no invoice without its lines is ever visible to another
//! connection) and the next run integrates every buffered record exactly once; and echo prevention — what a central sent is never pushed
//! back, while a later local edit of it is.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use outpost::records;
use outpost_api::{Asset, Location, StepKey, SyncStatus};
use outpost_testkit::prelude::*;
use serde_json::json;

fn total(status: &SyncStatus, key: StepKey) -> Option<u64> {
    status.steps.iter().find(|s| s.key == key).unwrap().total
}

/// Invoices visible with a different number of lines than the buffer holds for them.
const PARTIAL_INVOICES: &str = "SELECT COUNT(*) FROM invoice i
    WHERE (SELECT COUNT(*) FROM invoice_line l WHERE l.invoice_id = i.id)
       <> (SELECT COUNT(*) FROM sync_buffer b WHERE b.table_name = 'invoice_line' AND json_extract(b.data, '$.transaction_ID') = i.id)";

#[tokio::test]
async fn an_integration_failing_part_way_commits_nothing_and_the_next_run_integrates_each_record_once() {
    let _one = crate::ONE_AT_A_TIME.lock().await;
    let world = World::start().await;
    world.add_site("cut", "pw", &["cut-store"]).await;
    outpost::central_v5::seed::seed(&world.v5_state.db, 600, &["cut-store".to_owned()]).await.unwrap();
    let site = TestSite::start(fast()).await;
    // A real database failure inside the integration transaction, after units, items, names,
    // stores, locations, stock lines, invoices and a few lines are already written in it.
    sqlx::query(
        "CREATE TRIGGER fail_part_way BEFORE INSERT ON invoice_line WHEN (SELECT COUNT(*) FROM invoice_line) >= 8
         BEGIN SELECT RAISE(ABORT, 'simulated I/O failure'); END",
    )
    .execute(&site.state.db)
    .await
    .unwrap();

    // Another connection watches for a partly integrated invoice for as long as the test runs.
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (db, stop) = (site.state.db.clone(), stop.clone());
        tokio::spawn(async move {
            let (mut looks, mut partial) = (0u64, 0i64);
            while !stop.load(Ordering::Relaxed) {
                let n: i64 = sqlx::query_scalar(PARTIAL_INVOICES).fetch_one(&db).await.unwrap();
                partial = partial.max(n);
                looks += 1;
                tokio::task::yield_now().await;
            }
            (looks, partial)
        })
    };

    site.configure(&world, "cut", "pw").await;
    site.state.sync.wait_for_runs(1).await;
    let error = site.state.sync.latest_error().expect("the failure ends the run");
    assert_eq!(error.variant, "INTEGRATION_ERROR", "{error:?}");
    assert_eq!(error.step, Some(StepKey::Integration));
    let stored: (Option<String>, Option<String>) =
        sqlx::query_as("SELECT error_code, error_step FROM sync_log ORDER BY id DESC LIMIT 1")
            .fetch_one(&site.state.db)
            .await
            .unwrap();
    assert_eq!(stored, (Some("INTEGRATION_ERROR".into()), Some(StepKey::Integration.as_str().into())));
    // Nothing of the failed transaction is left: no rows, no changelog, every record pending.
    let buffered = site.count("SELECT COUNT(*) FROM sync_buffer").await;
    assert!(buffered > 500, "{buffered}");
    for table in ["unit", "item", "name", "location", "invoice", "invoice_line", "changelog"] {
        assert_eq!(site.count(&format!("SELECT COUNT(*) FROM {table}")).await, 0, "{table}");
    }
    assert_eq!(
        site.count("SELECT COUNT(*) FROM sync_buffer WHERE integration_datetime IS NULL AND integration_error IS NULL")
            .await,
        buffered
    );

    sqlx::query("DROP TRIGGER fail_part_way").execute(&site.state.db).await.unwrap();
    assert_eq!(site.sync().await, None);
    stop.store(true, Ordering::Relaxed);
    let (looks, partial) = watcher.await.unwrap();
    assert!(looks > 0);
    assert_eq!(partial, 0, "an invoice was visible without all its lines");

    assert_integrated_exactly_once(&site, buffered).await;
}

/// Every buffered record integrated once, and each invoice complete.
async fn assert_integrated_exactly_once(site: &TestSite, buffered: i64) {
    assert_eq!(
        site.count(
            "SELECT COUNT(*) FROM sync_buffer WHERE integration_datetime IS NULL OR integration_error IS NOT NULL"
        )
        .await,
        0
    );
    assert_eq!(site.count("SELECT COUNT(*) FROM changelog WHERE is_sync_update = 1").await, buffered);
    assert_eq!(
        site.count("SELECT COUNT(*) FROM (SELECT DISTINCT table_name, record_id FROM changelog)").await,
        buffered
    );
    let lines = site.count("SELECT COUNT(*) FROM sync_buffer WHERE table_name = 'invoice_line'").await;
    assert!(lines > 0);
    assert_eq!(site.count("SELECT COUNT(*) FROM invoice_line").await, lines);
    assert_eq!(site.count(PARTIAL_INVOICES).await, 0);
}

#[tokio::test]
async fn an_integration_stopped_part_way_by_the_stall_watchdog_commits_nothing_and_resumes_after_a_restart() {
    let _one = crate::ONE_AT_A_TIME.lock().await;
    let world = World::start().await;
    world.add_site("stop", "pw", &["stop-store"]).await;
    outpost::central_v5::seed::seed(&world.v5_state.db, 600, &["stop-store".to_owned()]).await.unwrap();
    // First, only buffer: the run is cut at Integrate (as above) so everything waits in sync_buffer.
    let first = TestSite::start(fast()).await;
    sqlx::query("CREATE TRIGGER hold_back BEFORE INSERT ON unit BEGIN SELECT RAISE(ABORT, 'not yet'); END")
        .execute(&first.state.db)
        .await
        .unwrap();
    first.configure(&world, "stop", "pw").await;
    first.state.sync.wait_for_runs(1).await;
    assert_eq!(first.state.sync.latest_error().map(|e| e.variant).as_deref(), Some("INTEGRATION_ERROR"));
    let buffered = first.count("SELECT COUNT(*) FROM sync_buffer").await;
    let dir = first.dir;
    first.running.stop().await;

    // Then a site whose watchdog allows 150 ms without progress, and one statement part-way
    // through integration (after invoices and some lines) that keeps SQLite busy far longer.
    let config = outpost::site::sync::EngineConfig { stall_timeout: std::time::Duration::from_millis(150), ..fast() };
    let site = TestSite::start_in(dir, config).await;
    sqlx::query("DROP TRIGGER hold_back").execute(&site.state.db).await.unwrap();
    sqlx::query(
        "CREATE TRIGGER stall_part_way BEFORE INSERT ON invoice_line WHEN (SELECT COUNT(*) FROM invoice_line) = 8
         BEGIN SELECT COUNT(*) FROM (SELECT 1 FROM sync_buffer a, sync_buffer b, sync_buffer c LIMIT 200000000); END",
    )
    .execute(&site.state.db)
    .await
    .unwrap();
    // Integrate only: no central is involved, so nothing but integration can stall.
    site.state.sync.retry_quarantine();
    site.state.sync.wait_for_runs(1).await;
    let error = site.state.sync.latest_error().expect("the watchdog ends the run");
    assert_eq!((error.variant.as_str(), error.step), ("TIMEOUT", Some(StepKey::Integration)), "{error:?}");
    let stored: Option<String> = sqlx::query_scalar("SELECT error_code FROM sync_log ORDER BY id DESC LIMIT 1")
        .fetch_one(&site.state.db)
        .await
        .unwrap();
    assert_eq!(stored.as_deref(), Some("TIMEOUT"));
    for table in ["unit", "invoice", "invoice_line", "changelog"] {
        assert_eq!(
            site.count(&format!("SELECT COUNT(*) FROM {table}")).await,
            0,
            "{table}: the stopped transaction left rows"
        );
    }

    // Restarted with the usual limits, the next run integrates everything, once.
    sqlx::query("DROP TRIGGER stall_part_way").execute(&site.state.db).await.unwrap();
    let dir = site.dir;
    site.running.stop().await;
    let site = TestSite::start_in(dir, fast()).await;
    assert_eq!(site.sync().await, None);
    assert_integrated_exactly_once(&site, buffered).await;
}

async fn central_field(pool: &sqlx::AnyPool, table: &str, id: &str, field: &str) -> String {
    let data: String = sqlx::query_scalar("SELECT data FROM record WHERE table_name = $1 AND record_id = $2")
        .bind(table)
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap();
    serde_json::from_str::<serde_json::Value>(&data).unwrap()[field].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn received_records_are_not_pushed_back_but_a_later_local_edit_of_them_is() {
    let _one = crate::ONE_AT_A_TIME.lock().await;
    let world = World::start().await;
    world.add_site("echo", "pw", &["echo-store"]).await;
    let location =
        json!({"ID": "echo-loc", "code": "E1", "Description": "From central", "store_ID": "echo-store", "hold": false});
    outpost::central_v5::admin::upsert(&world.v5_state.db, "Location", &location).await.unwrap();
    let asset = json!({"id": "echo-asset", "store_id": "echo-store", "notes": "From central", "asset_number": "EA1",
                       "created_datetime": "2024-01-01T00:00:00", "modified_datetime": "2024-01-01T00:00:00"});
    outpost::central_v6::records::upsert_asset(&world.v6_state.db, &asset, None).await.unwrap();
    let site = TestSite::start(fast()).await;
    site.configure(&world, "echo", "pw").await;
    site.state.sync.wait_for_runs(1).await;
    assert_eq!(site.state.sync.latest_error(), None);
    assert_eq!(site.count("SELECT COUNT(*) FROM location WHERE id = 'echo-loc'").await, 1);
    assert_eq!(site.count("SELECT COUNT(*) FROM asset WHERE id = 'echo-asset'").await, 1);
    assert_eq!(site.status().await.records_to_push, 0, "received records are not counted");

    // The next run's pushes find nothing to send: the received copies are not echoed back.
    assert_eq!(site.sync().await, None);
    let status = site.status().await;
    assert_eq!((total(&status, StepKey::PushV6), total(&status, StepKey::Push)), (Some(0), Some(0)));

    // A local edit of the same records is the site's own change, and goes to each central.
    {
        let mut conn = site.conn().await;
        let edited = Location {
            id: "echo-loc".into(),
            store_id: "echo-store".into(),
            code: "E1".into(),
            name: "Edited here".into(),
            on_hold: false,
        };
        records::upsert_location(&mut conn, &edited).await.unwrap();
        let edited = Asset {
            id: "echo-asset".into(),
            store_id: "echo-store".into(),
            code: "EA1".into(),
            serial_number: String::new(),
            notes: "Edited here".into(),
        };
        records::upsert_asset(&mut conn, &edited).await.unwrap();
    }
    assert_eq!(site.status().await.records_to_push, 2);
    assert_eq!(site.sync().await, None);
    let status = site.status().await;
    assert_eq!((total(&status, StepKey::PushV6), total(&status, StepKey::Push)), (Some(2), Some(2)));
    assert_eq!(status.records_to_push, 0);
    assert_eq!(central_field(&world.v5_state.db.pool, "Location", "echo-loc", "Description").await, "Edited here");
    assert_eq!(central_field(&world.v6_state.db.pool, "asset", "echo-asset", "notes").await, "Edited here");
}
