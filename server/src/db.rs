//! Database pools and migrations.
//!
//! The site uses SQLite directly (WAL mode), because its sync hot paths want SQLite's speed and
//! types. The centrals use sqlx's `Any` driver so the same code runs on SQLite (one machine) or
//! PostgreSQL (a central that serves many sites); each backend has its own migrations folder.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AnyPool, SqlitePool};

/// Page cache, in KiB, of a connection while it writes a large transaction (Integrate): an
/// initial sync touches every index page of tables with random ids, and a small cache turns
/// that into a read syscall per page.
pub const WRITER_CACHE_KIB: i64 = 16 * 1024;

/// Run `work` on one connection of `pool` with a page cache of [`WRITER_CACHE_KIB`], then give
/// the connection back with the default cache and its memory released (`shrink_memory`),
/// whatever `work` returned. `Err` only when the connection could not be had or set up.
pub async fn with_writer_cache<T, F>(pool: &SqlitePool, work: F) -> sqlx::Result<T>
where
    F: AsyncFnOnce(&mut sqlx::SqliteConnection) -> T,
{
    let mut conn = pool.acquire().await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA cache_size = -{WRITER_CACHE_KIB}"))).execute(&mut *conn).await?;
    let out = work(&mut conn).await;
    let reset = async {
        sqlx::query("PRAGMA cache_size = -2000").execute(&mut *conn).await?;
        sqlx::query("PRAGMA shrink_memory").execute(&mut *conn).await
    };
    if let Err(e) = reset.await {
        // Never hand a connection with a large cache back to the pool.
        tracing::warn!(error = %e, "could not reset a connection's page cache; closing it");
        conn.close_on_drop();
    }
    Ok(out)
}

/// Open (creating if needed) a SQLite database file in WAL mode and apply `migrator`.
///
/// A new folder is made 0700 and a new database file 0600 (SQLite gives its `-wal` and `-shm`
/// files the database's mode): the site's database holds the V5 site credential. Before a
/// migration changes an existing database, a copy of it is made beside it
/// (`FILE.before-migration-VERSION-TIME`), so a failed upgrade can be undone by hand.
pub async fn open_sqlite(path: &Path, migrator: &Migrator) -> anyhow::Result<SqlitePool> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    create_private_file(path)?;
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        // SQLite's default page cache (2 MB) per connection; the one connection that writes a
        // whole sync's records (Integrate) takes [`WRITER_CACHE_KIB`] for that transaction.
        // Each pooled connection keeps whatever cache it filled for as long as it lives, so a
        // large cache on every connection made the site's peak memory the sum of every
        // connection a sync happened to use: three of them held 16-20 MB each at 1M records
        // (issue 14, BENCHMARKS.md).
        .pragma("cache_size", "-2000");
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open SQLite database {}", path.display()))?;
    backup_before_migrating(&pool, path, migrator).await?;
    migrator.run(&pool).await.context("cannot apply migrations")?;
    Ok(pool)
}

/// A folder only its owner can enter (0700), created with its parents when missing.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// An empty file only its owner can read (0600), unless it exists already.
pub fn create_private_file(path: &Path) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

/// A consistent copy of the database behind `pool` in the new file `to` (0600), taken with
/// `VACUUM INTO` while others keep reading and writing.
pub async fn backup_sqlite(pool: &SqlitePool, to: &Path) -> anyhow::Result<()> {
    if to.exists() {
        anyhow::bail!("{} exists already; a backup never overwrites a file (hint: choose a new name)", to.display());
    }
    create_private_file(to)?;
    let result = sqlx::query("VACUUM INTO $1").bind(to.to_string_lossy().into_owned()).execute(pool).await;
    if let Err(e) = result {
        let _ = std::fs::remove_file(to);
        return Err(e).with_context(|| format!("cannot write the backup {}", to.display()));
    }
    Ok(())
}

