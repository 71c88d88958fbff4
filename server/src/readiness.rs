//! Readiness (`GET /ready`): may this server take work now? Liveness (`/health`) only says the
//! process answers; a load balancer or service manager asks readiness before sending sites to
//! it, so it checks the database.
//!
//! It is open to anyone who can reach the server, so it must cost next to nothing however
//! often it is asked: one trivial query with a short timeout, at most one in flight, and its
//! answer reused for a second. A flood of probes therefore becomes at most one `SELECT 1` a
//! second, never a queue of database connections. The answer names no database detail (the
//! log has it).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// How long the database may take to answer `SELECT 1` (a pool wait included).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one answer stands for every probe that asks.
pub const REUSE_FOR: Duration = Duration::from_secs(1);

/// The body of `GET /ready`: `{"status":"ready"}`, or `{"status":"not_ready","reason":…}` with 503.
#[derive(Debug, Serialize)]
pub struct ReadyBody {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// An answer and when it was found; `Err` holds the reason given to the caller.
type Answer = (Instant, Result<(), &'static str>);

/// One role's readiness check: the last answer.
#[derive(Clone, Default)]
pub struct Readiness {
    last: Arc<tokio::sync::Mutex<Option<Answer>>>,
}

impl Readiness {
    /// Answer a probe: reuse an answer younger than [`REUSE_FOR`], else run `probe` (a trivial
    /// query) within [`PROBE_TIMEOUT`]. Probes arriving meanwhile wait for that one answer.
    pub async fn answer<Fut>(&self, probe: impl FnOnce() -> Fut) -> Response
    where
        Fut: Future<Output = sqlx::Result<()>>,
    {
        let mut last = self.last.lock().await;
        let result = match &*last {
            Some((at, result)) if at.elapsed() < REUSE_FOR => *result,
            _ => {
                let result = match tokio::time::timeout(PROBE_TIMEOUT, probe()).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => {
                        tracing::warn!("not ready: the database refused SELECT 1: {e}");
                        Err("the database did not answer a trivial query (see the server log)")
                    }
                    Err(_) => {
                        tracing::warn!("not ready: the database took more than {PROBE_TIMEOUT:?} to answer SELECT 1");
                        Err("the database did not answer within 2 seconds")
                    }
                };
                *last = Some((Instant::now(), result));
                result
            }
        };
        drop(last);
        match result {
            Ok(()) => (StatusCode::OK, Json(ReadyBody { status: "ready", reason: None })).into_response(),
            Err(reason) => {
                (StatusCode::SERVICE_UNAVAILABLE, Json(ReadyBody { status: "not_ready", reason: Some(reason) }))
                    .into_response()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn status(r: &Readiness, ok: bool) -> StatusCode {
        r.answer(|| async move { if ok { Ok(()) } else { Err(sqlx::Error::PoolClosed) } }).await.status()
    }

    #[tokio::test]
    async fn a_failing_database_answers_503_and_an_answer_is_reused_for_a_second() {
        let r = Readiness::default();
        assert_eq!(status(&r, false).await, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(status(&r, true).await, StatusCode::SERVICE_UNAVAILABLE, "the answer stands for a second");
        tokio::time::sleep(REUSE_FOR).await;
        assert_eq!(status(&r, true).await, StatusCode::OK, "a new probe after a second");
    }

    #[tokio::test]
    async fn a_hanging_database_answers_503_after_the_timeout() {
        let r = Readiness::default();
        let answer = r.answer(std::future::pending::<sqlx::Result<()>>).await;
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn many_probes_at_once_run_one_query() {
        let r = Readiness::default();
        let queries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let probes = (0..50).map(|_| {
            let (r, queries) = (r.clone(), queries.clone());
            tokio::spawn(async move {
                r.answer(|| async move {
                    queries.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Ok(())
                })
                .await
                .status()
            })
        });
        for p in probes.collect::<Vec<_>>() {
            assert_eq!(p.await.unwrap(), StatusCode::OK);
        }
        assert_eq!(queries.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
