//! Backing up and restoring a SQLite database, the same way for every role: the site
//! (`outpost site backup --to FILE`, `restore --from FILE`) and the centrals on SQLite
//! (`outpost legacy-central …`, `outpost central …`); and the lock that tells a restore (or a
//! second server) that a server is running on a database file.
//!
//! A backup is `VACUUM INTO`: a consistent copy taken while the server keeps serving. The same
//! copy is made automatically before a migration changes a database ([`crate::db`]). A central
//! on PostgreSQL is backed up with `pg_dump` instead.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;

/// The backup subcommands every role mounts among its admin commands.
#[derive(Debug, Clone, Subcommand)]
pub enum BackupCommand {
    /// Write a consistent copy of the database to a new file (works while the server serves).
    Backup {
        /// The backup file to create (never overwritten).
        #[arg(long, alias = "out", value_name = "FILE")]
        to: PathBuf,
    },
    /// Replace the database with a backup; refused while the server runs. The database it
    /// replaces is kept beside it as `FILE.before-restore-TIME`.
    Restore {
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
    },
}

/// Which database a role backs up, and the change-log sequences a restore must move on.
#[derive(Debug, Clone, Copy)]
pub struct Database<'a> {
    /// The SQLite file.
    pub path: &'a Path,
    /// The role's name on the command line (`site`, `legacy-central`, `central`), for messages.
    pub role: &'static str,
    /// AUTOINCREMENT tables whose ids others keep as cursors or versions (see [`restore`]).
    pub sequences: &'static [&'static str],
    /// A table only this role's database has, so a backup of another role is refused.
    pub marker: &'static str,
}

/// Run `command` against the database of a central at `url` (`database` names its role's
/// tables); refused for PostgreSQL.
pub async fn run_central(url: &str, database: fn(&Path) -> Database<'_>, command: BackupCommand) -> anyhow::Result<()> {
    let path = crate::db::sqlite_path(url).ok_or(BackupError::NotSqlite)?;
    run(database(&path), command).await
}

/// Run `command` against `db`.
pub async fn run(db: Database<'_>, command: BackupCommand) -> anyhow::Result<()> {
    match command {
        BackupCommand::Backup { to } => {
            backup_file(db, &to).await?;
            println!("backup written to {}", to.display());
        }
        BackupCommand::Restore { from } => {
            restore(db, &from).await?;
            println!("restored {} into {}", from.display(), db.path.display());
        }
    }
    Ok(())
}

/// Held by a running server for its whole life: an exclusive lock on `FILE.lock` beside its
/// database (`site.lock` for `site.db`).
#[derive(Debug)]
pub struct DbLock {
    _file: File,
}

/// Why a database could not be locked, backed up or restored.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "an Outpost server is running on {db} (its lock {lock} is held); stop it first (e.g. systemctl stop outpost-{role})"
    )]
    Running { db: PathBuf, lock: PathBuf, role: &'static str },
    #[error("{path} is not a usable backup: {why} (hint: give a file written by `outpost {role} backup`)")]
    NotABackup { path: PathBuf, why: String, role: &'static str },
    #[error("there is no database at {0} to back up (hint: check --data-dir or --database-url)")]
    NoDatabase(PathBuf),
    #[error(
        "this central's database is on PostgreSQL, which Outpost does not copy itself (hint: use pg_dump and pg_restore)"
    )]
    NotSqlite,
}

/// The lock file of the database at `db`.
pub fn lock_path(db: &Path) -> PathBuf {
    db.with_extension("lock")
}