/// Copy an existing database aside before `migrator` changes it (nothing for a new file or
/// one already up to date).
async fn backup_before_migrating(pool: &SqlitePool, path: &Path, migrator: &Migrator) -> anyhow::Result<()> {
    let has_table: Option<(String,)> =
        sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'")
            .fetch_optional(pool)
            .await?;
    if has_table.is_none() {
        return Ok(());
    }
    let applied: Vec<(i64,)> =
        sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success").fetch_all(pool).await?;
    let Some(pending) = migrator
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .find(|m| !applied.iter().any(|(v,)| *v == m.version))
    else {
        return Ok(());
    };
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let name = format!(
        "{}.before-migration-{}-{stamp}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        pending.version
    );
    let copy = path.with_file_name(name);
    backup_sqlite(pool, &copy).await.context("cannot back up the database before migrating it")?;
    tracing::info!("copied {} to {} before migrating it", path.display(), copy.display());
    Ok(())
}

/// Which SQL dialect a central's pool speaks; a few statements differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A central's database: SQLite or PostgreSQL behind one pool type.
#[derive(Clone, Debug)]
pub struct CentralDb {
    pub pool: AnyPool,
    pub backend: Backend,
}

/// The default lease of a replica's claim on a site (`central_shared::activity`, where it is
/// explained): here because the sessions' limits below are counted in leases.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// How long a central's PostgreSQL session may sit idle inside a transaction before the server
/// ends it, as a multiple of the integration lease (see [`SessionLimits`]).
pub const IDLE_IN_TRANSACTION_LEASES: u32 = 3;

/// Server-side TCP keepalive of a central's PostgreSQL sessions: first probe after this many
/// idle seconds, then one every [`KEEPALIVE_INTERVAL_SECS`], the peer declared gone after
/// [`KEEPALIVE_COUNT`] unanswered (about 25 s, where Linux's default is about 2 h 11 min).
pub const KEEPALIVE_IDLE_SECS: u32 = 10;
pub const KEEPALIVE_INTERVAL_SECS: u32 = 5;
pub const KEEPALIVE_COUNT: u32 = 3;

/// What each PostgreSQL session of a central is told when it connects, so that a replica that
/// stops without its sockets closing (a frozen machine, one cut off from the network) cannot
/// keep its locks for hours. `kill -9` closes the sockets and PostgreSQL ends the session at
/// once; a silent peer was noticed only when TCP keepalive gave up (about 2 h 11 min on Linux),
/// and meanwhile its open transaction kept a site's integration lock and the change log's table
/// lock, which every integration takes, so every site was told "integrating" (review finding 2).
///
/// - `idle_in_transaction_session_timeout` ([`SessionLimits::idle_in_transaction`]): a
///   session idle *inside a transaction* that long is ended and its transaction rolled back
///   (nothing of it applied; the work is taken over as after `kill -9`). It counts idle time
///   only: a long integration or preparation sends its statements back to back, and no
///   transaction of ours waits on the network (a caller, the legacy central) while open, so
///   only a stopped replica is ever idle that long. Three leases: a replica that stops is
///   taken over after a lease and its locks are free two leases later (30 s by default).
/// - Server-side TCP keepalive and `tcp_user_timeout` (PostgreSQL 12 and later): a peer gone
///   from the network is noticed in about 25 s, also while the session is not in a transaction
///   or has sent data that is never acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    pub idle_in_transaction: Duration,
}

impl SessionLimits {
    /// The limits for replicas whose claims live `lease` unrenewed (`--integration-lease-secs`),
    /// never under a second.
    pub fn for_lease(lease: Duration) -> SessionLimits {
        SessionLimits { idle_in_transaction: (lease * IDLE_IN_TRANSACTION_LEASES).max(Duration::from_secs(1)) }
    }
}

impl Default for SessionLimits {
    fn default() -> SessionLimits {
        SessionLimits::for_lease(DEFAULT_LEASE)
    }
}

/// Open a central database from a URL (`sqlite://…?mode=rwc` or `postgres://…`) and apply the
/// migrations of its backend, with the default [`SessionLimits`].
pub async fn open_central(url: &str, sqlite: &Migrator, postgres: &Migrator) -> anyhow::Result<CentralDb> {
    open_central_with(url, sqlite, postgres, SessionLimits::default()).await
}

