#!/usr/bin/env bash
# Set up whatever is missing, build, and run `outpost demo`: a seeded V5 central, V6 central
# and site in one process on 127.0.0.1:8001, :8002 and :8000. Extra arguments go to `outpost demo`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
setup_rust
build_app
say "building outpost"
(cd "$ROOT" && cargo build -p outpost --quiet)
say "starting the demo: open http://127.0.0.1:8000 (site demo-site, password demo; admin password outpost-admin)"
exec "$CARGO_TARGET_DIR/debug/outpost" demo "$@"
