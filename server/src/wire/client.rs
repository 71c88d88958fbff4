//! The HTTP plumbing both sync clients share: one `reqwest` client per connect-timeout tier,
//! the reference's retry policy, zstd or gzip replies, zstd or gzip requests only to a central
//! that said it decodes them ([`super::HEADER_ACCEPTS_COMPRESSED_REQUESTS`]), and an idle-read timeout.
//!
//! Why an idle-read timeout and only a generous wall-clock cap: a slow cellular link that keeps
//! delivering bytes must be allowed to finish a big page, while a stalled connection must not
//! hang a run forever (reference §1.9, upstream issues #7196/#7410). The wall-clock cap
//! ([`CALL_DEADLINE`]) is there for a hostile or broken central that trickles bytes forever,
//! and [`MAX_RESPONSE_BYTES`] (counted after decompression) for one that answers with a
//! gzip or zstd bomb: either would otherwise hold or exhaust the site. (reqwest decodes zstd
//! answers with libzstd's default window ceiling, 128 MiB, and exposes no setting for it; the
//! site makes one call at a time, so a hostile central can cost it that much once, not per
//! connection as it could cost a central: see `central_shared::zstd_requests`.)

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, StatusCode};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Largest reply accepted, after decompression: a full page of the largest records is far below.
pub const MAX_RESPONSE_BYTES: usize = 128 * 1024 * 1024;
/// Longest one attempt of a call may take, however steadily bytes arrive.
pub const CALL_DEADLINE: Duration = Duration::from_secs(10 * 60);

/// The default idle-read timeout: the reference's 5 minutes.
pub const IDLE_READ: Duration = Duration::from_secs(5 * 60);

/// Called whenever bytes arrive, so the engine's stall watchdog knows the link is alive.
pub type ActivityHook = Arc<dyn Fn() + Send + Sync>;

/// How patient a client is.
#[derive(Debug, Clone)]
pub struct Timeouts {
    /// Connect timeout of each attempt; the number of entries is the number of attempts.
    pub connect: Vec<Duration>,
    /// Longest silence tolerated while waiting for (more of) a response.
    pub idle_read: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        // The reference's 2 s / 5 s / 10 s connect tiers and 5 minutes of silence: a central
        // busy with a large page may say nothing for a while, and a slow link must be allowed
        // to finish. Nothing the site asks for takes that long to start answering any more
        // (a preparation answers at once and is polled), so this only ends dead connections.
        Timeouts {
            connect: vec![Duration::from_secs(2), Duration::from_secs(5), Duration::from_secs(10)],
            idle_read: IDLE_READ,
        }
    }
}

/// Why a request failed, before any protocol meaning is attached.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("Connection problem: {0}")]
    Connect(String),
    /// The TLS handshake failed on the central's certificate: the text names the problem
    /// (unknown authority, wrong host name, expired, ...).
    #[error("The central's TLS certificate was refused: {0}")]
    Certificate(String),
    #[error("Timed out waiting for the server: {0}")]
    Timeout(String),
    #[error("Unexpected HTTP status {status}: {body}")]
    Status { status: u16, body: String },
    #[error("Could not parse the server's reply: {error}; body starts with: {body}")]
    Parse { error: String, body: String },
    #[error("Could not encode the request: {0}")]
    Encode(String),
    #[error("The server's reply is larger than {0} bytes")]
    TooLarge(usize),
    #[error("Request failed: {0}")]
    Other(String),
}

/// A raw reply: status plus the whole (decompressed) body.
pub struct Reply {
    pub status: StatusCode,
    pub body: bytes::Bytes,
    /// The `Retry-After` header in seconds, when the server asked the caller to wait.
    pub retry_after: Option<u64>,
    /// From the answer's headers to its last byte: mostly the time the link spent carrying the
    /// body, since our centrals read and serialise a page before its headers go (compressing
    /// it streams after them, a few milliseconds a page); with [`HttpClient::round_trip`], it
    /// tells a slow link from a busy central (`site::sync::steps::batch`).
    pub receiving: Duration,
}

impl Reply {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Failure> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Failure::Parse { error: e.to_string(), body: excerpt(&self.body) })
    }

    pub fn text(&self) -> String {
        excerpt(&self.body)
    }
}

