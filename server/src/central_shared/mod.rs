//! What both central servers share and neither owns: which sites are busy initialising or
//! integrating (so each answers "sync is running" the same way), how long a final push waits for
//! its integration, and request logs that never carry credentials.

pub mod activity;

use tower_http::trace::{DefaultOnResponse, TraceLayer};

/// How long the final push waits for its integration before answering: a push of a usual size
/// integrates in milliseconds, so the site's first status poll then finds the central idle.
pub const INTEGRATION_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// Request logs carry method, path, status and latency only: never headers (credentials) or
/// bodies (V6 bodies carry credentials too).
pub fn request_log(
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
