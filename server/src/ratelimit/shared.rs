//! The counts in `auth_failure`, for centrals on PostgreSQL (see the parent module's doc, "In
//! memory, or in PostgreSQL for replicas"); keys are hex digests, sorted.

use std::time::Duration;

use sqlx::AssertSqlSafe;

use super::SharedAttempt;
use crate::db::CentralDb;

const NOW_US: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)";

fn micros(d: Duration) -> i64 {
    d.as_micros().min(i64::MAX as u128) as i64
}

/// How long until the oldest failure of `key` within the window leaves it.
async fn wait_for(conn: &mut sqlx::AnyConnection, key: &str, now: i64, window: i64) -> sqlx::Result<Duration> {
    let oldest: Option<i64> =
        sqlx::query_scalar("SELECT MIN(t) FROM auth_failure, unnest(times) AS t WHERE key = $1 AND t > $2 - $3")
            .bind(key)
            .bind(now)
            .bind(window)
            .fetch_one(conn)
            .await?;
    let left = oldest.map_or(0, |o| (o + window - now).max(0));
    Ok(Duration::from_micros(left as u64).max(Duration::from_secs(1)))
}

/// Count one attempt against every key in one transaction, each by one conditional upsert,
/// or `Ok(Err((key, retry_after)))` (nothing counted) when `key` has used up its failures.
pub async fn reserve(
    db: &CentralDb,
    keys: &[String],
    max: usize,
    window: Duration,
) -> sqlx::Result<Result<SharedAttempt, (String, Duration)>> {
    let window = micros(window);
    let mut tx = db.pool.begin().await?;
    let now: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT {NOW_US}"))).fetch_one(&mut *tx).await?;
    for key in keys {
        // Appends `now` while fewer than `max` failures are in the window, dropping those
        // older than it; the row stays locked to the end of the transaction.
        let admitted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO auth_failure AS f (key, times) VALUES ($1, ARRAY[CAST($2 AS BIGINT)])
             ON CONFLICT (key) DO UPDATE SET times =
               COALESCE((SELECT array_agg(t ORDER BY t) FROM unnest(f.times) AS t WHERE t > $2 - $3), '{}') || CAST($2 AS BIGINT)
             WHERE (SELECT COUNT(*) FROM unnest(f.times) AS t WHERE t > $2 - $3) < $4
             RETURNING 1",
        )
        .bind(key)
        .bind(now)
        .bind(window)
        .bind(max as i64)
        .fetch_optional(&mut *tx)
        .await?
        .map(|one: i32| one as i64);
        if admitted.is_none() {
            let wait = wait_for(&mut tx, key, now, window).await?;
            tx.rollback().await?;
            return Ok(Err((key.clone(), wait)));
        }
    }
    tx.commit().await?;
    Ok(Ok(SharedAttempt { keys: keys.to_vec(), at: now }))
}

/// Take an attempt back (the credentials were right): one occurrence of its time per key.
/// `array_remove` took every failure of that microsecond, another replica's guess too.
pub async fn refund(db: &CentralDb, attempt: &SharedAttempt) -> sqlx::Result<()> {
    for key in &attempt.keys {
        sqlx::query(
            "UPDATE auth_failure SET times =
               times[:array_position(times, CAST($2 AS BIGINT)) - 1] || times[array_position(times, CAST($2 AS BIGINT)) + 1:]
             WHERE key = $1 AND array_position(times, CAST($2 AS BIGINT)) IS NOT NULL",
        )
        .bind(key)
        .bind(attempt.at)
        .execute(&db.pool)
        .await?;
    }
    Ok(())
}

/// Delete keys with no failure in the window.
pub async fn sweep(db: &CentralDb, window: Duration) -> sqlx::Result<()> {
    sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM auth_failure WHERE COALESCE((SELECT MAX(t) FROM unnest(times) AS t), 0) <= {NOW_US} - $1"
    )))
    .bind(micros(window))
    .execute(&db.pool)
    .await?;
    Ok(())
}
