//! Crash and resume (issue 6): the real `outpost site` process is killed with `kill -9` mid-pull
//! (Pull Central, Pull Remote), mid-integration and mid-push (Push, Push V6), restarted on the
//! same data folder, and synced to quiescence. Each test checks that nothing was lost or
//! duplicated, that no invoice is without its lines, that the killed run is stored as
//! `INTERRUPTED` at the step it died in, and that the restarted run redid at most one batch.
//! It prints how long after the spawn the resumed step made progress (the "≤ 2 s" figure of
//! RELIABILITY.md); timing is printed, never asserted.

mod checks;
pub(crate) mod harness;

use std::time::{Duration, Instant};

use axum::http::Method;
use harness::{CrashWorld, Seed};
use outpost_api::{StepKey, StepState};
use outpost_testkit::process::SiteProcess;
use outpost_testkit::{Hold, Relay, When};

const QUIET: Duration = Duration::from_secs(60);
/// Site-made locations and assets (each) for the push tests.
const CHANGES: usize = 12;

fn small() -> Seed {
    Seed { items: 40, invoices: 12, lines: 2, assets: 8, batch_push: 4, batch_pull: 8 }
}

/// Where to kill: a request the gate holds, on which central, and the step it belongs to.
struct KillPoint {
    name: &'static str,
    step: StepKey,
    v6: bool,
    method: Method,
    path: &'static str,
    skip: usize,
    /// Count only requests that carry records (skips a push's final empty "integrate" call).
    with_records: bool,
    when: When,
    /// Site changes with all assets first (see `CrashWorld::site_changes`).
    grouped: bool,
    /// The route whose records are counted for "redone" and "resumed" (the held one, except
    /// for Pull Remote, held at its acknowledgement and counted at its fetch).
    counted: (Method, &'static str),
}

/// Start a site, sync it up to the kill point (`initialised`: first let the initial sync
/// finish and make site changes, for the push steps), kill it there, restart it, sync to
/// quiescence, check everything and print the figures.
async fn kill_and_resume(point: KillPoint, initialised: bool) {
    let started = Instant::now();
    let world = CrashWorld::start(small()).await;
    let mut site = world.start_site().await;
    let gate: &Relay = if point.v6 { world.v6_gate() } else { world.v5_gate() };
    if initialised {
        world.configure(&site).await;
        harness::wait_quiet(&site, None, QUIET).await;
        world.site_changes(&site, CHANGES, point.grouped).await;
        gate.hold(
            Hold::nth(point.method.clone(), point.path, point.skip).with_records(point.with_records).when(point.when),
        );
        harness::trigger(&site).await;
    } else {
        gate.hold(
            Hold::nth(point.method.clone(), point.path, point.skip).with_records(point.with_records).when(point.when),
        );
        world.configure(&site).await;
    }
    if !gate.held_within(QUIET).await {
        let routes: Vec<String> =
            gate.entries().iter().map(|e| format!("{} {} {}", e.method, e.path, e.keys.len())).collect();
        panic!(
            "{}: the run never reached the kill point; status {:#?}; requests {routes:#?}",
            point.name,
            harness::status(&site).await
        );
    }
    let live = harness::status(&site).await;
    assert_eq!(step_state(&live, point.step), StepState::Active, "{}: killed while {:?} runs", point.name, point.step);
    site.kill9();
    gate.drop_held();
    let db = checks::site_db(&world).await;
    let (killed_run, finished, code, _) = checks::latest_run(&db).await;
    assert_eq!((finished, code), (None, None), "{}: the crash left its run open", point.name);

    world.set_generation(2);
    let site = world.start_site().await;
    harness::wait_quiet(&site, None, QUIET).await;
    let (counted_method, counted_path) = &point.counted;
    let resumed =
        gate.first_call(counted_method, counted_path, 2).map(|t| t.duration_since(site.spawned).as_secs_f64());
    let (batches, records) = gate.redone(counted_method, counted_path, 2);
    let batch = gate.largest_batch(counted_method, counted_path);
    let quiet = site.spawned.elapsed().as_secs_f64();
    // OUTPOST_CRASH_DEBUG=1 prints every request the gate saw, to see what was redone.
    if std::env::var_os("OUTPOST_CRASH_DEBUG").is_some() {
        for e in gate.entries() {
            println!("  gen {} {} {} transferred={} {:?}", e.generation, e.method, e.path, e.transferred, e.keys);
        }
    }
    println!(
        "crash {}: resumed {:.3} s after spawn, quiet after {quiet:.3} s; redone {batches} batch(es), {records} record(s) (batch ≤ {batch}); test {:.1} s",
        point.name,
        resumed.unwrap_or(f64::NAN),
        started.elapsed().as_secs_f64()
    );
    assert!(resumed.is_some(), "{}: the restarted run never called {counted_path}", point.name);
    assert!(
        batches <= 1 && records <= batch,
        "{}: redid {batches} batches ({records} records), more than one",
        point.name
    );

    let (_, _, code, step) = checks::run_by_id(&db, killed_run).await;
    assert_eq!(
        (code, step),
        (Some("INTERRUPTED".to_owned()), Some(step_name(point.step))),
        "{}: the killed run is stored as interrupted at its step",
        point.name
    );
    let problems = checks::problems(&world, &db, if initialised { CHANGES } else { 0 }).await;
    assert!(problems.is_empty(), "{}: {problems:#?}", point.name);
    // A settled site changes nothing more on either central (no echo, no re-send).
    let before = checks::central_activity(&world).await;
    harness::sync_again(&site).await;
    assert_eq!(checks::central_activity(&world).await, before, "{}: a settled run changed the centrals", point.name);
}

/// Push V6 sends a batch without records only when it is the last and earlier ones were sent
/// (it tells the central to integrate). Killed just before that last batch, with nothing for the
/// V6 central left after the resume point, the restarted run must still send it, or the
/// central keeps the earlier batches buffered and never integrates them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_before_push_v6_last_batch_still_tells_the_central_to_integrate() {
    let path = "/central/sync/push";
    // Assets first: batches 1-3 carry assets, the rest only locations; the 4th call is the
    // final batch without records.
    let point = KillPoint {
        name: "Push V6 last batch",
        step: StepKey::PushV6,
        v6: true,
        method: Method::POST,
        path,
        skip: 3,
        with_records: false,
        when: When::Before,
        grouped: true,
        counted: (Method::POST, path),
    };
    kill_and_resume(point, true).await;
}

