//! The seeded fault harness: one run of changes, faults (the kit's relay with a seeded
//! [`Schedule`]) and checks ([`run_one`], with the world of `super::world`). A run is driven by its seed: the changes, the
//! faults drawn per request, and the central restarts all come from it, so a failing seed
//! can be rerun with `OUTPOST_FAULT_SEED=<seed>` (thread timing may still differ slightly).

use std::collections::HashMap;
use std::time::Duration;

use super::world::{self, Model, Replicated};
use outpost_testkit::TestSite;
use outpost_testkit::World;
use outpost_testkit::relay::{Fault, Schedule};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What one run saw, for the summary.
#[derive(Debug, Default)]
pub struct Outcome {
    pub runs: u32,
    pub failed_runs: u32,
    pub variants: HashMap<String, u32>,
    pub faults: HashMap<String, u32>,
    pub restarts: u32,
    /// Site records the centrals refused, and the pushes refused for them (splitting included).
    pub refused_records: u32,
    pub refused_pushes: u32,
    /// Rounds run with a failing site table ([`DB_FAULTS`]), and how many of their runs ended
    /// as the variant that table's failure must give.
    pub db_fault_rounds: u32,
    pub db_fault_errors: u32,
    pub problems: Vec<String>,
}

/// Site database faults: a trigger that makes one site table's writes fail for one run (the
/// rest of the database works), on what Pull writes (`sync_buffer`), what Integrate writes
/// (`location`), or the push cursor (`key_value_store`), with the variant the run must end as.
/// A failure inside Integrate's transaction is `INTEGRATION_ERROR` by contract (its hint says
/// the full error tells whether here or at the central; `sync_serial::integration` pins it);
/// every other local database failure is `DATABASE_ERROR`.
const DB_FAULTS: [(&str, &str, &str); 3] = [
    ("pull", "BEFORE INSERT ON sync_buffer", "DATABASE_ERROR"),
    ("integrate", "BEFORE INSERT ON location", "INTEGRATION_ERROR"),
    ("push cursor", "BEFORE UPDATE ON key_value_store WHEN NEW.id = 'RemoteSyncPushCursor'", "DATABASE_ERROR"),
];

/// Drop the injected trigger and create the next one on one connection, inside one
/// `BEGIN IMMEDIATE`: that reloads the connection's copy of the schema first. (Run as separate
/// statements on pool connections, a connection whose copy predated the drop refused the
/// create with "trigger injected_db_fault already exists".)
async fn set_db_fault(site: &TestSite, fault: Option<&str>) {
    let create = fault.map_or(String::new(), |when| {
        format!("CREATE TRIGGER injected_db_fault {when} BEGIN SELECT RAISE(ABORT, 'injected database fault'); END;")
    });
    let script = format!("BEGIN IMMEDIATE; DROP TRIGGER IF EXISTS injected_db_fault; {create} COMMIT;");
    let mut conn = site.state.db.acquire().await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(script)).execute(&mut *conn).await.unwrap();
}

const ROUNDS: usize = 3;
/// Longest a run may take before the harness calls it a silent stall (the engine's own stall
/// limit is 4 s, so a run that is still going after this never reported anything).
const RUN_LIMIT: Duration = Duration::from_secs(30);

/// One sync run; a failed run must have left an error with a variant, in memory and stored.
async fn sync_checked(site: &TestSite, out: &mut Outcome) {
    out.runs += 1;
    let error = match tokio::time::timeout(RUN_LIMIT, site.sync()).await {
        Ok(e) => e,
        Err(_) => {
            out.problems.push(format!("silent stall: a run was still going after {RUN_LIMIT:?}"));
            return;
        }
    };
    let Some(error) = error else { return };
    out.failed_runs += 1;
    *out.variants.entry(error.variant.clone()).or_default() += 1;
    // A network fault is a link problem a person can act on; UNKNOWN says nothing.
    if error.variant == "UNKNOWN" {
        out.problems.push(format!("a fault ended a run as UNKNOWN: {}", error.full_error));
    }
    // Prepare runs in the first syncs only, where no central restarts or is killed, so its
    // preparation always completes: a lost or duplicated request must not end it (review 6:
    // a duplicated `initialise` set "started" anew after the site's wait).
    if error.variant == "PREPARATION_INCOMPLETE" {
        out.problems.push(format!("network faults alone left a preparation incomplete: {}", error.full_error));
    }
    if error.variant.is_empty() || error.full_error.is_empty() {
        out.problems.push(format!("a failed run left no variant or text: {error:?}"));
    }
    let stored: Option<String> =
        sqlx::query_scalar("SELECT error_code FROM sync_log ORDER BY started_datetime DESC, rowid DESC LIMIT 1")
            .fetch_one(&site.state.db)
            .await
            .unwrap();
    if stored.as_deref() != Some(error.variant.as_str()) {
        out.problems
            .push(format!("failed run not stored with its variant: stored {stored:?}, reported {}", error.variant));
    }
}

