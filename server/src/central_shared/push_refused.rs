//! Records a central refused at integration: the ownership rule is asked again inside the
//! integration transaction, and a row (or its store) that changed hands after the record was
//! buffered is refused there, long after the push that carried it was answered. The site must
//! still learn of it, so it can list the record as an outgoing refusal (never lost silently).
//!
//! Kept in the central's database (`push_refused`), written in the integration's own transaction:
//! a refusal exists exactly when the integration that made it committed, and outlives a central
//! restart or a `site_status` answered by another replica. `site_status` answers a site's
//! refusals while it is idle (V6: the optional `refused` field; V5: the status's `data.refused`,
//! an Outpost extension in a field the reference leaves free). They are replaced by the site's
//! next integration, which is the acknowledgement: our site sends its next final push only after
//! a `site_status` poll that found the central idle and recorded what it answered.
//!
//! A failed integration is kept here too (`integration_failure`, until the site's next
//! integration starts), for the same reasons: `site_status` reports it after a restart and from
//! any replica.

use sqlx::{AnyConnection, Row};

pub use crate::wire::v5::RefusedRecord;

/// At most this many are answered per `site_status` (a refusal at integration needs a row to
/// change hands inside a few milliseconds, so real lists are short; the rest follow once these
/// are replaced).
pub const MAX_ANSWERED: i64 = 1000;

/// Inside the integration transaction: `site_id`'s refusals become exactly `refused` (the site
/// read the previous ones before it asked for this integration).
pub async fn replace(conn: &mut AnyConnection, site_id: i64, refused: &[RefusedRecord]) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM push_refused WHERE site_id = $1").bind(site_id).execute(&mut *conn).await?;
    for r in refused {
        sqlx::query(
            "INSERT INTO push_refused (site_id, table_name, record_id, store_id, reason) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (site_id, table_name, record_id) DO UPDATE SET store_id = excluded.store_id, reason = excluded.reason",
        )
        .bind(site_id)
        .bind(&r.table_name)
        .bind(&r.record_id)
        .bind(r.store_id.as_deref())
        .bind(&r.reason)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// What `site_status` answers `site_id`.
pub async fn list(conn: &mut AnyConnection, site_id: i64) -> sqlx::Result<Vec<RefusedRecord>> {
    let rows = sqlx::query(
        "SELECT table_name, record_id, store_id, reason FROM push_refused WHERE site_id = $1
         ORDER BY table_name, record_id LIMIT $2",
    )
    .bind(site_id)
    .bind(MAX_ANSWERED)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| RefusedRecord {
            table_name: r.get(0),
            record_id: r.get(1),
            store_id: r.get::<Option<String>, _>(2),
            reason: r.get(3),
        })
        .collect())
}

/// When `site_id`'s integration starts: its last failure is no longer news.
pub async fn clear_failure(conn: &mut AnyConnection, site_id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM integration_failure WHERE site_id = $1").bind(site_id).execute(conn).await?;
    Ok(())
}

/// Remember that `site_id`'s integration failed, with the text the site is told.
pub async fn set_failure(conn: &mut AnyConnection, site_id: i64, message: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO integration_failure (site_id, message) VALUES ($1, $2)
         ON CONFLICT (site_id) DO UPDATE SET message = excluded.message",
    )
    .bind(site_id)
    .bind(message)
    .execute(conn)
    .await?;
    Ok(())
}

/// Why `site_id`'s last integration failed, if it did and no other started since.
pub async fn failure(conn: &mut AnyConnection, site_id: i64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT message FROM integration_failure WHERE site_id = $1")
        .bind(site_id)
        .fetch_optional(conn)
        .await
}
