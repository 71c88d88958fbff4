//! Two replicas of each central on one PostgreSQL database, behind round-robin relays (issue 15):
//! a replica killed with `kill -9` in the middle of integrating a site's push buffer (the
//! central kill point, inside the integration transaction) leaves its claim, which the other
//! replica takes over once the lease runs out, when the site polls; the buffer is integrated
//! exactly once, nothing lost or duplicated; while a replica integrates, the other answers
//! `site_status` truthfully; and a restarted replica serves the next integration.
//!
//! PostgreSQL only (a SQLite central is one process): skipped without `OUTPOST_TEST_POSTGRES_URL`.

use std::path::Path;
use std::time::{Duration, Instant};

use outpost::central_shared::kill_point;
use outpost::wire::v5::SiteStatusCode;
use outpost_testkit::clients::{V5Site, V6Site, asset, location, push_record, v6_record};
use outpost_testkit::{TestDb, World};

const BIN: &str = env!("CARGO_BIN_EXE_outpost");
const RECORDS: usize = 20;

async fn postgres_or_skip(test: &str) -> Option<TestDb> {
    let db = TestDb::fresh("postgres").await;
    if db.label != "postgres" {
        eprintln!("note: {test} needs OUTPOST_TEST_POSTGRES_URL; skipped");
        return None;
    }
    Some(db)
}

/// A world of two replicas per central, each stopping at `point` (the first to reach it).
async fn world_stopping_at(db: &TestDb, point: &str, marker: &Path) -> World {
    World::builder()
        .database(db)
        .replicas(Path::new(BIN), 2)
        .replica_env(kill_point::ENV, &format!("{point}={}", marker.display()))
        .start()
        .await
}

/// The process id the replica at the kill point wrote, once it is there.
async fn wait_for_marker(marker: &Path) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(pid) = std::fs::read_to_string(marker).ok().and_then(|s| s.trim().parse().ok()) {
            return pid;
        }
        assert!(Instant::now() < deadline, "no replica reached the kill point");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn replica_with_pid(world: &mut World, v5: bool, pid: u32) -> usize {
    world.replicas_of(v5).iter().position(|p| p.pid() == Some(pid)).expect("the marker names a replica")
}

