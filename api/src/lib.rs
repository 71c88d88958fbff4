//! The JSON shapes of the site server's API (`/api/...`), shared by the server (which
//! produces them) and the browser app (which reads them), so the two can never drift apart.
//!
//! Field names are camelCase on the wire. Times are RFC 3339 strings in UTC; the browser
//! renders them in the user's own locale and time zone.

use serde::{Deserialize, Serialize};

/// `GET /api/health`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub status: String,
    pub role: String,
    pub version: String,
}

/// `GET /api/server-info`: the address people use to reach this server, and its QR code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    pub url: String,
    /// A self-contained SVG document of the QR code of `url`.
    pub qr_svg: String,
    /// Records waiting to be sent before the Sync link shows their count (`--sync-badge-threshold`).
    #[serde(default = "one")]
    pub sync_badge_threshold: u64,
}

fn one() -> u64 {
    1
}

/// Every error leaves the server as `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    pub error: ApiError,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    /// Stable machine-readable name, e.g. `NOT_CONFIGURED` or `VALIDATION`.
    pub variant: String,
    /// One sentence for a person.
    pub message: String,
    /// The request field the error is about, when there is one (for forms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What exactly is wrong, as a code the app words in the reader's language
    /// (`invalid-<code>` in its catalogue, filled with `params`); `message` says it in English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Values for the code's placeholders, e.g. `("max", "86400")`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<(String, String)>,
}

/// Where a site stands with its first synchronisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Initialisation {
    PreInitialisation,
    Initialising,
    Initialised,
}

/// The steps of a sync run, in run order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StepKey {
    PrepareInitial,
    PushV6,
    Push,
    PullCentral,
    PullRemote,
    PullV6,
    Integration,
}

impl StepKey {
    pub const ALL: [StepKey; 7] = [
        StepKey::PrepareInitial,
        StepKey::PushV6,
        StepKey::Push,
        StepKey::PullCentral,
        StepKey::PullRemote,
        StepKey::PullV6,
        StepKey::Integration,
    ];

    /// The label the stepper shows.
    pub fn label(self) -> &'static str {
        match self {
            StepKey::PrepareInitial => "Prepare",
            StepKey::PushV6 => "Push V6",
            StepKey::Push => "Push",
            StepKey::PullCentral => "Pull Central",
            StepKey::PullRemote => "Pull Remote",
            StepKey::PullV6 => "Pull V6",
            StepKey::Integration => "Integrate",
        }
    }

    /// The key as it appears in JSON and in `sync_log` column prefixes.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKey::PrepareInitial => "prepareInitial",
            StepKey::PushV6 => "pushV6",
            StepKey::Push => "push",
            StepKey::PullCentral => "pullCentral",
            StepKey::PullRemote => "pullRemote",
            StepKey::PullV6 => "pullV6",
            StepKey::Integration => "integration",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StepState {
    Pending,
    Active,
    Done,
    Error,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncStep {
    pub key: StepKey,
    pub label: String,
    pub state: StepState,
    pub started: Option<String>,
    pub finished: Option<String>,
    pub total: Option<u64>,
    pub done: Option<u64>,
}

/// Start, end and length of one run. `durationSeconds` keeps growing while the run is going.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunTimes {
    pub started: String,
    pub finished: Option<String>,
    pub duration_seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncError {
    /// One of the variants of the reference's error taxonomy, e.g. `CONNECTION_ERROR`.
    pub variant: String,
    /// What went wrong, in one line.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// The whole error chain, for support.
    pub full_error: String,
    /// The step that failed, if the run got as far as a step.
    pub step: Option<StepKey>,
}

/// `GET /api/sync/status`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    /// False until sync settings have been saved.
    pub configured: bool,
    pub is_syncing: bool,
    pub initialisation: Initialisation,
    /// Records that the next run will actually send, to either central.
    pub records_to_push: u64,
    pub last_sync: Option<RunTimes>,
    pub last_successful_sync: Option<RunTimes>,
    pub steps: Vec<SyncStep>,
    pub error: Option<SyncError>,
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RunTrigger {
    /// The sync interval came round.
    Scheduled,
    /// Someone asked for it: Sync now!, saving the settings, retrying quarantined records.
    Manual,
    /// The server started and synced at once.
    AtStart,
}

impl RunTrigger {
    pub const ALL: [RunTrigger; 3] = [RunTrigger::Scheduled, RunTrigger::Manual, RunTrigger::AtStart];

    /// The key as it appears in JSON and in the `sync_log.kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            RunTrigger::Scheduled => "scheduled",
            RunTrigger::Manual => "manual",
            RunTrigger::AtStart => "atStart",
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RunOutcome {
    Success,
    Failed,
    Running,
}

/// What one step of a past run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunStepCount {
    pub key: StepKey,
    pub done: Option<u64>,
    pub total: Option<u64>,
    pub skipped: bool,
}

/// One run of `GET /api/sync/history` (newest first; runs are kept for 90 days).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRun {
    pub id: i64,
    pub started: String,
    pub finished: Option<String>,
    /// Known once the run ended (successfully or not).
    pub duration_seconds: Option<f64>,
    /// None for runs logged before the kind was recorded.
    pub kind: Option<RunTrigger>,
    pub outcome: RunOutcome,
    /// The failing step is `error.step`.
    pub error: Option<SyncError>,
    /// Changed records sent to the centrals (each goes to one of them; both push steps go
    /// through the same rows, so this is the furthest of the two, not their sum).
    pub pushed: u64,
    /// Records received from the centrals (Pull Central + Pull Remote + Pull V6).
    pub pulled: u64,
    /// Every step the run logged, in run order.
    pub steps: Vec<RunStepCount>,
}