/// What an answer's transfer says about the link: its size (decompressed),
/// [`Reply::receiving`], and the client's [`HttpClient::round_trip`] when it came. It sizes the
/// next pull page (`site::sync::steps::batch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Transfer {
    pub bytes: usize,
    pub receiving: Duration,
    pub round_trip: Duration,
}

/// The first few hundred characters of a body, for error messages.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        s.push('…');
    }
    s
}

/// A set of reqwest clients (one per connect tier) plus the activity hook.
#[derive(Clone)]
pub struct HttpClient {
    tiers: Arc<[reqwest::Client]>,
    activity: Option<ActivityHook>,
    /// Shared: this client sits in enums the sync engine moves around, which stay small.
    caps: Arc<Caps>,
}

#[derive(Debug)]
struct Caps {
    max_response_bytes: usize,
    deadline: Duration,
    /// A [`Coding`] as u8: set once the server has said it decodes compressed request bodies
    /// (and which); until then bodies go plain.
    compress_requests: AtomicU8,
    /// The quickest answer so far (request sent to headers), in microseconds; `u64::MAX`
    /// before the first. See [`HttpClient::round_trip`].
    quickest_answer_us: AtomicU64,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").field("attempts", &self.tiers.len()).finish()
    }
}

/// Certificate authorities trusted besides the system's (`--ca-cert`), for the whole process:
/// like the system store, trust belongs to the machine's installation, not to one client.
static EXTRA_ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();

/// The TLS settings every client of the process shares, made by the first client: the system's
/// roots plus [`EXTRA_ROOTS`]. Made once because making them reads and parses every certificate
/// of the system's store: with a client per sync (a site's run, the bench's fleet) that was a
/// third of the CPU a fleet's syncs cost. `None` when the store cannot be loaded; each client
/// then builds its own, and says why.
static SHARED_TLS: OnceLock<Option<rustls::ClientConfig>> = OnceLock::new();

fn shared_tls() -> Option<rustls::ClientConfig> {
    SHARED_TLS
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let extra = EXTRA_ROOTS.get().cloned().unwrap_or_default();
            let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
                .inspect_err(|e| tracing::warn!("cannot load the system's certificate authorities: {e}"))
                .ok()?;
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .ok()?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth();
            // What reqwest sets when it builds the settings itself (HTTP/1.1 only here).
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Some(config)
        })
        .clone()
}

/// Why `--ca-cert` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CaCertError {
    #[error("cannot read the CA certificate file {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("{path} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----): {error}")]
    NotPem { path: String, error: String },
    #[error("--ca-cert can be given once per process, before the first connection")]
    AlreadySet,
}

/// Trust the certificates of a PEM file (a private CA) for every sync client of the process,
/// on top of the system's roots. Called at start, before any client is made.
pub fn trust_ca_file(path: &Path) -> Result<(), CaCertError> {
    let shown = path.display().to_string();
    let pem = std::fs::read(path).map_err(|error| CaCertError::Read { path: shown.clone(), error })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CaCertError::NotPem { path: shown.clone(), error: e.to_string() })?;
    if certs.is_empty() {
        return Err(CaCertError::NotPem { path: shown, error: "no certificate found".into() });
    }
    if SHARED_TLS.get().is_some() {
        return Err(CaCertError::AlreadySet);
    }
    EXTRA_ROOTS.set(certs).map_err(|_| CaCertError::AlreadySet)
}

/// Make `ring` rustls's process-wide crypto provider (once; later calls do nothing). Ring
/// builds with only a C compiler, where aws-lc-rs also needs cmake (README, "TLS").
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Longest wait for a busy central's `Retry-After` before asking again.
pub const BUSY_WAIT: Duration = Duration::from_secs(10);