/// Sync once (checked), and meanwhile, in the replica variant, kill the replica that stopped at
/// the kill point (so the run is not left waiting on it).
async fn sync_killing(site: &TestSite, out: &mut Outcome, centrals: &mut World, replicated: &mut Option<Replicated>) {
    let sync = sync_checked(site, out);
    tokio::pin!(sync);
    if let Some(marker) = replicated.as_ref().filter(|r| !r.killed).map(|r| r.marker.clone()) {
        tokio::select! {
            _ = &mut sync => return,
            pid = world::wait_marker(&marker) => {
                if let Some(r) = replicated.as_mut() { world::kill_at_marker(centrals, r, pid).await; }
            }
        }
    }
    (&mut sync).await;
}

/// Until it reaches quiescence; what `sync_killing` is to `sync_checked`, unchecked.
async fn sync_plain(site: &TestSite, centrals: &mut World, replicated: &mut Option<Replicated>) -> bool {
    let sync = site.sync();
    tokio::pin!(sync);
    if let Some(marker) = replicated.as_ref().filter(|r| !r.killed).map(|r| r.marker.clone()) {
        tokio::select! {
            e = &mut sync => return e.is_none(),
            pid = world::wait_marker(&marker) => {
                if let Some(r) = replicated.as_mut() { world::kill_at_marker(centrals, r, pid).await; }
            }
        }
    }
    (&mut sync).await.is_none()
}

/// The kill point of a replica run, by seed: mid-integration on the V5 central, on the V6
/// central, or none (the random kills of a round still happen).
pub fn kill_point_of(seed: u64) -> Option<&'static str> {
    match seed % 3 {
        0 => Some("legacy-central-integrating"),
        1 => Some("central-integrating"),
        _ => None,
    }
}

