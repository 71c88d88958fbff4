//! Secrets from files (`--admin-password-file`, `--password-file`): a password given on the
//! command line is visible to every user of the machine in the process list; a file readable by
//! the service user alone is not.

use std::path::Path;

/// The first line of a secret file, without its line ending.
pub fn read_file(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read the secret file {}: {e}", path.display()))?;
    let line = text.lines().next().unwrap_or_default().to_owned();
    anyhow::ensure!(!line.is_empty(), "the secret file {} is empty (hint: one line, the secret)", path.display());
    Ok(line)
}
