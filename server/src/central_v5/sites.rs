//! The site table: who may sync, with which password hash, bound to which device.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::wire::v5::InitialisationStatus;

#[derive(Debug, Clone, Serialize)]
pub struct SiteRow {
    pub site_id: i64,
    pub site_uuid: String,
    pub name: String,
    pub code: String,
    #[serde(skip)]
    pub password_hash: String,
    pub hardware_id: Option<String>,
    pub initialisation_status: String,
    pub om_supply_central_server_url: String,
}

const COLUMNS: &str =
    "site_id, site_uuid, name, code, password_hash, hardware_id, initialisation_status, om_supply_central_server_url";

fn from_row(r: &AnyRow) -> SiteRow {
    SiteRow {
        site_id: r.get(0),
        site_uuid: r.get(1),
        name: r.get(2),
        code: r.get(3),
        password_hash: r.get(4),
        hardware_id: r.get(5),
        initialisation_status: r.get(6),
        om_supply_central_server_url: r.get(7),
    }
}

impl SiteRow {
    pub fn status(&self) -> InitialisationStatus {
        match self.initialisation_status.as_str() {
            "started" => InitialisationStatus::Started,
            "completed" => InitialisationStatus::Completed,
            "error" => InitialisationStatus::Error,
            _ => InitialisationStatus::New,
        }
    }
}

pub async fn by_name(conn: &mut AnyConnection, name: &str) -> sqlx::Result<Option<SiteRow>> {
    let row = sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM site WHERE name = $1")))
        .bind(name)
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(from_row))
}

pub async fn all(conn: &mut AnyConnection) -> sqlx::Result<Vec<SiteRow>> {
    let rows =
        sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM site ORDER BY site_id"))).fetch_all(conn).await?;
    Ok(rows.iter().map(from_row).collect())
}

pub async fn set_status(conn: &mut AnyConnection, site_id: i64, status: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE site SET initialisation_status = $1 WHERE site_id = $2")
        .bind(status)
        .bind(site_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Bind the hardware id if none is bound yet; returns the id bound afterwards.
pub async fn bind_hardware_id(
    conn: &mut AnyConnection,
    site_id: i64,
    hardware_id: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query("UPDATE site SET hardware_id = $1 WHERE site_id = $2 AND hardware_id IS NULL")
        .bind(hardware_id)
        .bind(site_id)
        .execute(&mut *conn)
        .await?;
    let row = sqlx::query("SELECT hardware_id FROM site WHERE site_id = $1").bind(site_id).fetch_one(conn).await?;
    Ok(row.get(0))
}
