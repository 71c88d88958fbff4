# Shared by the scripts: where things live, and the set-up steps each script needs.
# Every step checks first and does nothing when its tool is already there, so a second run
# takes about a second.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# One target directory outside the clone, reused by later clones (CI's fresh one included).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/outpost-target}"
mkdir -p "$CARGO_TARGET_DIR"
APP_DIR="$ROOT/target/site"
# The server embeds the app from this folder. Named by absolute path, so that a build in another
# checkout sharing this target folder (a CI clone) makes Cargo run server/build.rs again instead
# of reusing an embed of that other checkout's app.
export OUTPOST_EMBED_APP_DIR="$APP_DIR"
# The binary embeds the app built here (server/build.rs); `--app-dir` serves a folder instead.

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian packages, installed only when one of the given commands is missing.
need_debian() { # need_debian "cmd pkg" ...
  local missing=()
  for pair in "$@"; do
    set -- $pair
    command -v "$1" >/dev/null 2>&1 || missing+=("$2")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

need_cargo() {
  command -v cargo >/dev/null || { echo "cargo is missing: install Rust with rustup first" >&2; exit 1; }
}

setup_rust() {
  need_cargo
  if ! rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  # The wasm-bindgen CLI must match the wasm-bindgen crate in Cargo.lock exactly.
  local want
  want="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' "$ROOT/Cargo.lock")"
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
    say "installing wasm-bindgen-cli $want (about 2 minutes, once)"
    cargo install wasm-bindgen-cli --version "=$want" --locked 2>/dev/null \
      || cargo install wasm-bindgen-cli --version "=$want"
  fi
  need_debian "gzip gzip" "brotli brotli"
}

setup_browser_tests() {
  need_debian "chromium chromium" "chromedriver chromium-driver"
  command -v npm >/dev/null || { echo "npm is missing: install Node.js 20" >&2; exit 1; }
  local stamp="$ROOT/end2end/node_modules/.outpost-lock"
  if [ ! -f "$stamp" ] || ! cmp -s "$ROOT/end2end/package-lock.json" "$stamp"; then
    say "installing the end2end npm packages"
    (cd "$ROOT/end2end" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$ROOT/end2end/package-lock.json" "$stamp"
  fi
}

# Build the browser app into target/site: wasm (size profile) + wasm-bindgen + static files,
# precompressed with gzip and brotli so the server can send the smallest encoding.
build_app() {
  say "building the browser app"
  (cd "$ROOT" && cargo build -p app --target wasm32-unknown-unknown --profile wasm-release --quiet)
  rm -rf "$APP_DIR" && mkdir -p "$APP_DIR/pkg" "$APP_DIR/style"
  wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
    --out-dir "$APP_DIR/pkg" --out-name app "$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/app.wasm"
  cp -r "$ROOT/public/." "$APP_DIR/"
  cp "$ROOT/style/"*.css "$APP_DIR/style/"
  find "$APP_DIR" -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.css' -o -name '*.html' -o -name '*.svg' \) \
    -exec gzip -k -9 -f {} \; -exec brotli -k -q 11 -f {} \;
  local wasm="$APP_DIR/pkg/app_bg.wasm"
  printf 'app wasm: %s KB raw, %s KB gzip, %s KB brotli\n' \
    "$(( $(stat -c %s "$wasm") / 1024 ))" "$(( $(stat -c %s "$wasm.gz") / 1024 ))" "$(( $(stat -c %s "$wasm.br") / 1024 ))" >&2
}
