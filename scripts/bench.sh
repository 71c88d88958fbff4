#!/usr/bin/env bash
# Build the benchmark (release) and run it: both centrals and a site on this machine, one JSON
# line per scenario on stdout as soon as it is measured, then a table; every figure beside a
# reference measured in the same run (BENCHMARKS.md). Arguments go to `outpost-bench`:
#   bash scripts/bench.sh                                      # every scenario, 100,000 records
#   bash scripts/bench.sh --million --scenarios initial_sync,memory
#   bash scripts/bench.sh --smoke                              # tiny sizes: does each still run?
#   bash scripts/bench.sh --scenarios central_scale --sites 10000 --replicas 1,2 [--warm-credentials]
#   bash scripts/bench.sh --help                               # every flag
# central_scale is measured on a throwaway PostgreSQL (scripts/postgres.sh), since its target
# is set for PostgreSQL, unless --postgres-url or OUTPOST_BENCH_POSTGRES_URL names a server.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_cargo

# Does this run measure central_scale without a PostgreSQL server of its own?
wants_postgres() {
  [ -z "${OUTPOST_BENCH_POSTGRES_URL:-}" ] || return 1
  local scenarios=""
  while [ $# -gt 0 ]; do
    case "$1" in
      -h|--help|-V|--version|--postgres-url|--postgres-url=*) return 1 ;;
      --scenarios) scenarios="${2:-}"; shift ;;
      --scenarios=*) scenarios="${1#--scenarios=}" ;;
    esac
    shift
  done
  [ -z "$scenarios" ] || [[ ",$scenarios," == *,central_scale,* ]]
}

say "building outpost-bench (release)"
(cd "$ROOT" && cargo build --release -p outpost-bench --quiet)
if wants_postgres "$@"; then
  say "starting a throwaway PostgreSQL for central_scale"
  export OUTPOST_BENCH_POSTGRES_URL="$(bash "$ROOT/scripts/postgres.sh")"
fi
exec "$CARGO_TARGET_DIR/release/outpost-bench" "$@"
