//! Embeds the built browser app (`target/site` of the checkout, which `scripts/lib.sh`
//! `build_app` fills; or `OUTPOST_EMBED_APP_DIR`) into the binary, so a release binary copied
//! alone to a server is a whole site. When the app has not been built (a fresh clone running
//! `cargo check`), the folder is created empty and the binary says so on `/`; building the
//! app later changes the folder, which makes Cargo run this again.
//!
//! Several checkouts may share one target folder (CI clones do), and Cargo's fingerprint of
//! this script is the same in all of them. So the default folder is watched by a path relative
//! to this package (resolved in whichever checkout builds), and `scripts/lib.sh` names the
//! folder in `OUTPOST_EMBED_APP_DIR`, whose change of value alone makes Cargo run this again.

use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=OUTPOST_EMBED_APP_DIR");
    let (dir, watched) = match std::env::var_os("OUTPOST_EMBED_APP_DIR") {
        Some(dir) => (PathBuf::from(&dir), PathBuf::from(dir)),
        None => (Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site"), PathBuf::from("../target/site")),
    };
    // An existing folder, so that the scan below has something to watch (a missing path
    // would make Cargo rerun this on every build).
    let _ = std::fs::create_dir_all(&dir);
    println!("cargo:rerun-if-changed={}", watched.display());
    let mut files = Vec::new();
    collect(&dir, &dir, &mut files);
    files.sort();
    let mut out = String::from("/// Every file of the built app: path relative to the app folder, ETag, bytes.\n");
    out.push_str("pub static FILES: &[(&str, &str, &[u8])] = &[\n");
    for (name, path) in files {
        let bytes = std::fs::read(&path).expect("an app file is readable");
        let mut hasher = DefaultHasher::new();
        hasher.write(&bytes);
        let etag = format!("\"{:016x}-{:x}\"", hasher.finish(), bytes.len());
        writeln!(out, "    ({name:?}, {etag:?}, include_bytes!({:?})),", path.display().to_string()).unwrap();
    }
    out.push_str("];\n");
    let target = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("app_files.rs");
    std::fs::write(target, out).expect("OUT_DIR is writable");
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(relative) = path.strip_prefix(root) {
            let name = relative.to_string_lossy().replace('\\', "/");
            let absolute = std::fs::canonicalize(&path).unwrap_or(path);
            files.push((name, absolute));
        }
    }
}
