//! Configuration: a TOML file (`--config`), `OUTPOST_*` variables and flags, in that order of
//! strength; `--print-config` shows the merged result with secrets masked; secrets from files.

use std::process::Command;

use outpost_testkit::login_cookie;

use crate::support::{BIN, s, spawn};

fn print_config(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new(BIN).args(args).arg("--print-config").envs(env.iter().copied()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn line<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines().find(|l| l.starts_with(&format!("{key} ="))).unwrap_or_else(|| panic!("no {key} in {text}"))
}

#[test]
fn flags_beat_environment_beat_the_file_and_secrets_are_masked() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("site.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9101\"\ndata-dir = \"/srv/from-file\"\npublic_url = \"http://file.lan\"\nadmin-password = \"file-secret\"\n",
    )
    .unwrap();
    let config = ["site", "--config", s(&file)];
    let from_file = print_config(&config, &[]);
    assert!(line(&from_file, "listen").contains("127.0.0.1:9101"), "{from_file}");
    assert!(line(&from_file, "public-url").contains("http://file.lan"), "underscores work as dashes");
    assert!(!from_file.contains("file-secret"), "the password is masked: {from_file}");
    assert!(line(&from_file, "admin-password").contains("********"));

    let env = [("OUTPOST_LISTEN", "127.0.0.1:9102"), ("OUTPOST_DATA_DIR", "/srv/from-env")];
    let from_env = print_config(&config, &env);
    assert!(line(&from_env, "listen").contains("127.0.0.1:9102"), "{from_env}");
    assert!(line(&from_env, "data-dir").contains("/srv/from-env"));
    assert!(line(&from_env, "public-url").contains("http://file.lan"), "the file still fills the rest");

    let mut with_flag = config.to_vec();
    with_flag.extend(["--listen", "127.0.0.1:9103"]);
    let from_flag = print_config(&with_flag, &env);
    assert!(line(&from_flag, "listen").contains("127.0.0.1:9103"), "{from_flag}");
    assert!(line(&from_flag, "data-dir").contains("/srv/from-env"));
}

#[test]
fn a_misspelt_key_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("central.toml");
    std::fs::write(&file, "lisen = \"127.0.0.1:1\"\n").unwrap();
    let out = Command::new(BIN).args(["central", "--config", s(&file)]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`lisen` is not an option of `outpost central`"), "{err}");
}

#[tokio::test]
async fn the_admin_password_can_come_from_a_file_and_the_data_dir_from_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("admin-password");
    std::fs::write(&secret, "from-a-file-pw\n").unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("site.toml");
    std::fs::write(&file, format!("data-dir = {:?}\nadmin-password-file = {:?}\n", s(&data), s(&secret))).unwrap();
    let site = spawn(&["site", "--listen", "127.0.0.1:0", "--config", s(&file)]);
    assert!(data.join("site.db").exists(), "the data folder of the file is used");
    assert!(login_cookie(&site.url, "from-a-file-pw").await.is_ok(), "the first line of the file, without its newline");
}

#[test]
fn json_logs_are_one_object_per_line_without_colours() {
    let dir = tempfile::tempdir().unwrap();
    // An admin command logs its database work at debug level, then exits.
    let out = Command::new(BIN)
        .args([
            "--log-format",
            "json",
            "site",
            "--data-dir",
            s(&dir.path().join("d")),
            "set-admin-password",
            "--password",
            "json-logs-password",
        ])
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let logs: Vec<&str> = stderr.lines().filter(|l| l.starts_with('{')).collect();
    assert!(!logs.is_empty(), "some JSON log lines: {stderr}");
    for line in logs {
        let value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(value.get("level").is_some(), "{line}");
    }
    assert!(!stderr.contains('\u{1b}'), "no ANSI colours when stderr is not a terminal: {stderr}");
}

/// A PostgreSQL URL carries its password (`postgres://user:PASSWORD@host/db`): `--print-config`,
/// whose output gets pasted into support requests, shows the URL with the password masked.
#[test]
fn print_config_masks_the_password_inside_a_database_url() {
    let url = "postgres://outpost:hunter2-db-pw@db.example/outpost";
    for role in ["legacy-central", "central"] {
        let from_flag = print_config(&[role, "--database-url", url], &[]);
        let from_env = print_config(&[role], &[("OUTPOST_DATABASE_URL", url)]);
        for shown in [from_flag, from_env] {
            assert!(!shown.contains("hunter2-db-pw"), "{role}: {shown}");
            assert!(line(&shown, "database-url").contains("db.example/outpost"), "the rest is shown: {shown}");
        }
    }
}

/// Flags beat the file for the admin password too, although the two ways of giving it are
/// different keys: `admin-password-file` in the file must not win over `--admin-password` on
/// the command line (or `OUTPOST_ADMIN_PASSWORD`), as it did when both reached the site.
#[tokio::test]
async fn an_admin_password_flag_beats_an_admin_password_file_named_in_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("admin-password");
    std::fs::write(&secret, "from-the-file-pw\n").unwrap();
    let file = dir.path().join("site.toml");
    std::fs::write(&file, format!("admin-password-file = {:?}\n", s(&secret))).unwrap();
    let data = dir.path().join("data");
    let site = spawn(&[
        "site",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        s(&data),
        "--config",
        s(&file),
        "--admin-password",
        "from-the-flag-pw",
    ]);
    assert!(login_cookie(&site.url, "from-the-flag-pw").await.is_ok(), "the flag wins");
    assert!(login_cookie(&site.url, "from-the-file-pw").await.is_err(), "the file's password is not set");
}

#[test]
fn the_metrics_token_is_masked_like_a_password() {
    let shown = print_config(&["central", "--metrics-token", "scrape-token-value"], &[]);
    assert!(!shown.contains("scrape-token-value"), "{shown}");
    assert!(line(&shown, "metrics-token").contains("********"), "{shown}");
}
