//! The site's admin: one password, kept only as an Argon2id hash, and the sessions a login
//! opens. Settings and store-data writes need a session (see `session`); the Sync page does not.
//!
//! A session token is 32 random bytes sent once, in an HttpOnly cookie; the database keeps only
//! its SHA-256, so neither a log line nor a copy of `site.db` lets anyone sign in. Sessions live
//! in the database so they survive a restart, and changing the password ends all of them.
//!
//! The subcommands of `outpost site` ([`AdminCommand`], [`run_command`]) are defined here too,
//! so the role owns its administration and the binary's CLI only mounts it.

use std::path::Path;
use std::time::Duration;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Params, Version};
use chrono::{SecondsFormat, Utc};
use clap::Subcommand;
use sha2::{Digest, Sha256};
use sqlx::SqlitePool;

use super::sync::kv;
use crate::argon2_mapped::MappedArgon2;

/// How long a session lasts after login (a working day and a half: people sign in each shift).
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Shortest admin password accepted by `--admin-password` and `set-admin-password`: the login
/// is reachable from the whole LAN, and twelve characters keep even a limited guesser (ten
/// tries per ten minutes per address) far from any short word.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Why an admin password was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error(
        "the admin password is too short: {given} characters, at least {MIN_PASSWORD_CHARS} are needed. \
         Hint: {}",
        PasswordError::TOO_SHORT_HINT
    )]
    TooShort { given: usize },
}

impl PasswordError {
    const TOO_SHORT_HINT: &'static str =
        "choose a passphrase of a few words (e.g. `blue-kettle-river-42`) and set it again";

    /// What to do about it (also part of the message, which the CLI prints).
    pub fn hint(&self) -> &'static str {
        match self {
            PasswordError::TooShort { .. } => Self::TOO_SHORT_HINT,
        }
    }
}

/// Refuse a password that is too short to be set (see [`MIN_PASSWORD_CHARS`]).
pub fn check_password(password: &str) -> Result<(), PasswordError> {
    let given = password.chars().count();
    if given < MIN_PASSWORD_CHARS { Err(PasswordError::TooShort { given }) } else { Ok(()) }
}

fn argon2() -> MappedArgon2 {
    // Explicitly Argon2id with the crate's (OWASP-recommended) defaults, so a change of the
    // crate's default algorithm cannot silently weaken what is stored. Its 19 MiB of working
    // memory leave the process after each hash (`argon2_mapped`: it stayed resident before).
    MappedArgon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// The Argon2id PHC string of `password`, with a fresh salt.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))
}

/// Store a new admin password (hash only) and end every session.
pub async fn set_password(db: &SqlitePool, password: &str) -> anyhow::Result<()> {
    check_password(password)?;
    let owned = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || hash_password(&owned)).await??;
    let mut tx = db.begin().await?;
    kv::set_string(&mut *tx, kv::ADMIN_PASSWORD_ARGON2ID, &hash).await?;
    sqlx::query("DELETE FROM admin_session").execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn has_password(db: &SqlitePool) -> sqlx::Result<bool> {
    Ok(kv::get_string(db, kv::ADMIN_PASSWORD_ARGON2ID).await?.is_some())
}

/// At start: keep an existing password; else store `given`; else generate one and return it so
/// the caller prints it once. A `given` password never replaces a stored one: that is what
/// `outpost site set-admin-password` is for, so a stale environment variable cannot undo it.
pub async fn ensure_password(db: &SqlitePool, given: Option<&str>) -> anyhow::Result<Option<String>> {
    if has_password(db).await? {
        return Ok(None);
    }
    match given {
        Some(password) => {
            set_password(db, password).await?;
            Ok(None)
        }
        None => {
            let generated = random_token(12);
            set_password(db, &generated).await?;
            Ok(Some(generated))
        }
    }
}

/// Whether `password` is the admin password (Argon2 runs off the async workers).
pub async fn verify_password(db: &SqlitePool, password: &str) -> anyhow::Result<bool> {
    let Some(stored) = kv::get_string(db, kv::ADMIN_PASSWORD_ARGON2ID).await? else { return Ok(false) };
    let given = password.to_owned();
    let ok = crate::ratelimit::run_argon2(move || {
        PasswordHash::new(&stored).map(|parsed| argon2().verify_password(given.as_bytes(), &parsed).is_ok())
    })
    .await?
    .map_err(|e| anyhow::anyhow!("stored admin password hash is invalid: {e}"))?;
    Ok(ok)
}

/// `bytes` random bytes as lower-case hex.
fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn timestamp(at: chrono::DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Open a session; the token goes to the browser only.
pub async fn open_session(db: &SqlitePool) -> sqlx::Result<String> {
    let token = random_token(32);
    let now = Utc::now();
    let expires = now + chrono::Duration::from_std(SESSION_LIFETIME).unwrap_or_default();
    // Expired sessions are swept as new ones open, so the table stays small without a timer.
    sqlx::query("DELETE FROM admin_session WHERE expires_datetime < ?").bind(timestamp(now)).execute(db).await?;
    sqlx::query("INSERT INTO admin_session (token_sha256, created_datetime, expires_datetime) VALUES (?, ?, ?)")
        .bind(token_hash(&token))
        .bind(timestamp(now))
        .bind(timestamp(expires))
        .execute(db)
        .await?;
    Ok(token)
}

/// Whether `token` is a live session.
pub async fn session_is_valid(db: &SqlitePool, token: &str) -> sqlx::Result<bool> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT token_sha256 FROM admin_session WHERE token_sha256 = ? AND expires_datetime > ?")
            .bind(token_hash(token))
            .bind(timestamp(Utc::now()))
            .fetch_optional(db)
            .await?;
    Ok(found.is_some())
}

pub async fn close_session(db: &SqlitePool, token: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM admin_session WHERE token_sha256 = ?").bind(token_hash(token)).execute(db).await?;
    Ok(())
}

/// Administration of a site's database (works while it serves): the subcommands of
/// `outpost site`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Replace the admin password (only its Argon2id hash is stored) and end every admin session.
    SetAdminPassword {
        /// The new password (else OUTPOST_ADMIN_PASSWORD, else one line read from stdin).
        #[arg(long, env = "OUTPOST_ADMIN_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Read the new password from this file (first line), off the command line.
        #[arg(long, value_name = "FILE", conflicts_with = "password")]
        password_file: Option<std::path::PathBuf>,
    },
    /// `backup --to FILE` and `restore --from FILE` (see [`crate::backup`]).
    #[command(flatten)]
    Backup(crate::backup::BackupCommand),
}

/// Run one `outpost site <subcommand>` against the site database in `data_dir`.
pub async fn run_command(data_dir: &Path, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::SetAdminPassword { password, password_file } => {
            let password = match (password, password_file) {
                (_, Some(file)) => crate::secrets::read_file(&file)?,
                (Some(p), None) => p,
                (None, None) => {
                    eprintln!("new admin password (one line):");
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let db = crate::db::open_sqlite(&data_dir.join("site.db"), &super::MIGRATIONS).await?;
            set_password(&db, &password).await?;
            println!("admin password changed; every admin session was ended");
        }
        AdminCommand::Backup(command) => {
            let path = data_dir.join("site.db");
            crate::backup::run(super::database(&path), command).await?;
        }
    }
    Ok(())
}
