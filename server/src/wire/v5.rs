//! V5 (legacy mSupply central) messages, reference section 3.1.
//!
//! Record payloads (`recordData`) are not translated here: they carry legacy 4D table and
//! field names, and translating them is the job of `records`, not of the wire layer. Pushed
//! ones are `serde_json::Value` (the central looks inside them); pulled ones are [`RawJson`],
//! the text as received, because the site only stores them for integration.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use super::raw::RawJson;

/// The sync API version a site sends in the `version` header.
pub const API_VERSION: u32 = 14;
/// The range of `version` header values our V5 central accepts.
pub const SUPPORTED_VERSIONS: (u32, u32) = (12, 14);

/// Outpost addition: the V6 central names the address of the site it vouches for, so the V5
/// central's failure limit counts that site's address, not the V6 central's.
pub const HEADER_FORWARDED_FOR: &str = "x-outpost-forwarded-for";
pub const HEADER_HARDWARE_ID: &str = "msupply-site-uuid";
pub const HEADER_APP_VERSION: &str = "app-version";
pub const HEADER_APP_NAME: &str = "app-name";
pub const HEADER_VERSION: &str = "version";
pub const APP_NAME: &str = "Open mSupply Desktop";

/// Route names, joined to the base URL as `/sync/v5/<route>`.
pub mod route {
    pub const SITE: &str = "site";
    pub const SITE_STATUS: &str = "site_status";
    pub const INITIALISE: &str = "initialise";
    pub const CENTRAL_RECORDS: &str = "central_records";
    pub const QUEUED_RECORDS: &str = "queued_records";
    pub const ACKNOWLEDGED_RECORDS: &str = "acknowledged_records";
}

/// Error codes of the `{"error":{"code",...}}` envelope.
pub mod code {
    pub const SITE_NAME_NOT_FOUND: &str = "site_name_not_found";
    pub const SITE_INCORRECT_PASSWORD: &str = "site_incorrect_password";
    pub const SITE_INCORRECT_HARDWARE_ID: &str = "site_incorrect_hardware_id";
    pub const SITE_HAS_NO_STORE: &str = "site_has_no_store";
    pub const SITE_AUTH_TIMEOUT: &str = "site_auth_timeout";
    pub const API_VERSION_INCOMPATIBLE: &str = "api_version_incompatible";
    pub const SYNC_IS_RUNNING: &str = "sync_is_running";
    pub const SYNC_RECORD_REJECTED: &str = "sync_record_rejected";
    pub const INTEGRATION_ERROR: &str = "integration_error";
    /// Outpost additions for failures the reference leaves unnamed.
    pub const BAD_REQUEST: &str = "bad_request";
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    /// An Outpost addition: the site's pushed records waiting for integration passed the
    /// central's per-site cap (HTTP 507).
    pub const PUSH_BUFFER_FULL: &str = "push_buffer_full";
    pub const INTERNAL_ERROR: &str = "internal_error";
}

/// `GET /sync/v5/site`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteInfo {
    /// The site's UUID.
    pub id: String,
    pub site_id: i64,
    pub code: String,
    pub name: String,
    pub initialisation_status: InitialisationStatus,
    pub is_om_supply_central_server: bool,
    pub om_supply_central_server_url: String,
    pub m_supply_central_site_id: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitialisationStatus {
    New,
    Started,
    Completed,
    Error,
}

/// `GET /sync/v5/site_status`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteStatus {
    pub code: SiteStatusCode,
    pub message: String,
    pub data: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteStatusCode {
    Idle,
    SyncIsRunning,
    IntegrationInProgress,
    InitialisationInProgress,
}

/// One record a central refused at integration, as `site_status` answers it (V5 in
/// `data.refused`, V6 in `refused`; see `central_shared::push_refused`): the central's table name (V5 or V6 wire
/// name), the record id, the store it was buffered for, and the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefusedRecord {
    pub table_name: String,
    pub record_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_id: Option<String>,
    pub reason: String,
}

/// `POST /sync/v5/initialise` → this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitialiseResponse {
    pub queue_length: u64,
}

