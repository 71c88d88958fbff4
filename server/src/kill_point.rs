//! What the site's and the centrals' test kill points share: reading which point a test asked
//! for (`<name>=<marker file>` in a variable), only in a build with the cargo feature
//! `test-kill-points`, which only the tests' builds have (see `server/Cargo.toml`), so any
//! other binary ignores the variable and can neither be wedged nor made to write a file
//! wherever it says. Gated by `debug_assertions` before: `scripts/demo.sh` builds debug, and a
//! release profile with debug assertions on would have re-enabled them silently (review
//! finding 15). What a point does once reached differs and stays with each:
//! `site::sync::kill_point`, `central_shared::kill_point`.

/// The marker file to write when `env` asks for the point `name`, in a test build.
pub fn asked(env: &str, name: &str) -> Option<String> {
    if !cfg!(feature = "test-kill-points") {
        return None;
    }
    let spec = std::env::var_os(env)?;
    let spec = spec.to_string_lossy();
    let (point, marker) = spec.split_once('=')?;
    (point == name).then(|| marker.to_string())
}