/// One seeded run; with `replicated`, both centrals run as two replica processes each on one
/// PostgreSQL database behind round-robin relays, and a central "restart" is a `kill -9` of
/// one replica (mid-push, or wherever it is) and a new process in its place.
pub async fn run_one(seed: u64, mut replicated: Option<Replicated>) -> Outcome {
    let mut rng = world::rng(seed);
    let rate = rng.random_range(0.05..0.3);
    let schedule = Schedule::new(rng.random(), 0.0);
    // One run in twenty has a preparation slower than the site's idle-read timeout (decided by
    // the seed itself, so the random draws of every other seed stay as they were). Not with
    // replicas, whose processes have no such knob.
    let slow_prepare = seed.is_multiple_of(20) && replicated.is_none();
    let mut centrals = world::start_centrals(&schedule, slow_prepare, replicated.as_ref()).await;
    let mut model = Model::default();
    model.refusing = rng.random_bool(0.3);
    let site = world::setup(&centrals, &mut model).await;
    world::seed_store_data(&mut world::rng(seed ^ 0x5EED_DA7A), &centrals, &mut model).await;
    let admin = site.admin().await;
    let mut out = Outcome::default();
    schedule.set_rate(rate);
    // The first sync (initialisation) under faults too, until it gets through.
    for _ in 0..10 {
        sync_killing(&site, &mut out, &mut centrals, &mut replicated).await;
        if site.state.sync.latest_error().is_none() {
            break;
        }
    }
    if site.state.sync.latest_error().is_some() {
        schedule.set_rate(0.0);
        sync_killing(&site, &mut out, &mut centrals, &mut replicated).await;
        schedule.set_rate(rate);
    }
    // Drawn apart from `rng`, so the rest of a seed's draws stay as they were.
    let mut db_rng = world::rng(seed ^ 0xDB_FA17);
    for _ in 0..ROUNDS {
        world::make_changes(&mut rng, &centrals, &site, &admin, &mut model).await;
        let mut restart = rng.random_bool(0.15).then(|| (rng.random_bool(0.5), rng.random_range(0..120u64)));
        // About one round in twelve has a failing site table (and no network fault or restart,
        // so a failed run has one cause): it must end as DATABASE_ERROR, lose nothing, and the
        // following runs (the table working again) must catch up.
        let db_fault = db_rng.random_bool(0.08).then(|| DB_FAULTS[db_rng.random_range(0..DB_FAULTS.len())]);
        if let Some((_, when, _)) = db_fault {
            schedule.set_rate(0.0);
            restart = None;
            set_db_fault(&site, Some(when)).await;
            out.db_fault_rounds += 1;
        }
        let (failed_before, restarts_before) = (out.failed_runs, centrals.restarts);
        // Sync while the site is watched for an invoice without its lines, and maybe restart a
        // central part-way.
        let watch = async {
            loop {
                let missing = world::invoices_missing_lines(&site, &model.invoices).await;
                if !missing.is_empty() {
                    return missing;
                }
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        };
        let restarting = async {
            if let Some((v5, after)) = restart {
                tokio::time::sleep(Duration::from_millis(after)).await;
                Some(v5)
            } else {
                std::future::pending().await
            }
        };
        let mut seen = None;
        {
            let sync = sync_checked(&site, &mut out);
            tokio::pin!(sync);
            let marker = replicated.as_ref().filter(|r| !r.killed).map(|r| r.marker.clone());
            let kill_point = async move {
                match marker {
                    Some(marker) => world::wait_marker(marker.as_path()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = &mut sync => {}
                missing = watch => seen = Some(missing),
                v5 = restarting => {
                    if let Some(v5) = v5 { centrals.restart(v5).await; }
                    (&mut sync).await;
                }
                pid = kill_point => {
                    if let Some(r) = replicated.as_mut() { world::kill_at_marker(&mut centrals, r, pid).await; }
                    (&mut sync).await;
                }
            }
        }
        if let Some(missing) = seen {
            out.problems.push(format!("invoice visible without its lines: {missing:?}"));
        }
        if let Some((what, _, want)) = db_fault {
            set_db_fault(&site, None).await;
            schedule.set_rate(rate);
            // A replica killed at its kill point during the round is a second cause (its
            // connections cut): the round proves nothing about the table's variant then.
            let killed_meanwhile = centrals.restarts > restarts_before;
            if out.failed_runs > failed_before && !killed_meanwhile {
                let latest = site.state.sync.latest_error();
                let error = latest.as_ref().map(|e| e.variant.clone()).unwrap_or_default();
                if error == want {
                    out.db_fault_errors += 1;
                } else {
                    let full = latest.map(|e| e.full_error).unwrap_or_default();
                    out.problems
                        .push(format!("a failing site table ({what}) ended the run as {error:?}, not {want}: {full}"));
                }
            }
        }
    }
    // Quiescence: faults off, sync until a run succeeds with nothing left to push, then once
    // more to prove a settled site changes nothing on either central (no echo, no re-send).
    schedule.set_rate(0.0);
    let mut settled = false;
    for _ in 0..6 {
        if sync_plain(&site, &mut centrals, &mut replicated).await
            && site.state.sync.records_to_push().await.unwrap() == 0
        {
            settled = true;
            break;
        }
    }
    if !settled {
        out.problems.push(format!("never reached quiescence: last error {:?}", site.state.sync.latest_error()));
    }
    let before = world::central_activity(&centrals).await;
    sync_killing(&site, &mut out, &mut centrals, &mut replicated).await;
    let after = world::central_activity(&centrals).await;
    if before != after {
        out.problems.push(format!("a settled run changed the centrals: {before:?} -> {after:?}"));
    }
    out.problems.extend(world::check(&centrals, &site, &model).await);
    for fault in schedule.injected.lock().unwrap().iter() {
        let name = match fault {
            Fault::Delay(_) => "Delay".to_owned(),
            other => format!("{other:?}"),
        };
        *out.faults.entry(name).or_default() += 1;
    }
    out.restarts = centrals.restarts;
    out.refused_records = model.refused.len() as u32;
    out.refused_pushes = centrals.v5_relay().refusals() + centrals.v6_relay().refusals();
    out
}

/// A stable seed per run index from the base seed (so the soak's runs spread).
pub fn run_seed(base: u64, index: u64) -> u64 {
    let mut rng = StdRng::seed_from_u64(base ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    rng.random()
}
