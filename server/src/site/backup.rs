//! Restoring the site's database from a backup (`outpost site restore --from FILE`), and the
//! lock that tells a restore (or a second server) that a site is running on a data folder.
//!
//! Backups themselves are `VACUUM INTO` ([`crate::db::backup_sqlite`]): `outpost site backup`
//! while the site serves, and automatically before a migration changes the database.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Held by a running site for its whole life: an exclusive lock on `DATA_DIR/site.lock`.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Why a data folder could not be locked or restored.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("a site is running on {0} (its lock site.lock is held); stop it first (e.g. systemctl stop outpost-site)")]
    Running(PathBuf),
    #[error("{path} is not a usable site backup: {why} (hint: give a file written by `outpost site backup`)")]
    NotABackup { path: PathBuf, why: String },
}

/// Take the data folder's lock, or say that another site holds it.
pub fn lock_data_dir(data_dir: &Path) -> anyhow::Result<DataDirLock> {
    crate::db::create_private_dir(data_dir)?;
    let path = data_dir.join("site.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(DataDirLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(BackupError::Running(data_dir.to_owned()).into()),
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
}

/// Check that `from` is a sound site database, keep the current one aside, and put `from`
/// in its place (0600). Refused while a site runs on `data_dir`.
pub async fn restore(data_dir: &Path, from: &Path) -> anyhow::Result<()> {
    let _lock = lock_data_dir(data_dir)?;
    check_backup(from).await?;
    let db = data_dir.join("site.db");
    if db.exists() {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let aside = data_dir.join(format!("site.db.before-restore-{stamp}"));
        std::fs::rename(&db, &aside).with_context(|| format!("cannot move {} aside", db.display()))?;
        println!("the replaced database is kept as {}", aside.display());
    }
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(data_dir.join(format!("site.db{suffix}")));
    }
    crate::db::create_private_file(&db)?;
    // Copied into the private file rather than with `std::fs::copy`, which would give site.db
    // the backup's mode (often 0644 once a backup has travelled).
    let copy = || -> std::io::Result<u64> {
        let mut source = File::open(from)?;
        let mut target = File::options().write(true).truncate(true).open(&db)?;
        let copied = std::io::copy(&mut source, &mut target)?;
        target.sync_all()?;
        Ok(copied)
    };
    copy().with_context(|| format!("cannot copy {} to {}", from.display(), db.display()))?;
    move_changelog_cursor_past_any_used(&db).await
}

/// A site's pushes carry its changelog cursor as their version, and a central drops a copy older
/// than one it already integrated for that record (`central_shared::push_buffer`). A restored
/// database would hand out again the cursors of edits made after its backup was taken, so an
/// edit made after the restore could look older than one the central already has, and be
/// dropped. The next cursor therefore starts past any this site can have used: the current time
/// in microseconds (a site does not make a million changes a second), or where it was if later.
async fn move_changelog_cursor_past_any_used(db: &Path) -> anyhow::Result<()> {
    use sqlx::ConnectOptions;
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new().filename(db).connect().await?;
    let now = chrono::Utc::now().timestamp_micros();
    let moved = sqlx::query("UPDATE sqlite_sequence SET seq = MAX(seq, $1) WHERE name = 'changelog'")
        .bind(now)
        .execute(&mut conn)
        .await?;
    if moved.rows_affected() == 0 {
        sqlx::query("INSERT INTO sqlite_sequence (name, seq) VALUES ('changelog', $1)")
            .bind(now)
            .execute(&mut conn)
            .await?;
    }
    Ok(())
}

async fn check_backup(from: &Path) -> anyhow::Result<()> {
    use sqlx::ConnectOptions;
    let not = |why: String| BackupError::NotABackup { path: from.to_owned(), why };
    if !from.is_file() {
        return Err(not("no such file".into()).into());
    }
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(from)
        .read_only(true)
        .connect()
        .await
        .map_err(|e| not(e.to_string()))?;
    let (check,): (String,) =
        sqlx::query_as("PRAGMA integrity_check").fetch_one(&mut conn).await.map_err(|e| not(e.to_string()))?;
    if check != "ok" {
        return Err(not(format!("integrity check: {check}")).into());
    }
    let kv: Option<(String,)> =
        sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'")
            .fetch_optional(&mut conn)
            .await
            .map_err(|e| not(e.to_string()))?;
    if kv.is_none() {
        return Err(not("it has no Outpost migrations table".into()).into());
    }
    Ok(())
}