impl HttpClient {
    pub fn new(timeouts: &Timeouts, activity: Option<ActivityHook>) -> Self {
        install_crypto_provider();
        let tls = shared_tls();
        let tiers = timeouts
            .connect
            .iter()
            .map(|connect| {
                // Proxies come from HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY, as curl reads them.
                let builder = reqwest::Client::builder()
                    .connect_timeout(*connect)
                    .read_timeout(timeouts.idle_read)
                    .gzip(true)
                    .zstd(true);
                let builder = match &tls {
                    Some(config) => builder.tls_backend_preconfigured(config.clone()),
                    None => builder,
                };
                builder.build().expect("a reqwest client with the ring provider always builds")
            })
            .collect();
        HttpClient {
            tiers,
            activity,
            caps: Arc::new(Caps {
                max_response_bytes: MAX_RESPONSE_BYTES,
                deadline: CALL_DEADLINE,
                compress_requests: AtomicU8::new(Coding::Plain as u8),
                quickest_answer_us: AtomicU64::new(u64::MAX),
            }),
        }
    }

    /// The quickest answer of this client so far, from sending a request to its headers (zero
    /// before the first): an upper bound on the link's round trip, since the cheapest calls
    /// (a status poll) cost the server almost nothing. A pull page's request also pays it, and
    /// it is the link's, not the central's (`site::sync::steps::batch`).
    pub fn round_trip(&self) -> Duration {
        match self.caps.quickest_answer_us.load(Ordering::Relaxed) {
            u64::MAX => Duration::ZERO,
            us => Duration::from_micros(us),
        }
    }

    /// Whether request bodies are compressed: only after the server said it decodes them.
    pub fn compresses_requests(&self) -> bool {
        self.request_coding() != Coding::Plain
    }

    /// How request bodies are compressed now.
    pub fn request_coding(&self) -> Coding {
        match self.caps.compress_requests.load(Ordering::Relaxed) {
            1 => Coding::Gzip,
            2 => Coding::Zstd,
            _ => Coding::Plain,
        }
    }

    /// Other caps than [`MAX_RESPONSE_BYTES`] and [`CALL_DEADLINE`] (tests make them small).
    pub fn with_caps(mut self, max_response_bytes: usize, deadline: Duration) -> Self {
        let compress_requests = AtomicU8::new(self.request_coding() as u8);
        let quickest_answer_us = AtomicU64::new(self.caps.quickest_answer_us.load(Ordering::Relaxed));
        self.caps = Arc::new(Caps { max_response_bytes, deadline, compress_requests, quickest_answer_us });
        self
    }

    /// Another cap than [`MAX_RESPONSE_BYTES`], the deadline unchanged.
    pub fn with_max_response_bytes(self, max_response_bytes: usize) -> Self {
        let deadline = self.caps.deadline;
        self.with_caps(max_response_bytes, deadline)
    }

    fn beat(&self) {
        if let Some(hook) = &self.activity {
            hook();
        }
    }