/// [`open_central`] whose PostgreSQL sessions get `limits`.
pub async fn open_central_with(
    url: &str,
    sqlite: &Migrator,
    postgres: &Migrator,
    limits: SessionLimits,
) -> anyhow::Result<CentralDb> {
    install_default_drivers();
    let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Backend::Postgres
    } else if url.starts_with("sqlite:") {
        Backend::Sqlite
    } else {
        anyhow::bail!("unsupported database URL (use sqlite://… or postgres://…)");
    };
    if backend == Backend::Sqlite {
        // Create the file and switch it to WAL once; the setting sticks to the file.
        let options = SqliteConnectOptions::from_str(url)?.create_if_missing(true).journal_mode(SqliteJournalMode::Wal);
        let path = options.get_filename().to_owned();
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
        // The same copy as the site's before a migration changes an existing file.
        backup_before_migrating(&pool, &path, sqlite).await?;
        pool.close().await;
    }
    let pool = AnyPoolOptions::new()
        .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *conn).await?;
                    sqlx::query("PRAGMA synchronous = NORMAL").execute(&mut *conn).await?;
                } else {
                    // One round trip; `tcp_user_timeout` only where the server knows it.
                    let idle_ms = limits.idle_in_transaction.as_millis().to_string();
                    let sql = format!(
                        "SELECT set_config('idle_in_transaction_session_timeout', $1, false),
                         set_config('tcp_keepalives_idle', '{KEEPALIVE_IDLE_SECS}', false),
                         set_config('tcp_keepalives_interval', '{KEEPALIVE_INTERVAL_SECS}', false),
                         set_config('tcp_keepalives_count', '{KEEPALIVE_COUNT}', false),
                         CASE WHEN current_setting('server_version_num')::int >= 120000
                         THEN set_config('tcp_user_timeout', '{}', false) END",
                        (KEEPALIVE_IDLE_SECS + KEEPALIVE_INTERVAL_SECS * KEEPALIVE_COUNT) * 1000
                    );
                    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(idle_ms).execute(&mut *conn).await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await
        .context("cannot connect to the central database")?;
    let migrator = match backend {
        Backend::Sqlite => sqlite,
        Backend::Postgres => postgres,
    };
    migrator.run(&pool).await.context("cannot apply migrations")?;
    Ok(CentralDb { pool, backend })
}

impl CentralDb {
    /// Start a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so concurrent requests queue on the busy timeout; a deferred
    /// transaction that reads first and writes later fails at once with "database is locked"
    /// when another writer got there between (many sites pushing at the same time).
    pub async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Any>> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Start a read-only transaction whose statements all see one snapshot of the database, so
    /// a page, its count and the log's end agree with each other. PostgreSQL's default (READ
    /// COMMITTED) takes a new snapshot per statement, hence REPEATABLE READ; a SQLite read
    /// transaction in WAL mode keeps the snapshot of its first read until it ends.
    pub async fn begin_read(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Any>> {
        match self.backend {
            Backend::Sqlite => self.pool.begin().await,
            Backend::Postgres => self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await,
        }
    }
}

/// The file of a `sqlite:` URL; `None` for any other database.
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    if !url.starts_with("sqlite:") {
        return None;
    }
    SqliteConnectOptions::from_str(url).ok().map(|o| o.get_filename().to_owned())
}

/// The SQLite URL of `file` in `dir`.
pub fn sqlite_url(dir: &Path, file: &str) -> String {
    format!("sqlite://{}?mode=rwc", dir.join(file).display())
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    #[tokio::test]
    async fn an_existing_database_is_copied_aside_before_a_migration_changes_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.db");
        let all = &crate::site::MIGRATIONS;
        let mut older = sqlx::migrate::Migrator::DEFAULT;
        older.migrations = Cow::Owned(all.migrations[..all.migrations.len() - 1].to_vec());
        super::open_sqlite(&path, &older).await.unwrap().close().await;
        let copies = || {
            std::fs::read_dir(dir.path())
                .unwrap()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().contains(".before-migration-"))
                .count()
        };
        assert_eq!(copies(), 0, "a new database has nothing to keep");
        super::open_sqlite(&path, all).await.unwrap().close().await;
        assert_eq!(copies(), 1, "one copy before the pending migration ran");
        super::open_sqlite(&path, all).await.unwrap().close().await;
        assert_eq!(copies(), 1, "an up-to-date database is not copied again");
    }
}
