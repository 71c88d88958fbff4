//! `GET /api/sync/history`: the last runs, newest first, each with what started it, how it
//! ended, the failing step and error, and the records it moved; runs older than 90 days are
//! forgotten when the next run starts.

use axum::http::Method;
use outpost_api::{Location, RunOutcome, RunTrigger, StepKey, SyncRun};
use outpost_testkit::prelude::*;

async fn history(site: &TestSite) -> Vec<SyncRun> {
    outpost_testkit::http_get(format!("{}/api/sync/history", site.url)).await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn history_lists_runs_newest_first_with_kind_outcome_failing_step_and_records_moved() {
    let world = World::start().await;
    let v6 = Relay::start(&world.v6_url).await;
    world.add_site_with_v6("hist", "pw", &["hist-store"], &v6.url).await;
    let site = TestSite::start(fast()).await;
    site.configure(&world, "hist", "pw").await;
    site.state.sync.wait_for_runs(1).await;
    assert_eq!(site.state.sync.latest_error(), None);

    // Two location changes travel to the V5 central in a manual run.
    let mut conn = site.conn().await;
    for id in ["h1", "h2"] {
        let location =
            Location { id: id.into(), store_id: "hist-store".into(), code: id.into(), name: id.into(), on_hold: false };
        outpost::records::upsert_location(&mut conn, &location).await.unwrap();
    }
    drop(conn);
    assert_eq!(site.sync().await, None);

    // Then the V6 central fails its pull: that run fails at Pull V6.
    v6.fail(Method::POST, "/central/sync/pull", 0);
    assert!(site.sync().await.is_some());

    let runs = history(&site).await;
    assert_eq!(runs.len(), 3, "{runs:#?}");
    assert!(runs.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let (failed, pushed, first) = (&runs[0], &runs[1], &runs[2]);

    assert_eq!(failed.outcome, RunOutcome::Failed);
    assert_eq!(failed.kind, Some(RunTrigger::Manual));
    let error = failed.error.as_ref().unwrap();
    assert_eq!(error.step, Some(StepKey::PullV6));
    assert!(!error.variant.is_empty() && !error.full_error.is_empty());
    assert!(failed.duration_seconds.is_some(), "a failed run has its length");

    assert_eq!(pushed.outcome, RunOutcome::Success);
    assert_eq!(pushed.pushed, 2, "two locations sent: {pushed:#?}");
    assert!(pushed.error.is_none() && pushed.finished.is_some());

    assert_eq!(first.outcome, RunOutcome::Success);
    assert_eq!(first.kind, Some(RunTrigger::Manual), "saving the settings starts the first run");
    assert!(first.pulled > 0, "the first run received the central's records");
    assert_eq!(first.steps.first().map(|s| s.key), Some(StepKey::PrepareInitial), "steps in run order");
}

#[tokio::test]
async fn runs_older_than_90_days_are_pruned_when_a_run_starts() {
    let world = World::start().await;
    world.add_site("prune", "pw", &["prune-store"]).await;
    let site = TestSite::start(fast()).await;
    let mut conn = site.conn().await;
    for (started, step) in [("2020-01-01T00:00:00.000Z", "push"), ("2099-01-01T00:00:00.000Z", "push")] {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sync_log (started_datetime, finished_datetime, duration_in_seconds, kind)
             VALUES (?1, ?1, 1.0, 'scheduled') RETURNING id",
        )
        .bind(started)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        sqlx::query("INSERT INTO sync_log_step (sync_log_id, step, progress_done, progress_total) VALUES (?, ?, 3, 3)")
            .bind(id)
            .bind(step)
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    drop(conn);
    assert_eq!(history(&site).await.len(), 2, "nothing is pruned by reading");

    site.configure(&world, "prune", "pw").await;
    site.state.sync.wait_for_runs(1).await;
    let runs = history(&site).await;
    assert!(runs.iter().all(|r| !r.started.starts_with("2020")), "the 2020 run is gone: {runs:#?}");
    assert_eq!(runs.len(), 2, "the recent run and the new one stay");
    assert_eq!(
        site.count("SELECT COUNT(*) FROM sync_log_step WHERE sync_log_id NOT IN (SELECT id FROM sync_log)").await,
        0
    );
}
