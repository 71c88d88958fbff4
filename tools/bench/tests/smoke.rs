//! The bench still works: `outpost-bench --smoke` (tiny N, a few simulated sites) produces
//! every scenario's figures. No timing is asserted; the figures of a CI machine mean nothing.

use outpost_bench::{self as bench, BenchOptions, SCENARIOS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_produces_its_figures() {
    // The site process runs from the bench's own binary, which hands `site …` to the outpost CLI.
    let options = BenchOptions::smoke(env!("CARGO_BIN_EXE_outpost-bench").into());
    let report = bench::run(&options).await.unwrap();
    for scenario in SCENARIOS {
        let figure = report.get(scenario).unwrap_or_else(|| panic!("no figures for {scenario}"));
        // The peer needs Node and the npm registry, the wire reference an `xz` command, the
        // realistic-data comparison the shared fixtures; when one is missing it says why instead.
        if figure.met.is_none() {
            assert!(["peer", "wire", "realistic"].contains(&scenario), "{scenario} did not run: {:?}", figure.note);
            assert!(figure.note.as_deref().is_some_and(|n| !n.is_empty()));
            continue;
        }
        assert!(!figure.values.is_empty(), "{scenario} has no numbers");
        assert!(!figure.figure.is_empty() && !figure.reference.is_empty(), "{scenario}: {figure:?}");
    }
}
