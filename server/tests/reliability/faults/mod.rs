//! The seeded fault harness (issue 6): many small runs, each with its own seed, in which the
//! site and both centrals keep changing data while a relay drops, cuts, delays and duplicates
//! requests and responses and centrals restart; then faults stop, sync settles, and the run is
//! checked: nothing lost, nothing duplicated, no invoice without its lines, every failed run
//! stored with a variant. In about a third of the runs the centrals (through the relays) refuse
//! some of the site's records without naming them: those must be listed as outgoing refusals
//! with the central's reason, never reach a central, and never stop the other records or a
//! later run. Some rounds make one site table's writes fail for one run (a trigger): the run
//! must end as `DATABASE_ERROR` (`INTEGRATION_ERROR` inside Integrate), never `UNKNOWN`, and
//! the end-of-run checks prove nothing was lost and later runs catch up.
//!
//! `OUTPOST_FAULT_RUNS=N` sets the number of runs (CI: the default), `OUTPOST_FAULT_SEED=S`
//! the base seed (default: random, printed), `OUTPOST_FAULT_ONLY=S` reruns one run's seed.
//! `scripts/faults.sh --runs 1000` is the soak.
//!
//! The replica variant (issue 15) runs the same rounds and checks with both centrals as two
//! replica processes each on one PostgreSQL database, behind round-robin relays: a central
//! restart is a `kill -9` of one replica (wherever it is: mid-push, mid-pull, mid-integration)
//! and a new process in its place, and two runs in three also stop the first integration of one
//! central at its kill point (inside the integration transaction) and `kill -9` that replica
//! there; the other replica takes the integration over. Its run count is
//! `OUTPOST_REPLICA_FAULT_RUNS` (CI: [`CI_REPLICA_RUNS`]); seeds as above. It needs
//! `OUTPOST_TEST_POSTGRES_URL` and is skipped without it.

mod run;
mod world;

use std::collections::HashMap;
use std::time::Instant;

/// Runs in CI; each is small (a few dozen records) so they fit the CI budget on 2 cores.
const CI_RUNS: u64 = 200;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Replica-variant runs in CI: each starts four central processes (and more for its kills) on
/// two new databases, and a run killed mid-integration waits out a lease: 3.5 s a run on the
/// quiet 2-core machine (100 runs in 349 s, RELIABILITY.md), so the 200 runs issue 15 asks of
/// CI cost about 12 minutes, inside CI's budget.
const CI_REPLICA_RUNS: u64 = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_fault_runs_lose_nothing_duplicate_nothing_and_never_stall_silently() {
    harness("OUTPOST_FAULT_RUNS", CI_RUNS, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_fault_runs_on_two_replicas_per_central_survive_kill_9_mid_push_and_mid_integration() {
    let Some(server) = std::env::var(outpost_testkit::db::POSTGRES_ENV).ok().filter(|u| !u.is_empty()) else {
        eprintln!("note: the replica fault harness needs OUTPOST_TEST_POSTGRES_URL; skipped");
        return;
    };
    harness("OUTPOST_REPLICA_FAULT_RUNS", CI_REPLICA_RUNS, Some(server)).await;
}

/// Run the seeded runs (`runs_env` or `ci_runs` of them), each on a world of its own: in
/// process on SQLite, or, with `postgres` (a server URL), as replicas on new databases there.
async fn harness(runs_env: &str, ci_runs: u64, postgres: Option<String>) {
    let seeds: Vec<u64> = match env_u64("OUTPOST_FAULT_ONLY") {
        Some(seed) => vec![seed],
        None => {
            let runs = env_u64(runs_env).unwrap_or(ci_runs);
            let base = env_u64("OUTPOST_FAULT_SEED").unwrap_or_else(|| {
                // A fresh base seed each time unless one is given; it is printed to rerun.
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
            println!("fault harness: {runs} runs, base seed {base} (rerun all: OUTPOST_FAULT_SEED={base})");
            (0..runs).map(|i| run::run_seed(base, i)).collect()
        }
    };
    let started = Instant::now();
    let (mut runs, mut failed, mut restarts) = (0u32, 0u32, 0u32);
    let (mut refused_records, mut refused_pushes) = (0u32, 0u32);
    let (mut db_fault_rounds, mut db_fault_errors) = (0u32, 0u32);
    let (mut variants, mut injected) = (HashMap::<String, u32>::new(), HashMap::<String, u32>::new());
    let mut bad = Vec::new();
    for (i, seed) in seeds.iter().enumerate() {
        let replicated = match &postgres {
            Some(server) => {
                let db = outpost_testkit::TestDb::postgres(server).await;
                Some(world::Replicated::new(db, run::kill_point_of(*seed)).await)
            }
            None => None,
        };
        let outcome = run::run_one(*seed, replicated).await;
        runs += outcome.runs;
        failed += outcome.failed_runs;
        restarts += outcome.restarts;
        refused_records += outcome.refused_records;
        refused_pushes += outcome.refused_pushes;
        db_fault_rounds += outcome.db_fault_rounds;
        db_fault_errors += outcome.db_fault_errors;
        for (k, v) in outcome.variants {
            *variants.entry(k).or_default() += v;
        }
        for (k, v) in outcome.faults {
            *injected.entry(k).or_default() += v;
        }
        if !outcome.problems.is_empty() {
            println!(
                "run {i} seed {seed} FAILED (rerun: OUTPOST_FAULT_ONLY={seed}):\n  {}",
                outcome.problems.join("\n  ")
            );
            bad.push(*seed);
        }
    }
    let mut faults: Vec<_> = injected.into_iter().collect();
    faults.sort();
    let mut variants: Vec<_> = variants.into_iter().collect();
    variants.sort();
    println!(
        "fault harness: {} seeded runs in {:.1} s; {runs} sync runs, {failed} failed under faults, {restarts} central restarts\n  faults injected: {faults:?}\n  failed runs by variant: {variants:?}\n  records refused by a central: {refused_records} ({refused_pushes} pushes refused)\n  rounds with a failing site table: {db_fault_rounds} ({db_fault_errors} runs failed with its variant)",
        seeds.len(),
        started.elapsed().as_secs_f64()
    );
    if seeds.len() >= 50 && postgres.is_none() {
        assert!(refused_records > 0 && refused_pushes > 0, "no run exercised a refusing central");
        assert!(db_fault_errors > 0, "no run met a failing site table");
    }
    assert!(bad.is_empty(), "{} of {} seeded runs broke an invariant; seeds {bad:?}", bad.len(), seeds.len());
}
