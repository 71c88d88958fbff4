#!/usr/bin/env bash
# Set up whatever is missing, build, and run every test: the Rust unit and integration tests
# (the centrals on SQLite and on PostgreSQL), then the browser tests in Debian's Chromium.
# Formatting and lints come first: they fail in seconds, the tests take minutes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
setup_rust
setup_browser_tests
build_app

say "formatting (rustfmt.toml) and lints (clippy, warnings are errors)"
(cd "$ROOT" && cargo fmt --all --check)
(cd "$ROOT" && cargo clippy --workspace --exclude app --all-targets --quiet -- -D warnings)
(cd "$ROOT" && cargo clippy -p app --target wasm32-unknown-unknown --quiet -- -D warnings)

say "starting a throwaway PostgreSQL for the central tests"
export OUTPOST_TEST_POSTGRES_URL="$(bash "$ROOT/scripts/postgres.sh")"

# With the shared real fixtures beside the checkout, the tests on them must run, not skip.
if [ -d "$ROOT/../shared/fixtures/legacy-v5" ] || [ -n "${OUTPOST_SHARED_DIR:-}" ]; then
  export OUTPOST_REQUIRE_FIXTURES=1
fi

say "Rust tests"
(cd "$ROOT" && cargo test --workspace --exclude app --quiet)

say "browser tests"
export OUTPOST_BIN="$CARGO_TARGET_DIR/debug/outpost"
(cd "$ROOT" && cargo build -p outpost --quiet)
(cd "$ROOT/end2end" && npx playwright test)
say "all tests passed"
