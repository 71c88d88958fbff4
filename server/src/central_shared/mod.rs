//! What both central servers share and neither owns: which sites are busy initialising or
//! integrating (so each answers "sync is running" the same way), the push buffer and its
//! background integration, the ownership rule every pushed record meets, set-based statements on the tables both have, the shared half of the
//! error → HTTP mapping, write transactions whose change-log cursors commit in order, and the
//! router's outer layers (health, body limit, gzip, request logs that never carry credentials).

pub mod activity;
pub mod bulk;
pub mod credential_cache;
pub mod error;
pub mod integration;
pub mod kill_point;
pub mod metrics;
pub mod ownership;
pub mod push_buffer;
pub mod push_refused;
pub mod zstd_requests;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue};
use axum::routing::get;
use axum::{Json, Router};
use outpost_api::Health;
use sqlx::{Any, AnyConnection, AssertSqlSafe, Transaction};
use tower_http::compression::predicate::{DefaultPredicate, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::db::{Backend, CentralDb};

/// Answers of this size or less are sent uncompressed (see [`finish_router`]'s compression layers).
const COMPRESS_ABOVE_BYTES: u16 = 1024;

/// How long the final push waits for its integration before answering: a push of a usual size
/// integrates in milliseconds, so the site's first status poll then finds the central idle.
pub const INTEGRATION_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// Start a write transaction whose change-log cursors commit in order (see [`lock_change_log`]).
pub async fn begin_ordered(db: &CentralDb, change_log: &'static str) -> sqlx::Result<Transaction<'static, Any>> {
    let mut tx = db.begin_write().await?;
    lock_change_log(&mut tx, db.backend, change_log).await?;
    Ok(tx)
}

/// On PostgreSQL, lock the change log `table` for the rest of the transaction, so cursors
/// commit in the order they were taken: a reader that has passed cursor N never misses a
/// later-committed N-1 (the reference guards the same race with a lock on read). Take it before
/// the transaction's first change-log row. SQLite has one writer at a time anyway.
pub async fn lock_change_log(conn: &mut AnyConnection, backend: Backend, table: &'static str) -> sqlx::Result<()> {
    if backend == Backend::Postgres {
        // Only a constant table name is spliced in.
        sqlx::query(AssertSqlSafe(format!("LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))).execute(conn).await?;
    }
    Ok(())
}

/// What every central's router ends with: `GET /health` naming `role`, `GET /ready` (checks
/// `db`, see [`crate::readiness`]), `GET /metrics` and the request counts behind it
/// ([`metrics`]), the body limit (counted
/// after decompression), zstd or gzip in both directions (request bodies with or without
/// either, zstd ones with a bounded window ([`zstd_requests`]), and the header that tells our site it may compress them), and request logs.
pub fn finish_router(
    routes: Router,
    role: &'static str,
    db: CentralDb,
    metrics: metrics::Metrics,
    max_body_bytes: usize,
) -> Router {
    let health = move || async move {
        Json(Health { status: "ok".into(), role: role.into(), version: env!("CARGO_PKG_VERSION").into() })
    };
    let readiness = crate::readiness::Readiness::default();
    let ready = move || async move {
        readiness.answer(|| async { sqlx::query("SELECT 1").execute(&db.pool).await.map(|_| ()) }).await
    };
    routes
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route(
            "/metrics",
            get({
                let metrics = metrics.clone();
                move |request| metrics.serve(request)
            }),
        )
        .layer(axum::middleware::from_fn(move |request, next| metrics.clone().count(request, next)))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        // gzip here (and 415 for codings we do not know); zstd outside it, with a bounded window.
        .layer(RequestDecompressionLayer::new().no_zstd())
        .layer(axum::middleware::from_fn(zstd_requests::decode))
        .layer(axum::middleware::map_response(say_accepts_compressed_requests))
        // zstd for a caller that accepts it (our site), at our level; gzip, the reference's
        // coding, for any other: the outer layer leaves an already compressed answer alone.
        // Small answers go as they are: a streamed zstd encoder at our level does not know the
        // size coming and sets up megabytes of tables for each answer (the centrals' largest
        // cost per request in central_scale), to save a few hundred bytes.
        .layer(
            CompressionLayer::new()
                .no_gzip()
                .quality(CompressionLevel::Precise(crate::wire::ZSTD_LEVEL))
                .compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_ABOVE_BYTES))),
        )
        .layer(
            CompressionLayer::new()
                .no_zstd()
                .compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_ABOVE_BYTES))),
        )
        .layer(request_log(role))
}

async fn say_accepts_compressed_requests(mut response: axum::response::Response) -> axum::response::Response {
    response.headers_mut().insert(
        HeaderName::from_static(crate::wire::HEADER_ACCEPTS_COMPRESSED_REQUESTS),
        HeaderValue::from_static(crate::wire::ACCEPTED_REQUEST_CODINGS),
    );
    response
}

/// Request logs carry method, path, status and latency only: never headers (credentials) or
/// bodies (V6 bodies carry credentials too).
fn request_log(
    role: &'static str,
) -> TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    impl Fn(&axum::http::Request<axum::body::Body>) -> tracing::Span + Clone,
    tower_http::trace::DefaultOnRequest,
    DefaultOnResponse,
> {
    TraceLayer::new_for_http()
        .make_span_with(move |req: &axum::http::Request<axum::body::Body>| {
            tracing::info_span!("request", role, method = %req.method(), path = %req.uri().path())
        })
        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO).latency_unit(tower_http::LatencyUnit::Millis))
}