    /// Send a request, with a JSON body when `body` is given (compressed only for a server
    /// that said it decodes it), retrying connect errors, timeouts, HTTP 408, a 503 that says
    /// when to come back (`Retry-After`), and a proxy's 502 (it could not send the request to
    /// the central behind it: a connect error one hop further; a load balancer sends the next
    /// attempt to another replica). Not a 504: the central got that request and may still be
    /// working on it (a long `initialise`), so sending it again would only add a copy. Other
    /// 5xx are answers, not a flaky link.
    ///
    /// A compressed body answered 415 is sent again at once in the next weaker coding (zstd,
    /// then gzip, then plain). The coding is learnt from the last answer, and behind a load
    /// balancer during a rolling upgrade the last answer may come from a new replica (`gzip,
    /// zstd`) and the next request go to an old one, which decodes gzip only.
    pub async fn send<B: Serialize>(
        &self,
        method: Method,
        url: &str,
        decorate: impl Fn(RequestBuilder) -> RequestBuilder,
        body: Option<&B>,
    ) -> Result<Reply, Failure> {
        let mut coding = self.request_coding();
        let mut payload = match body {
            Some(b) => Some(encode_json(b, coding)?),
            None => None,
        };
        let mut last = Failure::Other("no attempt made".into());
        for client in self.tiers.iter() {
            let reply = loop {
                let mut request = decorate(client.request(method.clone(), url));
                if let Some(bytes) = &payload {
                    request = request.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    match coding {
                        Coding::Gzip => request = request.header(CONTENT_ENCODING, HeaderValue::from_static("gzip")),
                        Coding::Zstd => request = request.header(CONTENT_ENCODING, HeaderValue::from_static("zstd")),
                        Coding::Plain => {}
                    }
                    request = request.body(bytes.clone());
                }
                let reply = self.attempt(request).await;
                if let (Ok(answer), Some(body)) = (&reply, body)
                    && answer.status == StatusCode::UNSUPPORTED_MEDIA_TYPE
                    && coding != Coding::Plain
                {
                    let weaker = coding.weaker();
                    tracing::info!(url, refused = ?coding, retry_with = ?weaker, "the central refused the request's coding");
                    coding = weaker;
                    payload = Some(encode_json(body, coding)?);
                    continue;
                }
                break reply;
            };
            match reply {
                Ok(reply) if reply.status == StatusCode::BAD_GATEWAY => {
                    last = Failure::Status { status: reply.status.as_u16(), body: reply.text() };
                }
                Ok(reply) if reply.status == StatusCode::REQUEST_TIMEOUT => {
                    last = Failure::Timeout(format!("HTTP 408 from {url}"));
                }
                // A central shedding load (ours, when bodies not yet vouched for fill its
                // budget) says when to come back: wait that long, at most BUSY_WAIT, and ask
                // again, rather than failing the run on a moment's crowd.
                Ok(reply) if reply.status == StatusCode::SERVICE_UNAVAILABLE && reply.retry_after.is_some() => {
                    let wait = Duration::from_secs(reply.retry_after.unwrap_or_default()).min(BUSY_WAIT);
                    tokio::time::sleep(wait).await;
                    last = Failure::Timeout(format!(
                        "HTTP 503 from {url}: still busy after {} attempts",
                        self.tiers.len()
                    ));
                }
                Ok(reply) => return Ok(reply),
                Err(failure @ (Failure::Connect(_) | Failure::Timeout(_))) => last = failure,
                Err(other) => return Err(other),
            }
        }
        Err(last)
    }

    async fn attempt(&self, request: RequestBuilder) -> Result<Reply, Failure> {
        match tokio::time::timeout(self.caps.deadline, self.read_reply(request)).await {
            Ok(reply) => reply,
            Err(_) => Err(Failure::Timeout(format!("no complete answer within {:?}", self.caps.deadline))),
        }
    }

