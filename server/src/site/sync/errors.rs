//! Every way a sync run can fail, in one place: the variant (reference §5, plus `TIMEOUT`), the
//! sentence a person reads, the hint on what to do, and the mapping from client failures.
//!
//! Better than the reference: timeouts get their own variant instead of UNKNOWN, and V5 auth
//! errors that come back through the V6 central map to the real variants.

use outpost_api::StepKey;

use crate::wire::client::{CallError, Failure, Problem};
use crate::wire::v5::{ErrorBody, code};
use crate::wire::v6::ErrorValue;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    ConnectionError,
    /// The central's TLS certificate was refused (unknown CA, wrong name, expired).
    CertificateError,
    SiteNameNotFound,
    IncorrectPassword,
    HardwareIdMismatch,
    SiteHasNoStore,
    SiteAuthTimeout,
    ApiVersionIncompatible,
    V6ApiVersionIncompatible,
    CentralV6NotConfigured,
    IntegrationTimeoutReached,
    IntegrationError,
    /// A central refused a record and this site could not set it aside (every record a central
    /// refuses is normally quarantined as an outgoing refusal and the run goes on).
    SyncRecordRejected,
    /// A single record a central serves is over this site's cap on an answer
    /// (`EngineConfig::max_response_bytes`): the V5 pull cannot go past it.
    RecordTooLarge,
    /// The V5 central did not complete this site's first preparation, though asked again (it
    /// restarted while preparing, or its preparation failed; the full error has its status).
    PreparationIncomplete,
    /// This server's own database failed (a read or write of the site's data or bookkeeping).
    Database,
    SiteUuidIsBeingChanged,
    InvalidUrl,
    Timeout,
    /// The server stopped (crash, power cut, kill) while the run was going; set on restart.
    Interrupted,
    Unknown,
}

impl Variant {
    pub const ALL: [Variant; 21] = [
        Variant::ConnectionError,
        Variant::CertificateError,
        Variant::SiteNameNotFound,
        Variant::IncorrectPassword,
        Variant::HardwareIdMismatch,
        Variant::SiteHasNoStore,
        Variant::SiteAuthTimeout,
        Variant::ApiVersionIncompatible,
        Variant::V6ApiVersionIncompatible,
        Variant::CentralV6NotConfigured,
        Variant::IntegrationTimeoutReached,
        Variant::IntegrationError,
        Variant::SyncRecordRejected,
        Variant::RecordTooLarge,
        Variant::PreparationIncomplete,
        Variant::Database,
        Variant::SiteUuidIsBeingChanged,
        Variant::InvalidUrl,
        Variant::Timeout,
        Variant::Interrupted,
        Variant::Unknown,
    ];