/// `POST /api/sync/run` → 202
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunQueued {
    /// True when a run was already going and this press queued the one follow-up run.
    pub queued: bool,
}

/// `GET /api/settings/sync` (the password is never returned).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncSettings {
    pub url: String,
    pub site_name: String,
    pub interval_seconds: u64,
    pub batch_size_push: u32,
    pub batch_size_pull: u32,
    pub is_disabled: bool,
    /// Whether a password has been saved (its value never leaves the server).
    pub has_password: bool,
}

/// `PUT /api/settings/sync`
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncSettingsInput {
    pub url: String,
    pub site_name: String,
    /// Plain text; the server keeps only its SHA-256, as the wire needs.
    pub password: String,
    pub interval_seconds: u64,
    #[serde(default)]
    pub batch_size_push: Option<u32>,
    #[serde(default)]
    pub batch_size_pull: Option<u32>,
    #[serde(default)]
    pub is_disabled: bool,
}

/// `GET /api/sync/quarantine`: records integration could not apply (`incoming`) and records a
/// central refused (`outgoing`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuarantinedRecord {
    #[serde(default)]
    pub direction: Direction,
    pub table: String,
    pub record_id: String,
    pub reason: String,
    /// When it was received (incoming) or refused (outgoing).
    pub received: String,
}

/// Which way a quarantined record was travelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Direction {
    /// Received from a central; integration could not apply it here.
    #[default]
    Incoming,
    /// Sent by this site; the central refused it. The push went on without it.
    Outgoing,
}

/// A location of one of the site's stores (Store data page).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    pub id: String,
    pub store_id: String,
    pub code: String,
    pub name: String,
    pub on_hold: bool,
}

/// An asset (a fridge, a freezer...) of one of the site's stores. Travels to the V6 central only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Asset {
    pub id: String,
    pub store_id: String,
    pub code: String,
    pub serial_number: String,
    pub notes: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockLine {
    pub id: String,
    pub store_id: String,
    pub item_name: String,
    pub batch: String,
    pub expiry_date: Option<String>,
    pub available_packs: f64,
    pub location_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invoice {
    pub id: String,
    pub store_id: String,
    pub invoice_number: i64,
    pub kind: String,
    pub status: String,
    pub other_party: String,
    pub line_count: i64,
}

/// Everything the Store data page shows, for the site's stores.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreData {
    pub store_ids: Vec<String>,
    pub locations: Vec<Location>,
    pub assets: Vec<Asset>,
    pub stock_lines: Vec<StockLine>,
    pub invoices: Vec<Invoice>,
}

/// `POST /api/store-data/locations` and `PUT /api/store-data/locations/{id}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocationInput {
    /// Only on create, and optional: the server makes one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub store_id: String,
    pub code: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub on_hold: bool,
}

/// `POST /api/store-data/assets` and `PUT /api/store-data/assets/{id}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetInput {
    /// Only on create, and optional: the server makes one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub store_id: String,
    pub code: String,
    #[serde(default)]
    pub serial_number: String,
    #[serde(default)]
    pub notes: String,
}

/// `POST /api/session`: sign in as the site's admin.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginInput {
    pub password: String,
}

/// `GET /api/session` (and the answer to a login): whether this browser holds an admin session.
/// The session itself travels only in an HttpOnly cookie, never in a body.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    pub admin: bool,
}

/// The header every state-changing request must carry (or send a JSON body), so a form on
/// another site cannot post to this one (CSRF).
pub const CSRF_HEADER: &str = "x-outpost-csrf";
