//! The length of each site's V5 queue (`sync_out_length`), which every page answers as
//! `queueLength`. A counter, not a `COUNT(*)` over the remaining queue on every page (draining
//! was quadratic in the queue's length); why it stays exact is in `queue`'s "The queue's
//! length". Its own module because both writers of the queue keep it: `queue` (preparation,
//! acknowledgement) and `data::enqueue` (a change made on the central).

use sqlx::AnyConnection;

/// Rows in the site's queue, from its counter (see "The queue's length").
pub async fn read(conn: &mut AnyConnection, site_id: i64) -> sqlx::Result<u64> {
    let length: Option<i64> = sqlx::query_scalar("SELECT length FROM sync_out_length WHERE site_id = $1")
        .bind(site_id)
        .fetch_optional(conn)
        .await?;
    Ok(length.unwrap_or(0).max(0) as u64)
}

/// Count `n` rows just added to the site's queue, in the transaction that added them.
pub async fn added(conn: &mut AnyConnection, site_id: i64, n: u64) -> sqlx::Result<()> {
    if n == 0 {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO sync_out_length (site_id, length) VALUES ($1, $2)
         ON CONFLICT (site_id) DO UPDATE SET length = sync_out_length.length + excluded.length",
    )
    .bind(site_id)
    .bind(n as i64)
    .execute(conn)
    .await?;
    Ok(())
}

/// Count `n` rows just removed from the site's queue, in the transaction that removed them.
pub async fn removed(conn: &mut AnyConnection, site_id: i64, n: u64) -> sqlx::Result<()> {
    if n == 0 {
        return Ok(());
    }
    sqlx::query("UPDATE sync_out_length SET length = length - $2 WHERE site_id = $1")
        .bind(site_id)
        .bind(n as i64)
        .execute(conn)
        .await?;
    Ok(())
}