    /// The stored code and the `variant` field of the JSON API.
    pub fn code(self) -> &'static str {
        match self {
            Variant::ConnectionError => "CONNECTION_ERROR",
            Variant::CertificateError => "CERTIFICATE_ERROR",
            Variant::SiteNameNotFound => "SITE_NAME_NOT_FOUND",
            Variant::IncorrectPassword => "INCORRECT_PASSWORD",
            Variant::HardwareIdMismatch => "HARDWARE_ID_MISMATCH",
            Variant::SiteHasNoStore => "SITE_HAS_NO_STORE",
            Variant::SiteAuthTimeout => "SITE_AUTH_TIMEOUT",
            Variant::ApiVersionIncompatible => "API_VERSION_INCOMPATIBLE",
            Variant::V6ApiVersionIncompatible => "V6_API_VERSION_INCOMPATIBLE",
            Variant::CentralV6NotConfigured => "CENTRAL_V6_NOT_CONFIGURED",
            Variant::IntegrationTimeoutReached => "INTEGRATION_TIMEOUT_REACHED",
            Variant::IntegrationError => "INTEGRATION_ERROR",
            Variant::SyncRecordRejected => "SYNC_RECORD_REJECTED",
            Variant::RecordTooLarge => "RECORD_TOO_LARGE",
            Variant::PreparationIncomplete => "PREPARATION_INCOMPLETE",
            Variant::Database => "DATABASE_ERROR",
            Variant::SiteUuidIsBeingChanged => "SITE_UUID_IS_BEING_CHANGED",
            Variant::InvalidUrl => "INVALID_URL",
            Variant::Timeout => "TIMEOUT",
            Variant::Interrupted => "INTERRUPTED",
            Variant::Unknown => "UNKNOWN",
        }
    }

    pub fn from_code(code: &str) -> Variant {
        Variant::ALL.into_iter().find(|v| v.code() == code).unwrap_or(Variant::Unknown)
    }

    pub fn message(self) -> &'static str {
        match self {
            Variant::ConnectionError => "Unable to connect to server",
            Variant::CertificateError => "The central server's TLS certificate is not trusted",
            Variant::SiteNameNotFound => "Site name not found",
            Variant::IncorrectPassword => "Incorrect password",
            Variant::HardwareIdMismatch => "Incorrect hardware ID",
            Variant::SiteHasNoStore => "Site has no store",
            Variant::SiteAuthTimeout => "Site authentication timed out, please try again later",
            Variant::ApiVersionIncompatible => "Sync API version is not compatible",
            Variant::V6ApiVersionIncompatible => "Sync V6 API version is not compatible",
            Variant::CentralV6NotConfigured => "V6 central server not configured",
            Variant::IntegrationTimeoutReached => {
                "The central server took too long integrating pushed records. Please retry later."
            }
            Variant::IntegrationError => "The server experienced a problem.",
            Variant::SyncRecordRejected => "The central server refused records this site sent",
            Variant::RecordTooLarge => "A record from the central server is larger than this site accepts",
            Variant::PreparationIncomplete => "The central server did not finish preparing this site's data",
            Variant::Database => "This server's database could not be read or written",
            Variant::SiteUuidIsBeingChanged => "Site mismatch",
            Variant::InvalidUrl => "Invalid url",
            Variant::Timeout => "The server took too long to answer",
            Variant::Interrupted => "Sync was interrupted: this server stopped during the run",
            Variant::Unknown => "Unknown sync error",
        }
    }

    pub fn hint(self) -> &'static str {
        match self {
            Variant::ConnectionError => "Check the central server URL and this device's network connection.",
            Variant::CertificateError => {
                "If the central uses a private certificate authority, start this server with --ca-cert FILE \
                 (that authority's PEM file). Check that the URL's host name is the certificate's and that \
                 this device's clock is right."
            }
            Variant::SiteNameNotFound => {
                "Check the site name in the sync settings; it must match a site on the central server."
            }
            Variant::IncorrectPassword => "Check the site password in the sync settings.",
            Variant::HardwareIdMismatch => {
                "This site is bound to another device. Ask the central server's administrator to unlock the site."
            }
            Variant::SiteHasNoStore => "Ask the central server's administrator to give this site a store.",
            Variant::SiteAuthTimeout => "The central server is busy; sync will try again at the next interval.",
            Variant::ApiVersionIncompatible => "The mSupply Central Server must be upgraded; contact support.",
            Variant::V6ApiVersionIncompatible => "The Open mSupply Central Server must be upgraded; contact support.",
            Variant::CentralV6NotConfigured => {
                "Check the central server URL; the V5 central must name a reachable Open mSupply central server."
            }
            Variant::IntegrationTimeoutReached => "Your records were sent; nothing is lost. The next sync continues.",
            Variant::IntegrationError => {
                "Records could not be integrated (the full error says whether here or at the central server). Nothing is lost: they stay buffered and the next sync integrates them again; contact support if it persists."
            }
            Variant::SyncRecordRejected => {
                "Refused records are listed under the Sync page's quarantine with the central's reason; see the full error and contact support if this persists."
            }
            Variant::RecordTooLarge => {
                "Sync cannot go past this record until it is smaller. Tell the central server's administrator: the full error says where the record is and the size this site accepts."
            }
            Variant::PreparationIncomplete => {
                "Nothing is lost: the next sync asks the central server to prepare this site again. If this keeps happening, ask the central server's administrator to check its log for this site's preparation."
            }
            Variant::Database => {
                "Nothing is lost; the next sync resumes. Check that the data folder's disk is not full and is writable, and contact support if it persists."
            }
            Variant::SiteUuidIsBeingChanged => {
                "These settings belong to a different site than the one this server was initialised with."
            }
            Variant::InvalidUrl => "Enter a full URL such as http://central.example.org:8001.",
            Variant::Timeout => {
                "The connection stalled. Nothing is lost; the next sync resumes where this one stopped."
            }
            Variant::Interrupted => "Nothing is lost; the next sync resumes where this one stopped.",
            Variant::Unknown => "See the full error for details, and contact support if it persists.",
        }
    }
}

/// A failed run: its variant, the step that failed (decided in one place,
/// [`super::progress::RunRecord::fail`]) and the whole chain as text in the reference's format
/// (§5), the context then the list of causes:
/// `Error while pulling central records -> ["Sync api error, url: '…', route: '…'", "Connection problem: …"]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunError {
    pub variant: Variant,
    pub step: Option<StepKey>,
    pub full: String,
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.variant.code(), self.full)
    }
}

impl std::error::Error for RunError {}

impl RunError {
    pub fn new(variant: Variant, context: &str, detail: impl std::fmt::Display) -> Self {
        RunError { variant, step: None, full: format!("{context} -> {:?}", [detail.to_string()]) }
    }

