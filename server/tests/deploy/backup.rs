//! Backups an operator can trust: `outpost site backup` (and the same for both centrals on
//! SQLite) while the server serves, `restore` refused while it runs and bringing the old state
//! back once stopped, and a database that only its owner can read.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use outpost_testkit::{ADMIN_PASSWORD, SiteProcess, login_cookie};

use crate::support::{BIN, run, s, spawn};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_the_earlier_state_and_files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("site");
    let backup = dir.path().join("site-backup.db");
    let site = SiteProcess::start(BIN.as_ref(), &data).await;
    assert_eq!(mode(&data), 0o700, "the data folder");
    assert_eq!(mode(&data.join("site.db")), 0o600, "site.db holds the V5 credential");

    run(&["site", "--data-dir", s(&data), "backup", "--to", s(&backup)]);
    assert_eq!(mode(&backup), 0o600, "the backup");
    let again =
        Command::new(BIN).args(["site", "--data-dir", s(&data), "backup", "--to", s(&backup)]).output().unwrap();
    assert!(!again.status.success(), "a backup never overwrites a file");

    let refused =
        Command::new(BIN).args(["site", "--data-dir", s(&data), "restore", "--from", s(&backup)]).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is running"), "{refused:?}");
    site.stop().await;

    // A change after the backup: a new admin password.
    run(&["site", "--data-dir", s(&data), "set-admin-password", "--password", "changed-after-backup"]);
    run(&["site", "--data-dir", s(&data), "restore", "--from", s(&backup)]);
    assert_eq!(mode(&data.join("site.db")), 0o600);
    let site = SiteProcess::start(BIN.as_ref(), &data).await;
    assert!(login_cookie(&site.url, ADMIN_PASSWORD).await.is_ok(), "the password of the backup works again");
    assert!(login_cookie(&site.url, "changed-after-backup").await.is_err(), "the later one is gone");
    let kept =
        std::fs::read_dir(&data).unwrap().flatten().any(|e| e.file_name().to_string_lossy().contains("before-restore"));
    assert!(kept, "the replaced database is kept aside");
}

/// The changelog's next cursor, after writing one row as an edit would.
async fn next_changelog_cursor(db: &std::path::Path) -> i64 {
    use sqlx::{ConnectOptions, Connection};
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new().filename(db).connect().await.unwrap();
    let cursor = sqlx::query_scalar(
        "INSERT INTO changelog (table_name, record_id, row_action) VALUES ('location', 'edit', 'UPSERT') RETURNING cursor",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    cursor
}

/// Pushes carry the site's changelog cursor as their version, and a central drops copies older
/// than one it has: an edit made after a restore must never reuse a cursor an edit made after
/// the backup already went out with, or the central would drop it as stale.
#[tokio::test]
async fn an_edit_after_a_restore_gets_a_cursor_beyond_any_used_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("site");
    let backup = dir.path().join("site-backup.db");
    SiteProcess::start(BIN.as_ref(), &data).await.stop().await;
    run(&["site", "--data-dir", s(&data), "backup", "--to", s(&backup)]);
    let mut after_backup = 0;
    for _ in 0..3 {
        after_backup = next_changelog_cursor(&data.join("site.db")).await;
    }
    run(&["site", "--data-dir", s(&data), "restore", "--from", s(&backup)]);
    let after_restore = next_changelog_cursor(&data.join("site.db")).await;
    assert!(after_restore > after_backup, "{after_restore} must be past {after_backup}");
}

#[tokio::test]
async fn restore_refuses_a_file_that_is_not_a_site_backup() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all, just some bytes that are long enough").unwrap();
    let out = Command::new(BIN)
        .args(["site", "--data-dir", s(&dir.path().join("site")), "restore", "--from", s(&junk)])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a usable backup"), "{out:?}");
}

async fn sqlite(db: &std::path::Path) -> sqlx::SqliteConnection {
    use sqlx::ConnectOptions;
    sqlx::sqlite::SqliteConnectOptions::new().filename(db).connect().await.unwrap()
}

/// `INSERT … RETURNING` the new row's id, as a change written after the backup would be.
async fn insert_returning(db: &std::path::Path, sql: &'static str) -> i64 {
    use sqlx::Connection;
    let mut conn = sqlite(db).await;
    let id = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    id
}