    async fn read_reply(&self, request: RequestBuilder) -> Result<Reply, Failure> {
        let sent = Instant::now();
        let mut response = request.send().await.map_err(classify)?;
        let headers_at = Instant::now();
        let waited = u64::try_from((headers_at - sent).as_micros()).unwrap_or(u64::MAX - 1);
        self.caps.quickest_answer_us.fetch_min(waited, Ordering::Relaxed);
        self.beat();
        let status = response.status();
        let accepts = response.headers().get(super::HEADER_ACCEPTS_COMPRESSED_REQUESTS).and_then(|v| v.to_str().ok());
        if let Some(accepts) = accepts {
            let has = |coding: &str| accepts.split(',').any(|c| c.trim().eq_ignore_ascii_case(coding));
            let best = if has("zstd") {
                Coding::Zstd
            } else if has("gzip") {
                Coding::Gzip
            } else {
                Coding::Plain
            };
            self.caps.compress_requests.store(best as u8, Ordering::Relaxed);
        }
        let retry_after = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
        let mut body = bytes::BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            self.beat();
            // Chunks arrive decompressed, so this bounds what a gzip or zstd bomb can cost.
            if body.len() + chunk.len() > self.caps.max_response_bytes {
                return Err(Failure::TooLarge(self.caps.max_response_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Reply { status, body: body.freeze(), retry_after, receiving: headers_at.elapsed() })
    }
}

/// How a request body goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Coding {
    Plain = 0,
    Gzip = 1,
    Zstd = 2,
}

impl Coding {
    /// The coding to try when a server refuses this one (415): every server we know decodes
    /// gzip, and any server reads plain JSON.
    fn weaker(self) -> Coding {
        match self {
            Coding::Zstd => Coding::Gzip,
            Coding::Gzip | Coding::Plain => Coding::Plain,
        }
    }
}

fn encode_json<B: Serialize>(body: &B, coding: Coding) -> Result<bytes::Bytes, Failure> {
    let encode = |e: std::io::Error| Failure::Encode(e.to_string());
    let json = serde_json::to_vec(body).map_err(|e| Failure::Encode(e.to_string()))?;
    Ok(match coding {
        Coding::Plain => json.into(),
        Coding::Gzip => {
            let mut encoder = GzEncoder::new(Vec::with_capacity(json.len() / 4 + 64), Compression::fast());
            encoder.write_all(&json).map_err(encode)?;
            encoder.finish().map_err(encode)?.into()
        }
        Coding::Zstd => zstd::bulk::compress(&json, super::ZSTD_LEVEL).map_err(encode)?.into(),
    })
}

/// Timeouts first: reqwest flags a connect timeout as both, and it is the waiting that matters.
fn classify(e: reqwest::Error) -> Failure {
    let text = error_chain(&e);
    if let Some(problem) = certificate_problem(&e) {
        return Failure::Certificate(problem);
    }
    if e.is_timeout() {
        Failure::Timeout(text)
    } else if e.is_connect() {
        Failure::Connect(text)
    } else if e.is_decode() || e.is_body() || e.is_request() {
        // A connection cut mid-body, or closed before the answer came ("connection closed
        // before message completed"), is a link problem, retried like a connect error. The
        // fault harness found the latter ending runs as UNKNOWN on a single dropped connection.
        Failure::Connect(text)
    } else {
        Failure::Other(text)
    }
}

/// The certificate problem behind a failed connection, in words, when there is one. rustls's
/// error sits inside an `io::Error`, whose `source()` skips it, so each link is unwrapped.
fn certificate_problem(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(e);
    while let Some(error) = next {
        let tls = error
            .downcast_ref::<rustls::Error>()
            .or_else(|| error.downcast_ref::<std::io::Error>()?.get_ref()?.downcast_ref::<rustls::Error>());
        if let Some(tls) = tls {
            return describe_tls(tls);
        }
        next = error.source();
    }
    // Some links are boxed trait objects that do not downcast; rustls's own words remain.
    let text = error_chain(e);
    let at = text.find("invalid peer certificate: ")?;
    Some(text[at..].to_owned())
}

fn describe_tls(error: &rustls::Error) -> Option<String> {
    use rustls::CertificateError as C;
    let cert = match error {
        rustls::Error::InvalidCertificate(cert) => cert,
        rustls::Error::NoCertificatesPresented => return Some("the server presented no certificate".into()),
        _ => return None,
    };
    let words = match cert {
        C::UnknownIssuer => "it is signed by an unknown certificate authority (UnknownIssuer)".to_owned(),
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            format!("it is not valid for this host name (NotValidForName): {cert:?}")
        }
        C::Expired | C::ExpiredContext { .. } => format!("it has expired (Expired): {cert:?}"),
        C::NotValidYet | C::NotValidYetContext { .. } => format!("it is not valid yet (NotValidYet): {cert:?}"),
        C::Revoked => "it has been revoked (Revoked)".to_owned(),
        C::BadSignature => "its signature is invalid (BadSignature)".to_owned(),
        other => format!("{other:?}"),
    };
    Some(words)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

/// A failed call to either central, with where it went: the reference's
/// `Sync api error, url: '…', route: '…'` followed by the cause.
#[derive(Debug, thiserror::Error)]
#[error("Sync api error, url: '{url}', route: '{route}'")]
pub struct CallError {
    pub url: String,
    pub route: String,
    #[source]
    pub problem: Problem,
}

/// What the central (or the link to it) said.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error(transparent)]
    Transport(#[from] Failure),
    /// The V5 error envelope `{"error":{"code","message","data"}}`, and the wait a lock-out
    /// asks for (`Retry-After`), which the V6 central relays to its own callers.
    #[error("V5 central answered {status} {}: {}", .error.code, .error.message)]
    V5 { status: u16, error: super::v5::ErrorBody, retry_after: Option<u64> },
    /// The V6 `{"error": …}` answer.
    #[error("V6 central answered error {0:?}")]
    V6(super::v6::ErrorValue),
}

impl CallError {
    pub fn new(url: &str, route: &str, problem: impl Into<Problem>) -> Self {
        CallError { url: url.to_owned(), route: route.to_owned(), problem: problem.into() }
    }
}