    pub fn call(context: &str, error: &CallError) -> Self {
        RunError { variant: classify(&error.problem), step: None, full: format!("{context} -> {}", listed(error)) }
    }

    /// A single record over the site's cap (`error` is the client's `TooLarge`); `place` says
    /// where it is, as far as the site knows without reading it.
    pub fn record_too_large(context: &str, place: &str, error: &CallError) -> Self {
        let listed = listed(error);
        let causes = listed.strip_prefix('[').unwrap_or(&listed);
        RunError { variant: Variant::RecordTooLarge, step: None, full: format!("{context} -> [{place:?}, {causes}") }
    }

    pub fn db(context: &str, error: sqlx::Error) -> Self {
        RunError::new(Variant::Database, context, format!("Database error: {error}"))
    }

    pub fn at(mut self, step: StepKey) -> Self {
        self.step.get_or_insert(step);
        self
    }

    pub fn to_api(&self) -> outpost_api::SyncError {
        outpost_api::SyncError {
            variant: self.variant.code().to_owned(),
            message: self.variant.message().to_owned(),
            hint: Some(self.variant.hint().to_owned()),
            full_error: self.full.clone(),
            step: self.step,
        }
    }
}

/// `["a", "b", "c"]` for an error and its sources: the reference's full error text.
pub fn listed(e: &dyn std::error::Error) -> String {
    let mut causes = vec![e.to_string()];
    let mut source = e.source();
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    format!("{causes:?}")
}

/// `a -> b -> c` for an error and its sources, for log lines.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(" -> ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

/// The one mapping from what a central (or the link) said to a variant.
pub fn classify(problem: &Problem) -> Variant {
    match problem {
        Problem::Transport(Failure::Connect(_)) => Variant::ConnectionError,
        Problem::Transport(Failure::Certificate(_)) => Variant::CertificateError,
        Problem::Transport(Failure::Timeout(_)) => Variant::Timeout,
        // A server that is not a V6 central answers 405 to the whole /central scope.
        Problem::Transport(Failure::Status { status: 405, .. }) => Variant::CentralV6NotConfigured,
        // A proxy in front of the central could not reach it: a link problem, not an unknown one.
        Problem::Transport(Failure::Status { status: 502 | 504, .. }) => Variant::ConnectionError,
        Problem::Transport(_) => Variant::Unknown,
        Problem::V5 { error, .. } => from_legacy(error),
        Problem::V6(value) => from_v6(value),
    }
}

fn from_legacy(error: &ErrorBody) -> Variant {
    from_legacy_code(&error.code).unwrap_or(Variant::Unknown)
}

fn from_legacy_code(c: &str) -> Option<Variant> {
    Some(match c {
        code::SITE_NAME_NOT_FOUND => Variant::SiteNameNotFound,
        code::SITE_INCORRECT_PASSWORD => Variant::IncorrectPassword,
        code::SITE_INCORRECT_HARDWARE_ID => Variant::HardwareIdMismatch,
        code::SITE_HAS_NO_STORE => Variant::SiteHasNoStore,
        code::SITE_AUTH_TIMEOUT => Variant::SiteAuthTimeout,
        code::API_VERSION_INCOMPATIBLE => Variant::ApiVersionIncompatible,
        // The central's integration of this site's push failed (reported by `site_status`).
        code::INTEGRATION_ERROR => Variant::IntegrationError,
        code::SYNC_RECORD_REJECTED => Variant::SyncRecordRejected,
        _ => return None,
    })
}

