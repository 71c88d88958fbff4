//! Fresh databases for tests: SQLite always, PostgreSQL too when `OUTPOST_TEST_POSTGRES_URL`
//! names a server the tests may create databases on (`scripts/postgres.sh` starts one).

use sqlx::Connection;

/// The variable naming the PostgreSQL server tests may create databases on.
pub const POSTGRES_ENV: &str = "OUTPOST_TEST_POSTGRES_URL";

/// A fresh, empty database for one test (a SQLite file in a temporary folder, or a new
/// PostgreSQL database; the latter is left behind with the throwaway server).
pub struct TestDb {
    pub label: &'static str,
    pub url: String,
    /// The PostgreSQL server it is on (the URL it was created through); `None` for SQLite.
    pub server: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A SQLite database in a temporary folder of its own.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        TestDb {
            label: "sqlite",
            url: outpost::db::sqlite_url(dir.path(), "central.db"),
            server: None,
            _dir: Some(dir),
        }
    }

    /// A new database on the server `admin_url` points at.
    pub async fn postgres(admin_url: &str) -> TestDb {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(admin_url).await.expect("cannot reach OUTPOST_TEST_POSTGRES_URL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
        let base = admin_url.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(admin_url.to_owned());
        TestDb { label: "postgres", url: format!("{base}/{name}"), server: Some(admin_url.to_owned()), _dir: None }
    }

    /// A fresh database of the backend `label` names (SQLite when PostgreSQL is not set up).
    pub async fn fresh(label: &str) -> TestDb {
        match (label, postgres_url()) {
            ("postgres", Some(admin_url)) => TestDb::postgres(&admin_url).await,
            _ => TestDb::sqlite(),
        }
    }

    /// A new database on the PostgreSQL server `server` names, or SQLite when `None`.
    pub async fn on(server: Option<&str>) -> TestDb {
        match server {
            Some(admin_url) => TestDb::postgres(admin_url).await,
            None => TestDb::sqlite(),
        }
    }

    /// Another fresh database of the same backend, on the same server.
    pub async fn another(&self) -> TestDb {
        TestDb::on(self.server.as_deref()).await
    }
}

fn postgres_url() -> Option<String> {
    std::env::var(POSTGRES_ENV).ok().filter(|u| !u.is_empty())
}

/// Every backend this run tests: SQLite, plus PostgreSQL when `OUTPOST_TEST_POSTGRES_URL` is set.
pub async fn databases() -> Vec<TestDb> {
    let mut dbs = vec![TestDb::sqlite()];
    match postgres_url() {
        Some(admin_url) => dbs.push(TestDb::postgres(&admin_url).await),
        None => eprintln!("note: OUTPOST_TEST_POSTGRES_URL is not set; testing on SQLite only"),
    }
    dbs
}
