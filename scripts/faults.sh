#!/usr/bin/env bash
# The seeded fault harness (issue 6). CI runs the default count as part of `cargo test`;
# this runs it on its own with a count and an optional base seed, printing the summary:
#   bash scripts/faults.sh --runs 1000            # the soak recorded in RELIABILITY.md
#   bash scripts/faults.sh --runs 200 --seed 42   # reproduce a whole CI run from its seed
#   bash scripts/faults.sh --only 1234567         # rerun one failing run's seed
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/outpost-target}"
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) export OUTPOST_FAULT_RUNS="$2"; shift 2 ;;
    --seed) export OUTPOST_FAULT_SEED="$2"; shift 2 ;;
    --only) export OUTPOST_FAULT_ONLY="$2"; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--seed S] [--only SEED]" >&2; exit 2 ;;
  esac
done
cargo test -p outpost --test reliability -- --nocapture faults::seeded_fault_runs
