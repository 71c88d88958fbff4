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

/// Open (creating if needed) a SQLite database file in WAL mode and apply `migrator`.
pub async fn open_sqlite(path: &Path, migrator: &Migrator) -> anyhow::Result<SqlitePool> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        // 16 MB of page cache per connection (SQLite's default is 2 MB): an initial sync
        // touches every index page of tables with random ids, and a small cache turns that
        // into a read syscall per page. Only connections that do such work ever fill it.
        .pragma("cache_size", "-16384");
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open SQLite database {}", path.display()))?;
    migrator.run(&pool).await.context("cannot apply migrations")?;
    Ok(pool)
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

/// Open a central database from a URL (`sqlite://…?mode=rwc` or `postgres://…`) and apply the
/// migrations of its backend.
pub async fn open_central(url: &str, sqlite: &Migrator, postgres: &Migrator) -> anyhow::Result<CentralDb> {
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
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
        pool.close().await;
    }
    let pool = AnyPoolOptions::new()
        .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *conn).await?;
                    sqlx::query("PRAGMA synchronous = NORMAL").execute(&mut *conn).await?;
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

/// The SQLite URL of `file` in `dir`.
pub fn sqlite_url(dir: &Path, file: &str) -> String {
    format!("sqlite://{}?mode=rwc", dir.join(file).display())
}