fn from_v6(value: &ErrorValue) -> Variant {
    match value {
        ErrorValue::SyncVersionMismatch(..) => Variant::V6ApiVersionIncompatible,
        ErrorValue::NotACentralServer => Variant::CentralV6NotConfigured,
        ErrorValue::LegacyServerError(body) => from_legacy(body),
        ErrorValue::CannotConnectToLegacyServer(_) => Variant::ConnectionError,
        // The reference's V6 central wraps the V5 auth failure in text; find the legacy code
        // in it so a wrong password is still called a wrong password.
        ErrorValue::OtherServerError(text) | ErrorValue::OtherLegacyServerError(text) => [
            code::SITE_NAME_NOT_FOUND,
            code::SITE_INCORRECT_PASSWORD,
            code::SITE_INCORRECT_HARDWARE_ID,
            code::SITE_HAS_NO_STORE,
            code::SITE_AUTH_TIMEOUT,
            code::API_VERSION_INCOMPATIBLE,
            code::SYNC_RECORD_REJECTED,
            code::INTEGRATION_ERROR,
        ]
        .into_iter()
        .find(|c| text.contains(c))
        .and_then(from_legacy_code)
        .unwrap_or(Variant::Unknown),
        ErrorValue::IntegrationInProgress | ErrorValue::ParsingSyncRecordError(_) | ErrorValue::SyncFileNotFound(_) => {
            Variant::Unknown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn legacy(code: &str) -> ErrorBody {
        ErrorBody { code: code.into(), message: "m".into(), data: None }
    }

    #[test]
    fn every_variant_has_a_distinct_code_that_round_trips() {
        for v in Variant::ALL {
            assert_eq!(Variant::from_code(v.code()), v);
            assert!(!v.message().is_empty() && !v.hint().is_empty());
        }
    }

    /// The app says every variant in the reader's language: a new variant needs its
    /// `error-<CODE>` and `hint-<CODE>` lines in each catalogue (app/locales/*.ftl), and each
    /// step its `step-<key>` line.
    #[test]
    fn every_variant_and_step_has_words_in_every_app_language() {
        let catalogues =
            [include_str!("../../../../app/locales/en.ftl"), include_str!("../../../../app/locales/fr.ftl")];
        for catalogue in catalogues {
            let has = |key: String| catalogue.lines().any(|l| l.starts_with(&format!("{key} = ")));
            for v in Variant::ALL {
                assert!(has(format!("error-{}", v.code())), "app catalogue lacks error-{}", v.code());
                assert!(has(format!("hint-{}", v.code())), "app catalogue lacks hint-{}", v.code());
            }
            for step in StepKey::ALL {
                assert!(has(format!("step-{}", step.as_str())), "app catalogue lacks step-{}", step.as_str());
            }
        }
    }

    #[test]
    fn timeouts_are_not_unknown() {
        assert_eq!(classify(&Problem::Transport(Failure::Timeout("t".into()))), Variant::Timeout);
    }

    #[test]
    fn a_proxy_that_cannot_reach_the_central_is_a_connection_error() {
        for status in [502, 504] {
            let failure = Failure::Status { status, body: "error sending request".into() };
            assert_eq!(classify(&Problem::Transport(failure)), Variant::ConnectionError);
        }
        let other = Failure::Status { status: 500, body: "boom".into() };
        assert_eq!(classify(&Problem::Transport(other)), Variant::Unknown);
    }

    #[test]
    fn refusals_and_central_integration_failures_are_named() {
        let v5 = |c: &str| Problem::V5 { status: 403, error: legacy(c), retry_after: None };
        assert_eq!(classify(&v5(code::SYNC_RECORD_REJECTED)), Variant::SyncRecordRejected);
        assert_eq!(classify(&v5(code::INTEGRATION_ERROR)), Variant::IntegrationError);
        let v6 = Problem::V6(ErrorValue::OtherServerError("sync_record_rejected: asset a: no".into()));
        assert_eq!(classify(&v6), Variant::SyncRecordRejected);
    }

    #[test]
    fn a_record_over_the_cap_says_where_it_is_and_the_cap() {
        let e = CallError::new("http://c", "/sync/v5/central_records", Failure::TooLarge(1024));
        let run = RunError::record_too_large("Error while pulling central records", "after cursor 7", &e);
        assert_eq!(run.variant, Variant::RecordTooLarge);
        assert_eq!(
            run.full,
            r#"Error while pulling central records -> ["after cursor 7", "Sync api error, url: 'http://c', route: '/sync/v5/central_records'", "The server's reply is larger than 1024 bytes"]"#
        );
    }

    #[test]
    fn auth_errors_through_v6_keep_their_real_variant() {
        let wrapped = Problem::V6(ErrorValue::LegacyServerError(legacy(code::SITE_INCORRECT_PASSWORD)));
        assert_eq!(classify(&wrapped), Variant::IncorrectPassword);
        let text = Problem::V6(ErrorValue::OtherServerError("legacy said site_incorrect_hardware_id".into()));
        assert_eq!(classify(&text), Variant::HardwareIdMismatch);
        assert_eq!(classify(&Problem::V6(ErrorValue::SyncVersionMismatch(0, 5, 9))), Variant::V6ApiVersionIncompatible);
    }

    #[test]
    fn full_error_names_context_url_and_route() {
        let e = CallError::new("http://c", "/sync/v5/site", Failure::Connect("refused".into()));
        let run = RunError::call("Error while fetching site info", &e);
        assert_eq!(run.variant, Variant::ConnectionError);
        assert_eq!(
            run.full,
            r#"Error while fetching site info -> ["Sync api error, url: 'http://c', route: '/sync/v5/site'", "Connection problem: refused"]"#
        );
        let run = RunError::new(Variant::Unknown, "Error while pushing records", "integration not started");
        assert_eq!(run.full, r#"Error while pushing records -> ["integration not started"]"#);
    }
}