/// Take the lock of the database `db.path`, or say that another server holds it.
pub fn lock(db: Database<'_>) -> anyhow::Result<DbLock> {
    if let Some(dir) = db.path.parent() {
        crate::db::create_private_dir(dir)?;
    }
    let path = lock_path(db.path);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(DbLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => {
            Err(BackupError::Running { db: db.path.to_owned(), lock: path, role: db.role }.into())
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
}

/// A consistent copy of the existing database `db.path` in the new file `to` (0600), while a
/// server may keep using it. Nothing is created or migrated at `db.path`.
pub async fn backup_file(db: Database<'_>, to: &Path) -> anyhow::Result<()> {
    if std::fs::metadata(db.path).map_or(true, |m| !m.is_file() || m.len() == 0) {
        return Err(BackupError::NoDatabase(db.path.to_owned()).into());
    }
    let options =
        sqlx::sqlite::SqliteConnectOptions::new().filename(db.path).busy_timeout(std::time::Duration::from_secs(10));
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open {}", db.path.display()))?;
    let written = crate::db::backup_sqlite(&pool, to).await;
    pool.close().await;
    written
}

/// Check that `from` is a sound Outpost database, keep the current one aside, and put `from`
/// in its place (0600). Refused while a server runs on it.
///
/// Others keep the ids of `db.sequences` (change-log cursors): sites keep a central's change-log
/// cursor, and a site's pushes carry its own changelog cursor as their version, which a central
/// uses to drop a copy older than one it already integrated (`central_shared::push_buffer`).
/// A restored database would hand out again ids given out after its backup was taken, so a
/// change made after the restore could be skipped by a site already past that cursor, or
/// dropped by a central as older than one it has. The next id therefore starts past any that can
/// have been used: the current time in microseconds (nobody makes a million changes a second),
/// or where it was if later. What the lost ids carried is gone with the restore either way.
pub async fn restore(db: Database<'_>, from: &Path) -> anyhow::Result<()> {
    let _lock = lock(db)?;
    check_backup(db, from).await?;
    if db.path.exists() {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let name = format!("{}.before-restore-{stamp}", db.path.file_name().unwrap_or_default().to_string_lossy());
        let aside = db.path.with_file_name(name);
        std::fs::rename(db.path, &aside).with_context(|| format!("cannot move {} aside", db.path.display()))?;
        println!("the replaced database is kept as {}", aside.display());
    }
    for suffix in ["-wal", "-shm"] {
        let mut name = db.path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
    crate::db::create_private_file(db.path)?;
    // Copied into the private file rather than with `std::fs::copy`, which would give the
    // database the backup's mode (often 0644 once a backup has travelled).
    let copy = || -> std::io::Result<u64> {
        let mut source = std::fs::File::open(from)?;
        let mut target = std::fs::File::options().write(true).truncate(true).open(db.path)?;
        let copied = std::io::copy(&mut source, &mut target)?;
        target.sync_all()?;
        Ok(copied)
    };
    copy().with_context(|| format!("cannot copy {} to {}", from.display(), db.path.display()))?;
    move_sequences_past_any_used(db).await
}

async fn move_sequences_past_any_used(db: Database<'_>) -> anyhow::Result<()> {
    use sqlx::ConnectOptions;
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new().filename(db.path).connect().await?;
    let now = chrono::Utc::now().timestamp_micros();
    for table in db.sequences {
        let moved = sqlx::query("UPDATE sqlite_sequence SET seq = MAX(seq, $1) WHERE name = $2")
            .bind(now)
            .bind(*table)
            .execute(&mut conn)
            .await?;
        if moved.rows_affected() == 0 {
            sqlx::query("INSERT INTO sqlite_sequence (name, seq) VALUES ($2, $1)")
                .bind(now)
                .bind(*table)
                .execute(&mut conn)
                .await?;
        }
    }
    Ok(())
}

async fn check_backup(db: Database<'_>, from: &Path) -> anyhow::Result<()> {
    use sqlx::ConnectOptions;
    let not = |why: String| BackupError::NotABackup { path: from.to_owned(), why, role: db.role };
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
    // A backup of another role would replace this role's database with tables it does not have.
    for table in db.sequences.iter().chain([&db.marker]) {
        let found: Option<(String,)> =
            sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table' AND name = $1")
                .bind(*table)
                .fetch_optional(&mut conn)
                .await
                .map_err(|e| not(e.to_string()))?;
        if found.is_none() {
            return Err(not(format!("it has no {table} table, so it is not a {} database", db.role)).into());
        }
    }
    Ok(())
}