#[tokio::test]
async fn the_legacy_central_is_backed_up_while_serving_and_restored_once_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("v5");
    let backup = dir.path().join("v5-backup.db");
    let v5 = spawn(&["legacy-central", "--listen", "127.0.0.1:0", "--data-dir", s(&data)]);
    run(&[
        "legacy-central",
        "--data-dir",
        s(&data),
        "add-site",
        "--name",
        "north",
        "--password",
        "pw",
        "--store",
        "s1",
    ]);
    // `--out` is the name for `--to`.
    run(&["legacy-central", "--data-dir", s(&data), "backup", "--out", s(&backup)]);
    assert_eq!(mode(&backup), 0o600);
    run(&[
        "legacy-central",
        "--data-dir",
        s(&data),
        "add-site",
        "--name",
        "south",
        "--password",
        "pw",
        "--store",
        "s2",
    ]);
    let db = data.join("legacy-central.db");
    let change_sql =
        "INSERT INTO central_change (table_name, record_id, action) VALUES ('item', 'late', 'update') RETURNING id";
    let late_change = insert_returning(&db, change_sql).await;

    let refused = Command::new(BIN)
        .args(["legacy-central", "--data-dir", s(&data), "restore", "--from", s(&backup)])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is running"), "{refused:?}");
    drop(v5);

    run(&["legacy-central", "--data-dir", s(&data), "restore", "--from", s(&backup)]);
    assert_eq!(mode(&db), 0o600);
    let sites = run(&["legacy-central", "--data-dir", s(&data), "list-sites"]);
    assert!(sites.contains("\"north\"") && !sites.contains("\"south\""), "the backup's sites only: {sites}");
    let after_restore = insert_returning(&db, change_sql).await;
    assert!(after_restore > late_change, "a site past cursor {late_change} must still see {after_restore}");
    let v5 = spawn(&["legacy-central", "--listen", "127.0.0.1:0", "--data-dir", s(&data)]);
    assert_eq!(outpost_testkit::http_get(format!("{}/ready", v5.url)).await.unwrap().status(), 200);
}

#[tokio::test]
async fn the_v6_central_is_backed_up_while_serving_and_restored_once_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("v6");
    let backup = dir.path().join("v6-backup.db");
    let v6 = spawn(&["central", "--listen", "127.0.0.1:0", "--data-dir", s(&data)]);
    let db = data.join("central.db");
    let change_sql =
        "INSERT INTO changelog (table_name, record_id, row_action) VALUES ('asset', 'a', 'UPSERT') RETURNING cursor";
    insert_returning(&db, change_sql).await;
    run(&["central", "--data-dir", s(&data), "backup", "--to", s(&backup)]);
    assert_eq!(mode(&backup), 0o600);
    let late_change = insert_returning(&db, change_sql).await;
    let refused =
        Command::new(BIN).args(["central", "--data-dir", s(&data), "restore", "--from", s(&backup)]).output().unwrap();
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is running"), "{refused:?}");
    drop(v6);

    // A backup of another role is refused: it would replace this central's tables.
    let v5_data = dir.path().join("v5");
    let v5_backup = dir.path().join("v5-backup.db");
    run(&["legacy-central", "--data-dir", s(&v5_data), "list-sites"]);
    run(&["legacy-central", "--data-dir", s(&v5_data), "backup", "--to", s(&v5_backup)]);
    let wrong = Command::new(BIN)
        .args(["central", "--data-dir", s(&data), "restore", "--from", s(&v5_backup)])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("not a central database"), "{wrong:?}");

    run(&["central", "--data-dir", s(&data), "restore", "--from", s(&backup)]);
    use sqlx::Connection;
    let mut conn = sqlite(&db).await;
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM changelog").fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    assert_eq!(rows, 1, "the change made after the backup is gone");
    let after_restore = insert_returning(&db, change_sql).await;
    assert!(after_restore > late_change, "a site past cursor {late_change} must still see {after_restore}");
}

#[test]
fn a_central_on_postgresql_is_told_to_use_pg_dump() {
    let out = Command::new(BIN)
        .args(["central", "--database-url", "postgres://nobody@127.0.0.1:1/none", "backup", "--to", "/tmp/never"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"), "{out:?}");
}

/// A backup copied around (a USB stick, a backup system) often comes back readable by everyone
/// (0644); the restored database must still be the owner's alone, since it holds the site's V5
/// credential and the admin password's hash. `std::fs::copy` carried the backup's mode over.
#[test]
fn a_restored_database_is_private_whatever_the_mode_of_the_backup_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("site");
    let backup = dir.path().join("site-backup.db");
    run(&["site", "--data-dir", s(&data), "set-admin-password", "--password", "a-long-enough-pw"]);
    run(&["site", "--data-dir", s(&data), "backup", "--to", s(&backup)]);
    std::fs::set_permissions(&backup, std::fs::Permissions::from_mode(0o644)).unwrap();
    run(&["site", "--data-dir", s(&data), "restore", "--from", s(&backup)]);
    assert_eq!(mode(&data.join("site.db")), 0o600, "the restored database");
}