/// Actions of records the central sends (`insert|update|delete|merge`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    #[serde(alias = "Insert")]
    Insert,
    #[serde(alias = "Update")]
    Update,
    #[serde(alias = "Delete")]
    Delete,
    #[serde(alias = "Merge")]
    Merge,
}

/// `GET /sync/v5/central_records?cursor=C&limit=N` → this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CentralRecords {
    pub max_cursor: u64,
    pub data: Vec<CentralRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CentralRecord {
    #[serde(rename = "ID")]
    pub id: u64,
    pub table_name: String,
    pub record_id: String,
    pub action: Action,
    /// Absent on delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_data: Option<RawJson>,
}

/// `GET /sync/v5/queued_records?limit=N` → this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuedRecords {
    /// Remaining in the queue, including this batch.
    pub queue_length: u64,
    pub data: Vec<QueuedRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuedRecord {
    pub sync_out_id: String,
    pub table_name: String,
    pub record_id: String,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_data: Option<RawJson>,
}

/// `POST /sync/v5/acknowledged_records`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acknowledge {
    #[serde(rename = "syncIDs")]
    pub sync_ids: Vec<String>,
}

/// Actions of records a site pushes (`Update|Delete`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PushAction {
    Update,
    Delete,
}

/// `POST /sync/v5/queued_records` (push).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushRequest {
    /// Records remaining to push, including this batch; 0 with no data means "integrate now".
    pub queue_length: u64,
    pub data: Vec<PushRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushRecord {
    /// The site's changelog cursor, as a string.
    pub sync_out_id: String,
    pub table_name: String,
    pub record_id: String,
    pub action: PushAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_data: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushResponse {
    pub integration_started: bool,
}

/// Every non-2xx reply: `{"error":{"code","message","data"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub data: Option<Value>,
}

/// The lower-case hex SHA-256 of a password, as the wire carries it.
pub fn password_sha256(password: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(password.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn site_info_uses_the_reference_field_names() {
        let v = serde_json::to_value(SiteInfo {
            id: "u".into(),
            site_id: 2,
            code: "c".into(),
            name: "n".into(),
            initialisation_status: InitialisationStatus::New,
            is_om_supply_central_server: false,
            om_supply_central_server_url: "http://x".into(),
            m_supply_central_site_id: 1,
        })
        .unwrap();
        assert_eq!(
            v,
            json!({"id":"u","siteId":2,"code":"c","name":"n","initialisationStatus":"new",
                   "isOmSupplyCentralServer":false,"omSupplyCentralServerUrl":"http://x","mSupplyCentralSiteId":1})
        );
    }

    #[test]
    fn central_record_on_delete_has_no_record_data() {
        let r: CentralRecord =
            serde_json::from_value(json!({"ID":3,"tableName":"item","recordId":"a","action":"delete"})).unwrap();
        assert_eq!(r.action, Action::Delete);
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"ID":3,"tableName":"item","recordId":"a","action":"delete"})
        );
    }

    #[test]
    fn push_and_acknowledge_bodies_match_the_reference() {
        let push = PushRequest {
            queue_length: 1,
            data: vec![PushRecord {
                sync_out_id: "7".into(),
                table_name: "Location".into(),
                record_id: "L1".into(),
                action: PushAction::Update,
                record_data: Some(json!({"ID":"L1"})),
            }],
        };
        assert_eq!(
            serde_json::to_value(&push).unwrap(),
            json!({"queueLength":1,"data":[{"syncOutId":"7","tableName":"Location","recordId":"L1","action":"Update","recordData":{"ID":"L1"}}]})
        );
        let ack = Acknowledge { sync_ids: vec!["1".into()] };
        assert_eq!(serde_json::to_value(&ack).unwrap(), json!({"syncIDs":["1"]}));
    }

    #[test]
    fn password_hash_is_lower_case_hex_sha256() {
        assert_eq!(password_sha256("pass"), "d74ff0ee8da3b9806b18c877dbf29bbde50b5bd8e4dad7a3a725000feb82e8f1");
    }
}
