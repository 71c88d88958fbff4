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

mod run;
mod world;

use std::collections::HashMap;
use std::time::Instant;

/// Runs in CI; each is small (a few dozen records) so they fit the CI budget on 2 cores.
const CI_RUNS: u64 = 200;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_fault_runs_lose_nothing_duplicate_nothing_and_never_stall_silently() {
    let seeds: Vec<u64> = match env_u64("OUTPOST_FAULT_ONLY") {
        Some(seed) => vec![seed],
        None => {
            let runs = env_u64("OUTPOST_FAULT_RUNS").unwrap_or(CI_RUNS);
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
        let outcome = run::run_one(*seed).await;
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
    if seeds.len() >= 50 {
        assert!(refused_records > 0 && refused_pushes > 0, "no run exercised a refusing central");
        assert!(db_fault_errors > 0, "no run met a failing site table");
    }
    assert!(bad.is_empty(), "{} of {} seeded runs broke an invariant; seeds {bad:?}", bad.len(), seeds.len());
}
