//! Administration of the legacy central, shared by the `outpost legacy-central …` subcommands,
//! the demo and the tests: sites (with their stores and password), hardware-id resets, and
//! direct upserts/deletes of central data that travel to sites like any central change.
//!
//! The subcommands themselves ([`AdminCommand`], [`run_command`]) are defined here, beside what
//! they call, so the role owns its administration and the binary's CLI only mounts it.

use anyhow::Context;
use clap::Subcommand;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Row;

use super::auth::hash_password_sha256;
use super::sites::{self, SiteRow};
use super::{CENTRAL_SITE_ID, data};
use crate::db::CentralDb;
use crate::wire::v5::password_sha256;

#[derive(Debug, Clone)]
pub struct NewSite {
    pub name: String,
    /// The plain password; only an Argon2id hash of its SHA-256 is stored.
    pub password: String,
    /// Stores to make active on the site; missing stores are created (with their name record).
    pub store_ids: Vec<String>,
    /// The V6 central URL the site is told about in `GET /sync/v5/site`.
    pub central_v6_url: String,
    /// The numeric site id; default: the next free one.
    pub site_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SiteSummary {
    #[serde(flatten)]
    pub site: SiteRow,
    pub store_ids: Vec<String>,
}

/// Register a site and make its stores active on it. Fails if the name is taken or a store is
/// already active on another site.
pub async fn add_site(db: &CentralDb, new: &NewSite) -> anyhow::Result<SiteRow> {
    anyhow::ensure!(!new.name.trim().is_empty(), "site name must not be empty");
    let hash = hash_password_sha256(&password_sha256(&new.password))?;
    let mut tx = data::begin(db).await?;
    anyhow::ensure!(sites::by_name(&mut tx, &new.name).await?.is_none(), "a site named {:?} already exists", new.name);
    let site_id = match new.site_id {
        Some(id) => id,
        None => {
            let row = sqlx::query("SELECT COALESCE(MAX(site_id), 0) FROM site WHERE site_id <> $1")
                .bind(CENTRAL_SITE_ID)
                .fetch_one(&mut *tx)
                .await?;
            let next = row.get::<i64, _>(0) + 1;
            if next == CENTRAL_SITE_ID { next + 1 } else { next }
        }
    };
    anyhow::ensure!(site_id > 0 && site_id != CENTRAL_SITE_ID, "site id {site_id} is reserved");
    sqlx::query(
        "INSERT INTO site (site_id, site_uuid, name, code, password_hash, om_supply_central_server_url) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(site_id)
    .bind(uuid::Uuid::new_v4().simple().to_string().to_uppercase())
    .bind(&new.name)
    .bind(new.name.to_uppercase())
    .bind(hash)
    .bind(&new.central_v6_url)
    .execute(&mut *tx)
    .await
    .context("cannot add site (is the site id taken?)")?;
    for store_id in &new.store_ids {
        let existing =
            sqlx::query("SELECT data, active_site_id FROM record WHERE table_name = 'store' AND record_id = $1")
                .bind(store_id)
                .fetch_optional(&mut *tx)
                .await?;
        let record = match existing {
            Some(row) => {
                let active: Option<i64> = row.get(1);
                if let Some(other) = active.filter(|a| *a != site_id) {
                    anyhow::bail!("store {store_id} is already active on site {other}");
                }
                let mut record: Value = serde_json::from_str(&row.get::<String, _>(0))?;
                record["sync_id_remote_site"] = json!(site_id);
                record
            }
            None => {
                let name_id = format!("{store_id}_name");
                data::central_upsert(&mut tx, "name", &store_name_record(&name_id, store_id)).await?;
                json!({"ID": store_id, "name": store_id, "code": store_id.to_uppercase(), "name_ID": name_id,
                       "sync_id_remote_site": site_id, "store_mode": "store", "disabled": false, "tags": ""})
            }
        };
        data::central_upsert(&mut tx, "store", &record).await?;
    }
    let site = sites::by_name(&mut tx, &new.name).await?.context("site vanished")?;
    tx.commit().await?;
    Ok(site)
}

fn store_name_record(id: &str, store_id: &str) -> Value {
    json!({"ID": id, "name": store_id, "code": store_id.to_uppercase(), "type": "store", "customer": true,
           "supplier": true, "manufacturer": false, "isDeleted": false})
}

/// Forget the hardware id a site is bound to, so the next device to call binds it anew.
pub async fn reset_hardware_id(db: &CentralDb, name: &str) -> anyhow::Result<()> {
    let done = sqlx::query("UPDATE site SET hardware_id = NULL WHERE name = $1").bind(name).execute(&db.pool).await?;
    anyhow::ensure!(done.rows_affected() == 1, "no site named {name:?}");
    Ok(())
}

/// Change the V6 central URL a site is told about in `GET /sync/v5/site`.
pub async fn set_central_v6_url(db: &CentralDb, name: &str, url: &str) -> anyhow::Result<()> {
    let done = sqlx::query("UPDATE site SET om_supply_central_server_url = $1 WHERE name = $2")
        .bind(url)
        .bind(name)
        .execute(&db.pool)
        .await?;
    anyhow::ensure!(done.rows_affected() == 1, "no site named {name:?}");
    Ok(())
}

/// Every site with the stores active on it.
pub async fn list_sites(db: &CentralDb) -> anyhow::Result<Vec<SiteSummary>> {
    let mut conn = db.pool.acquire().await?;
    let mut out = Vec::new();
    for site in sites::all(&mut conn).await? {
        let store_ids = data::stores_of_site(&mut conn, site.site_id).await?;
        out.push(SiteSummary { site, store_ids });
    }
    Ok(out)
}

/// Upsert central data (any table, legacy JSON with an `ID`); returns the record id.
pub async fn upsert(db: &CentralDb, table: &str, record: &Value) -> anyhow::Result<String> {
    let mut tx = data::begin(db).await?;
    let id = data::central_upsert(&mut tx, table, record).await?;
    tx.commit().await?;
    Ok(id)
}

/// Delete central data; returns whether the record existed.
pub async fn delete(db: &CentralDb, table: &str, record_id: &str) -> anyhow::Result<bool> {
    let mut tx = data::begin(db).await?;
    let existed = data::central_delete(&mut tx, table, record_id).await?;
    tx.commit().await?;
    Ok(existed)
}

/// Administration of the legacy central's database (works while it serves): the subcommands
/// of `outpost legacy-central`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Register a site with its password and the stores active on it.
    AddSite {
        #[arg(long)]
        name: String,
        /// The site's password (else --password-file, or OUTPOST_SITE_PASSWORD).
        #[arg(long, env = "OUTPOST_SITE_PASSWORD", hide_env_values = true, required_unless_present = "password_file")]
        password: Option<String>,
        /// Read the site's password from this file (first line), off the command line.
        #[arg(long, value_name = "FILE", conflicts_with = "password")]
        password_file: Option<std::path::PathBuf>,
        /// A store to make active on the site (repeat for several); missing stores are created.
        #[arg(long = "store")]
        stores: Vec<String>,
        /// The V6 central URL the site is told about.
        #[arg(long, default_value = "http://127.0.0.1:8002")]
        central_url: String,
        /// The numeric site id (default: the next free one).
        #[arg(long)]
        site_id: Option<i64>,
    },
    /// Unbind a site's hardware id, so the next device that syncs binds it.
    ResetHardwareId {
        #[arg(long)]
        name: String,
    },
    /// List sites, their stores, hardware ids and initialisation status (JSON lines).
    ListSites,
    /// Upsert one central record (legacy JSON with an "ID").
    Upsert {
        /// Legacy table name: unit, item, name, store, name_store_join, Location, item_line, transact, trans_line, ...
        #[arg(long)]
        table: String,
        /// The record as JSON.
        #[arg(long)]
        json: String,
    },
    /// Delete one central record.
    Delete {
        #[arg(long)]
        table: String,
        #[arg(long)]
        id: String,
    },
    /// Generate N records of realistic shape and mix (with a progress bar).
    Seed {
        n: u64,
        /// Stores to give stock and invoices (default: every store active on a site).
        #[arg(long = "store")]
        stores: Vec<String>,
    },
    /// `backup --to FILE` and `restore --from FILE` of a SQLite database (see [`crate::backup`]).
    #[command(flatten)]
    Backup(crate::backup::BackupCommand),
}

/// Run one `outpost legacy-central <subcommand>` against the database at `database_url`.
pub async fn run_command(database_url: &str, command: AdminCommand) -> anyhow::Result<()> {
    if let AdminCommand::Backup(command) = command {
        // Before opening: a backup never creates or migrates the database it copies.
        return crate::backup::run_central(database_url, super::database, command).await;
    }
    let db = super::open_db(database_url).await?;
    match command {
        AdminCommand::AddSite { name, password, password_file, stores, central_url, site_id } => {
            let password = match (password, password_file) {
                (_, Some(file)) => crate::secrets::read_file(&file)?,
                (Some(password), None) => password,
                (None, None) => anyhow::bail!("give --password or --password-file"),
            };
            let site =
                add_site(&db, &NewSite { name, password, store_ids: stores, central_v6_url: central_url, site_id })
                    .await?;
            println!("added site {} (id {}, uuid {})", site.name, site.site_id, site.site_uuid);
        }
        AdminCommand::ResetHardwareId { name } => {
            reset_hardware_id(&db, &name).await?;
            println!("hardware id of {name} reset");
        }
        AdminCommand::ListSites => {
            for site in list_sites(&db).await? {
                println!("{}", serde_json::to_string(&site)?);
            }
        }
        AdminCommand::Upsert { table, json } => {
            let record: Value = serde_json::from_str(&json).context("--json is not valid JSON")?;
            println!("upserted {table} {}", upsert(&db, &table, &record).await?);
        }
        AdminCommand::Delete { table, id } => {
            anyhow::ensure!(delete(&db, &table, &id).await?, "no {table} record {id}");
            println!("deleted {table} {id}");
        }
        // Run above, before the database was opened.
        AdminCommand::Backup(_) => {}
        AdminCommand::Seed { n, stores } => {
            let stores = if stores.is_empty() {
                list_sites(&db).await?.into_iter().flat_map(|s| s.store_ids).collect()
            } else {
                stores
            };
            let bar = indicatif::ProgressBar::new(n);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} seeding [{bar:40}] {pos}/{len} records ({per_sec}, eta {eta})",
                )?
                .progress_chars("=> "),
            );
            let summary = super::seed::seed_with_progress(&db, n, &stores, &bar).await?;
            println!(
                "seeded {} records: {} central, {} store data for {} store(s)",
                summary.records,
                summary.central,
                summary.store_data,
                stores.len()
            );
        }
    }
    Ok(())
}