async fn count(db: &outpost::db::CentralDb, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(&db.pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v5_replica_killed_mid_integration_is_taken_over_and_the_buffer_integrated_once() {
    let Some(db) = postgres_or_skip("v5 takeover").await else { return };
    let marker = tempfile::tempdir().unwrap();
    let marker = marker.path().join("kill-point");
    let mut world = world_stopping_at(&db, "legacy-central-integrating", &marker).await;
    world.add_site("north", "pw", &["store_n"]).await;
    let site = V5Site::new(&world.site_v5_url(), "north", "pw");
    site.initialise().await;
    let records: Vec<_> = (0..RECORDS)
        .map(|i| push_record("Location", &format!("loc-{i}"), location(&format!("loc-{i}"), "store_n")))
        .collect();
    site.push(records).await;
    let started = site.push(vec![]).await;
    assert!(started.integration_started);
    let pid = wait_for_marker(&marker).await;
    // Both replicas (the relay alternates) say the site is integrating: one of them runs it.
    for _ in 0..2 {
        assert_eq!(site.status().await, SiteStatusCode::IntegrationInProgress);
    }
    let v5 = &world.v5_state.db.clone();
    assert_eq!(
        count(v5, "SELECT COUNT(*) FROM record WHERE table_name = 'Location'").await,
        0,
        "nothing committed yet"
    );
    let i = replica_with_pid(&mut world, true, pid);
    world.kill_replica(true, i);
    // The survivor answers "integrating" until the lease runs out, then takes the work over.
    site.wait_idle().await;
    assert_eq!(count(v5, "SELECT COUNT(*) FROM record WHERE table_name = 'Location'").await, RECORDS as i64);
    assert_eq!(count(v5, "SELECT COUNT(*) FROM push_buffer").await, 0, "the buffer is cleared");
    assert_eq!(count(v5, "SELECT COUNT(*) FROM site_activity").await, 0, "no claim is left");
    assert_eq!(count(v5, "SELECT COUNT(*) FROM integration_failure").await, 0);
    // The killed replica, started again, serves the next integration like any other.
    world.restart_replica(true, i).await;
    site.push(vec![push_record("Location", "loc-late", location("loc-late", "store_n"))]).await;
    site.push_end_and_wait().await;
    assert_eq!(count(v5, "SELECT COUNT(*) FROM record WHERE table_name = 'Location'").await, RECORDS as i64 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v6_replica_killed_mid_integration_is_taken_over_and_each_record_logged_once() {
    let Some(db) = postgres_or_skip("v6 takeover").await else { return };
    let marker = tempfile::tempdir().unwrap();
    let marker = marker.path().join("kill-point");
    let mut world = world_stopping_at(&db, "central-integrating", &marker).await;
    world.add_site("north", "pw", &["store_n"]).await;
    let site = V6Site::new(&world.site_v6_url(), V5Site::new(&world.site_v5_url(), "north", "pw"));
    let records: Vec<_> =
        (0..RECORDS).map(|i| v6_record("asset", &format!("a-{i}"), asset(&format!("a-{i}"), "store_n"))).collect();
    let answer = site.push(records, true).await;
    assert!(answer.get("data").is_some(), "push accepted: {answer}");
    let pid = wait_for_marker(&marker).await;
    for _ in 0..2 {
        assert!(site.is_integrating().await, "either replica says the site is integrating");
    }
    let v6 = &world.v6_state.db.clone();
    let i = replica_with_pid(&mut world, false, pid);
    world.kill_replica(false, i);
    site.wait_integrated().await;
    assert_eq!(count(v6, "SELECT COUNT(*) FROM record WHERE table_name = 'asset'").await, RECORDS as i64);
    // One change-log row per record: a second integration of the same copies would log again.
    assert_eq!(count(v6, "SELECT COUNT(*) FROM changelog WHERE table_name = 'asset'").await, RECORDS as i64);
    assert_eq!(count(v6, "SELECT COUNT(*) FROM push_buffer").await, 0);
    assert_eq!(count(v6, "SELECT COUNT(*) FROM site_activity").await, 0);
    world.restart_replica(false, i).await;
    site.push(vec![v6_record("asset", "a-late", asset("a-late", "store_n"))], true).await;
    site.wait_integrated().await;
    assert_eq!(count(v6, "SELECT COUNT(*) FROM changelog WHERE table_name = 'asset'").await, RECORDS as i64 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_replica_answers_ready_only_while_it_reaches_the_database() {
    let Some(db) = postgres_or_skip("replica readiness").await else { return };
    let world = World::builder().database(&db).replicas(Path::new(BIN), 2).start().await;
    let replicas = world.replicas.as_ref().unwrap();
    for p in replicas.v5.iter().chain(&replicas.v6) {
        let r = outpost_testkit::http_get(format!("{}/ready", p.url)).await.unwrap();
        assert_eq!(r.status(), 200, "{} is ready", p.url);
    }
    // Cut every connection of the V5 database: its replicas' next readiness check fails
    // (a pool reconnects, so the database is made unreachable by refusing new connections).
    let name = db.url.rsplit('/').next().unwrap().to_owned();
    let admin = db.server.clone().unwrap();
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")))
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&name)
        .execute(&mut conn)
        .await
        .unwrap();
    for p in &replicas.v5 {
        // An answer stands for a second (`readiness::REUSE_FOR`).
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = outpost_testkit::http_get(format!("{}/ready", p.url)).await.unwrap();
            if r.status() == 503 {
                break;
            }
            assert!(Instant::now() < deadline, "{} still says ready without its database", p.url);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    for p in &replicas.v6 {
        let r = outpost_testkit::http_get(format!("{}/ready", p.url)).await.unwrap();
        assert_eq!(r.status(), 200, "{}: the V6 database is still there", p.url);
    }
    sqlx::query(sqlx::AssertSqlSafe(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")))
        .execute(&mut conn)
        .await
        .unwrap();
}

/// A replica whose claim's lease ran out while it still prepared a site's queue (its renewals
/// late: a pause; here the lease is made to run out by hand) loses the preparation to the other
/// replica, which the site's next `site_status` reaches: it starts again from an emptied queue.
/// Unfenced, the first replica kept copying, the site was sent every record twice, and the last
/// of the two to end decided the site's `initialisationStatus`, whatever the other found.
///
/// Each chunk's transaction now checks that its replica still holds the claim
/// (`BusyGuard::fence`): the first replica stops at its next chunk and writes no status, so
/// every record is queued once and the status is the one of the replica that took over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preparation_taken_over_while_its_first_replica_still_runs_stops_and_queues_every_record_once() {
    use outpost_testkit::prelude::{add_site, start_v5_with};
    let Some(db) = postgres_or_skip("a_preparation_taken_over_while_its_first_replica_still_runs").await else {
        return;
    };
    let pause = Duration::from_millis(300);
    let (one, first) = start_v5_with(&db, |s| s.prepare_pause = pause).await;
    let (two, _second) = start_v5_with(&db, |s| s.prepare_pause = pause).await;
    let site_id = add_site(&first, "a", "pa", &["store_a"], "http://v6.example:8002").await;
    let at_one = V5Site::new(&one.url(), "a", "pa");
    let at_two = V5Site::new(&two.url(), "a", "pa");
    at_one.initialise().await;
    let locations: Vec<_> = (0..RECORDS)
        .map(|i| push_record("Location", &format!("l{i}"), location(&format!("l{i}"), "store_a")))
        .collect();
    at_one.push(locations).await;
    at_one.push_end_and_wait().await;

    // Replica one starts preparing (a pause before every chunk: seconds in all)...
    assert_eq!(at_one.post("initialise", &serde_json::json!({})).await.status(), 200);
    // ...and its lease runs out before its first renewal (a third of the 10 s lease).
    sqlx::query("UPDATE site_activity SET lease_until = 0 WHERE site_id = $1")
        .bind(site_id)
        .execute(&first.db.pool)
        .await
        .unwrap();
    assert_eq!(
        at_two.status().await,
        SiteStatusCode::InitialisationInProgress,
        "replica two took the preparation over"
    );
    at_two.wait_idle().await;
    // Replica one's copies go on after replica two's emptied the queue; let them end.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let queued = count(&first.db, &format!("SELECT COUNT(*) FROM sync_out WHERE site_id = {site_id}")).await;
    let distinct = count(
        &first.db,
        &format!(
            "SELECT COUNT(*) FROM (SELECT DISTINCT table_name, record_id FROM sync_out WHERE site_id = {site_id}) d"
        ),
    )
    .await;
    assert!(distinct >= RECORDS as i64, "the site's locations are queued: {distinct}");
    assert_eq!(queued, distinct, "one preparation's copies only: {queued} rows queued for {distinct} records");
    let status: String = sqlx::query_scalar("SELECT initialisation_status FROM site WHERE site_id = $1")
        .bind(site_id)
        .fetch_one(&first.db.pool)
        .await
        .unwrap();
    assert_eq!(status, "completed", "the preparation that ran to its end decided the status");
    assert_eq!(
        count(&first.db, &format!("SELECT COUNT(*) FROM site_activity WHERE site_id = {site_id}")).await,
        0,
        "no claim is left"
    );
}

/// A replica that stops without its connections closing (a machine frozen, or cut off from the
/// network; here `SIGSTOP`) in the middle of a V6 integration keeps its transaction open, and
/// with it the site's integration lock and the change log's table lock, which every V6
/// integration takes. PostgreSQL noticed a silent peer only when TCP keepalive gave up (about
/// two hours), so every site was told "integrating" until then. Now each session of a central
/// is ended once it sits idle in a transaction for three leases (`db::SessionLimits`; 4.5 s
/// with the test's 1.5 s lease), and its locks with it: while the frozen process is still
/// stopped, another site's integration goes through, and the frozen site's buffer is taken
/// over by the live replica and integrated once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v6_replica_frozen_mid_integration_holds_up_other_sites_only_until_its_idle_session_is_ended() {
    let Some(db) = postgres_or_skip("v6 frozen replica").await else { return };
    let marker = tempfile::tempdir().unwrap();
    let marker = marker.path().join("kill-point");
    let mut world = world_stopping_at(&db, "central-integrating", &marker).await;
    world.add_site("north", "pw", &["store_n"]).await;
    world.add_site("south", "pw", &["store_s"]).await;
    let north = V6Site::new(&world.site_v6_url(), V5Site::new(&world.site_v5_url(), "north", "pw"));
    let answer = north.push(vec![v6_record("asset", "n-1", asset("n-1", "store_n"))], true).await;
    assert!(answer.get("data").is_some(), "push accepted: {answer}");
    let pid = wait_for_marker(&marker).await;
    let stopped = std::process::Command::new("kill").args(["-STOP", &pid.to_string()]).status().unwrap();
    assert!(stopped.success());
    let frozen_at = Instant::now();
    // From now on, only the replica that still runs is asked (the frozen one would hang a call).
    let frozen = replica_with_pid(&mut world, false, pid);
    let live_url = world.replicas_of(false)[1 - frozen].url.clone();
    let south = V6Site::new(&live_url, V5Site::new(&world.site_v5_url(), "south", "pw"));
    let answer = south.push(vec![v6_record("asset", "s-1", asset("s-1", "store_s"))], true).await;
    assert!(answer.get("data").is_some(), "push accepted: {answer}");
    let north_here = V6Site::new(&live_url, V5Site::new(&world.site_v5_url(), "north", "pw"));
    // Idle timeout (4.5 s) plus a lease, polls and a loaded machine's slack; was hours.
    let bound = Duration::from_secs(20);
    while south.is_integrating().await || north_here.is_integrating().await {
        assert!(frozen_at.elapsed() < bound, "an integration is still held up by the frozen replica after {bound:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let v6 = world.v6_state.db.clone();
    assert_eq!(
        count(&v6, "SELECT COUNT(*) FROM record WHERE table_name = 'asset'").await,
        2,
        "both sites' records are in, the frozen replica still stopped"
    );
    assert_eq!(count(&v6, "SELECT COUNT(*) FROM changelog WHERE table_name = 'asset'").await, 2, "each logged once");
    assert_eq!(count(&v6, "SELECT COUNT(*) FROM push_buffer").await, 0);
    eprintln!("both integrated {:?} after the replica froze", frozen_at.elapsed());
    world.kill_replica(false, frozen);
}

/// Two requests of one site can find its claim orphaned at once (a call retried after a
/// timeout while the first is still served, on two replicas); one of them takes the work over
/// and the other then finds the claim live. That one must answer what is true, "integrating",
/// as the V5 central does: `site_status` answered the error `IntegrationInProgress` instead,
/// which the site does not expect from a status poll, and its run failed.
///
/// The race is made deterministic with a row lock: the test holds the claim's row while the
/// poll's takeover waits on it, and makes the claim live before letting go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v6_status_poll_that_loses_a_takeover_race_answers_integrating_not_an_error() {
    let Some(db) = postgres_or_skip("v6 takeover race").await else { return };
    let world = World::builder().database(&db).start().await;
    let site_id = world.add_site("north", "pw", &["store_n"]).await;
    let site = V6Site::new(&world.site_v6_url(), V5Site::new(&world.site_v5_url(), "north", "pw"));
    assert!(!site.is_integrating().await, "idle to begin with (and its credentials are cached)");
    let v6 = world.v6_state.db.clone();
    sqlx::query(
        "INSERT INTO site_activity (site_id, activity, owner, lease_until) VALUES ($1, 'integrating', 'gone', 0)",
    )
    .bind(site_id)
    .execute(&v6.pool)
    .await
    .unwrap();
    let mut other = v6.pool.begin().await.unwrap();
    sqlx::query("SELECT site_id FROM site_activity WHERE site_id = $1 FOR UPDATE")
        .bind(site_id)
        .execute(&mut *other)
        .await
        .unwrap();
    let poll = tokio::spawn({
        let site = site.clone();
        async move { site.call("site_status", serde_json::json!({})).await }
    });
    // The poll found the claim orphaned and waits for the row to take it over; meanwhile
    // another replica's takeover wins.
    tokio::time::sleep(Duration::from_secs(2)).await;
    sqlx::query(
        "UPDATE site_activity SET owner = 'other', lease_until = CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) + 60000 WHERE site_id = $1",
    )
    .bind(site_id)
    .execute(&mut *other)
    .await
    .unwrap();
    other.commit().await.unwrap();
    let (status, body) = poll.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["is_integrating"], true, "the poll says what runs: {body}");
}

/// A status poll that takes an orphaned integration over and is then dropped by its caller (a
/// timeout, a proxy giving up) before the integration's task has started must not take the
/// work away with it: the claim was made before the task was spawned, with a database call in
/// between, so a dropped poll dropped the claim, the work was never run, and the next poll
/// found the site idle while its buffer was never integrated.
///
/// Made deterministic with a table lock on `integration_failure`, which that call writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v6_takeover_whose_poll_is_dropped_still_integrates_the_buffer() {
    let Some(db) = postgres_or_skip("v6 dropped takeover").await else { return };
    let world = World::builder().database(&db).start().await;
    let site_id = world.add_site("north", "pw", &["store_n"]).await;
    let site = V6Site::new(&world.site_v6_url(), V5Site::new(&world.site_v5_url(), "north", "pw"));
    let answer = site.push(vec![v6_record("asset", "n-1", asset("n-1", "store_n"))], false).await;
    assert!(answer.get("data").is_some(), "buffered: {answer}");
    let v6 = world.v6_state.db.clone();
    // The replica that was integrating it is gone.
    sqlx::query(
        "INSERT INTO site_activity (site_id, activity, owner, lease_until) VALUES ($1, 'integrating', 'gone', 0)",
    )
    .bind(site_id)
    .execute(&v6.pool)
    .await
    .unwrap();
    let mut other = v6.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE integration_failure IN ACCESS EXCLUSIVE MODE").execute(&mut *other).await.unwrap();
    let poll = tokio::spawn({
        let site = site.clone();
        async move { site.call("site_status", serde_json::json!({})).await }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    poll.abort();
    let _ = poll.await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    other.commit().await.unwrap();
    site.wait_integrated().await;
    assert_eq!(count(&v6, "SELECT COUNT(*) FROM push_buffer").await, 0, "the buffer was integrated");
    assert_eq!(count(&v6, "SELECT COUNT(*) FROM record WHERE table_name = 'asset'").await, 1);
}