fn step_state(status: &outpost_api::SyncStatus, key: StepKey) -> StepState {
    status.steps.iter().find(|s| s.key == key).map(|s| s.state).unwrap()
}

fn step_name(key: StepKey) -> String {
    serde_json::to_value(key).unwrap().as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_pull_central_resumes_from_the_stored_cursor_and_loses_nothing() {
    let path = "/sync/v5/central_records";
    let point = KillPoint {
        name: "Pull Central",
        step: StepKey::PullCentral,
        v6: false,
        method: Method::GET,
        path,
        skip: 2,
        with_records: false,
        when: When::Before,
        grouped: false,
        counted: (Method::GET, path),
    };
    kill_and_resume(point, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_pull_remote_before_the_acknowledgement_redoes_one_batch_at_most() {
    let point = KillPoint {
        name: "Pull Remote",
        step: StepKey::PullRemote,
        v6: false,
        method: Method::POST,
        path: "/sync/v5/acknowledged_records",
        skip: 1,
        with_records: false,
        when: When::Before,
        grouped: false,
        counted: (Method::GET, "/sync/v5/queued_records"),
    };
    kill_and_resume(point, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_push_after_the_central_buffered_a_batch_resends_only_that_batch() {
    let path = "/sync/v5/queued_records";
    let point = KillPoint {
        name: "Push",
        step: StepKey::Push,
        v6: false,
        method: Method::POST,
        path,
        skip: 1,
        with_records: true,
        when: When::After,
        grouped: false,
        counted: (Method::POST, path),
    };
    kill_and_resume(point, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_push_v6_after_the_central_buffered_a_batch_resends_only_that_batch() {
    let path = "/central/sync/push";
    let point = KillPoint {
        name: "Push V6",
        step: StepKey::PushV6,
        v6: true,
        method: Method::POST,
        path,
        skip: 1,
        with_records: true,
        when: When::After,
        grouped: false,
        counted: (Method::POST, path),
    };
    kill_and_resume(point, true).await;
}

/// Poll the status API until `key` is active with at least `min_done` done; returns when.
async fn wait_step(site: &SiteProcess, key: StepKey, min_done: u64) -> (Instant, outpost_api::SyncStep) {
    let start = Instant::now();
    loop {
        let status = harness::status(site).await;
        let step = status.steps.iter().find(|s| s.key == key).cloned().unwrap();
        if step.state == StepState::Active && step.done.unwrap_or(0) >= min_done {
            return (Instant::now(), step);
        }
        assert!(start.elapsed() < QUIET, "{key:?} never became active with {min_done} done: {status:#?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_integration_rolls_it_back_and_the_next_run_integrates_everything() {
    let started = Instant::now();
    // Enough records that integration (one transaction) reports progress before it commits.
    let world =
        CrashWorld::start(Seed { items: 5000, invoices: 12, lines: 2, assets: 8, batch_push: 4, batch_pull: 1000 })
            .await;
    let mut site = world.start_site().await;
    world.configure(&site).await;
    let (_, step) = wait_step(&site, StepKey::Integration, 1).await;
    site.kill9();
    let (total, done) = (step.total.unwrap(), step.done.unwrap());
    let db = checks::site_db(&world).await;
    let count = |sql: &'static str| {
        let db = db.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&db).await.unwrap() }
    };
    // The transaction had applied `done` records when the process died; none of them stayed.
    let (items, pending) = (
        count("SELECT COUNT(*) FROM item").await,
        count("SELECT COUNT(*) FROM sync_buffer WHERE integration_datetime IS NULL").await,
    );
    assert!(done < total, "killed before the commit ({done} of {total})");
    assert_eq!(
        (items, pending),
        (0, total as i64),
        "integration rolled back: no item kept, every record still to integrate"
    );
    let (killed_run, ..) = checks::latest_run(&db).await;

    world.set_generation(2);
    let site = world.start_site().await;
    let (resumed, _) = wait_step(&site, StepKey::Integration, 0).await;
    harness::wait_quiet(&site, None, QUIET).await;
    let (fetched_again, _) = world.v5_gate().redone(&Method::GET, "/sync/v5/central_records", 2);
    let (queued_again, _) = world.v5_gate().redone(&Method::GET, "/sync/v5/queued_records", 2);
    println!(
        "crash Integration: killed at {done}/{total} applied; integration restarted {:.3} s after spawn, quiet after {:.3} s; \
         pull batches fetched again {}; integration is one transaction, so all {total} records were applied again; test {:.1} s",
        resumed.duration_since(site.spawned).as_secs_f64(),
        site.spawned.elapsed().as_secs_f64(),
        fetched_again + queued_again,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(fetched_again + queued_again, 0, "nothing pulled before the kill is fetched again");
    let run = checks::run_by_id(&db, killed_run).await;
    assert_eq!((run.2.as_deref(), run.3.as_deref()), (Some("INTERRUPTED"), Some("integration")));
    let problems = checks::problems(&world, &db, 0).await;
    assert!(problems.is_empty(), "{problems:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_the_status_api_shows_the_killed_run_as_interrupted_at_its_step() {
    use outpost::site::sync::kv;
    let world = CrashWorld::start(small()).await;
    let mut site = world.start_site().await;
    world.v5_gate().hold(Hold::nth(Method::GET, "/sync/v5/central_records", 1).when(When::Before));
    world.configure(&site).await;
    assert!(world.v5_gate().held_within(QUIET).await, "Pull Central never reached its second page");
    site.kill9();
    world.v5_gate().drop_held();
    // Restart with sync disabled, so no new run replaces the killed one on the status API.
    let db = checks::site_db(&world).await;
    kv::set_bool(&db, kv::IS_DISABLED, true).await.unwrap();
    let site = world.start_site().await;
    let status = harness::status(&site).await;
    let error = status.error.clone().expect("the killed run shows an error");
    assert_eq!((error.variant.as_str(), error.step), ("INTERRUPTED", Some(StepKey::PullCentral)), "{error:?}");
    assert!(!error.message.is_empty() && error.hint.is_some(), "{error:?}");
    assert!(!status.is_syncing);
    assert_eq!(step_state(&status, StepKey::PullCentral), StepState::Error);
    // Enabled again, the next run finishes the job.
    kv::set_bool(&db, kv::IS_DISABLED, false).await.unwrap();
    harness::sync_again(&site).await;
    let problems = checks::problems(&world, &db, 0).await;
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Killed inside Prepare, once the central has started preparing this site but before its
/// answer reached the site: the restarted run asks again or finds it done, and the site gets
/// all its data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_inside_prepare_after_the_central_started_preparing_finishes_on_restart() {
    let path = "/sync/v5/initialise";
    let point = KillPoint {
        name: "Prepare",
        step: StepKey::PrepareInitial,
        v6: false,
        method: Method::POST,
        path,
        skip: 0,
        with_records: false,
        when: When::After,
        grouped: false,
        counted: (Method::POST, path),
    };
    kill_and_resume(point, false).await;
}

/// Killed inside the end of the first sync (both push cursors jumping to the end of the
/// changelog, inside Integrate's transaction; `OUTPOST_TEST_KILL_POINT` stops the site there):
/// the jump rolls back with the integration, the restarted run redoes both, and changes made
/// on the site afterwards are pushed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(debug_assertions), ignore = "kill points exist in debug builds only")]
async fn kill_9_inside_the_first_sync_cursor_jump_rolls_it_back_and_the_restart_finishes_it() {
    use outpost::site::sync::{kill_point, kv};
    let started = Instant::now();
    let world = CrashWorld::start(small()).await;
    let marker = world.centrals.dir.path().join("at-first-sync-jump");
    let spec = format!("first-sync-jump={}", marker.display());
    let mut site =
        SiteProcess::start_with_env(harness::BIN.as_ref(), &world.site_dir(), "error", &[(kill_point::ENV, &spec)])
            .await;
    world.configure(&site).await;
    let waited = Instant::now();
    while !marker.exists() {
        assert!(waited.elapsed() < QUIET, "the first run never reached the cursor jump");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    site.kill9();
    let db = checks::site_db(&world).await;
    let (killed_run, ..) = checks::latest_run(&db).await;
    assert!(!kv::get_bool(&db, kv::IS_INITIALISED).await.unwrap(), "the jump rolled back: not initialised");
    let items: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM item").fetch_one(&db).await.unwrap();
    assert_eq!(items, 0, "the integration rolled back with the jump");

    world.set_generation(2);
    let site = world.start_site().await;
    harness::wait_quiet(&site, None, QUIET).await;
    assert!(kv::get_bool(&db, kv::IS_INITIALISED).await.unwrap(), "the restarted run finished the first sync");
    let run = checks::run_by_id(&db, killed_run).await;
    assert_eq!((run.2.as_deref(), run.3.as_deref()), (Some("INTERRUPTED"), Some("integration")));
    // Changes made now are above the jump and are pushed.
    world.site_changes(&site, CHANGES, false).await;
    harness::sync_again(&site).await;
    let problems = checks::problems(&world, &db, CHANGES).await;
    assert!(problems.is_empty(), "{problems:#?}");
    println!(
        "crash first-sync jump: restarted run quiet after {:.3} s; test {:.1} s",
        site.spawned.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
