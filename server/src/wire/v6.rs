//! V6 (Open mSupply central) messages, reference sections 3.2 and 3.4.
//!
//! Every call is a POST whose body carries the site's V5 credentials; every answer is HTTP 200
//! with `{"data": …}` or `{"error": …}`. Batch fields are snake_case, the rest camelCase.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The version a site sends as `syncV6Version`.
pub const SYNC_V6_VERSION: u32 = 5;
/// The range our V6 central accepts.
pub const SUPPORTED_VERSIONS: (u32, u32) = (0, 5);

/// Route names, joined to the central's URL as `/central/sync/<route>`.
pub mod route {
    pub const PULL: &str = "pull";
    pub const PUSH: &str = "push";
    pub const SITE_STATUS: &str = "site_status";
}

/// The V5 credentials every V6 call carries; the V6 central checks them with the V5 central.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncV5Settings {
    pub server_url: String,
    pub username: String,
    pub password_sha256: String,
    pub site_uuid: String,
    pub app_version: String,
    pub app_name: String,
    /// Upstream sends the V5 API version as a string (`"14"`); a number is accepted too.
    #[serde(with = "string_or_number")]
    pub sync_version: u32,
}

/// `syncVersion` as upstream's types have it: written as a string, read as a string or a number.
mod string_or_number {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &u32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either<'a> {
            Number(u32),
            Text(std::borrow::Cow<'a, str>),
        }
        match Either::deserialize(d)? {
            Either::Number(n) => Ok(n),
            Either::Text(t) => {
                t.trim().parse().map_err(|_| D::Error::custom(format!("syncVersion {t:?} is not a number")))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PullRequest {
    pub sync_v5_settings: SyncV5Settings,
    /// Missing means 0, as upstream's central reads it.
    #[serde(default)]
    pub sync_v6_version: u32,
    pub cursor: u64,
    pub batch_size: u32,
    pub is_initialised: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushRequest {
    pub sync_v5_settings: SyncV5Settings,
    /// Missing means 0, as upstream's central reads it.
    #[serde(default)]
    pub sync_v6_version: u32,
    pub batch: SyncBatch,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteStatusRequest {
    pub sync_v5_settings: SyncV5Settings,
    /// Missing means 0, as upstream's central reads it.
    #[serde(default)]
    pub sync_v6_version: u32,
}

/// A page of records, in both directions (snake_case fields, as the reference has them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncBatch {
    pub end_cursor: u64,
    pub total_records: u64,
    pub records: Vec<BatchRecord>,
    pub is_last_batch: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchRecord {
    pub cursor: u64,
    pub record: Record,
}

/// Upstream's `SyncAction`: `Insert`, `Update`, `Delete`, `Merge`. Lowercase forms and
/// `Upsert` (what Outpost sent before it spoke upstream's names) are read too; an upsert is
/// written as `Update`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    #[serde(alias = "insert")]
    Insert,
    #[serde(alias = "update", alias = "Upsert", alias = "upsert")]
    Update,
    #[serde(alias = "delete")]
    Delete,
    /// `recordData` is `{"mergeIdToKeep","mergeIdToDelete"}`.
    #[serde(alias = "merge")]
    Merge,
}

impl Action {
    /// Insert and Update both write the row whole.
    pub fn is_upsert(self) -> bool {
        matches!(self, Action::Insert | Action::Update)
    }
}

/// One row, serialised with its own snake_case column names (no legacy mapping).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub table_name: String,
    pub record_id: String,
    pub action: Action,
    #[serde(default)]
    pub record_data: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushResult {
    pub records_pushed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteStatusResult {
    pub is_integrating: bool,
    /// Outpost extension (an optional field, which the reference's versioning rules call
    /// additive): why the central's last integration of this site's push failed, until the
    /// next one starts. A reference site ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_error: Option<String>,
    /// Outpost extension, optional as above: the records of this site's last push the central
    /// refused at integration (`central_shared::push_refused`), answered while it is idle.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<super::v5::RefusedRecord>,
}

/// The body of every V6 answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Envelope<T> {
    Data(T),
    Error(ErrorValue),
}

/// Externally tagged, camelCase (`"integrationInProgress"`, `{"syncVersionMismatch":[0,5,9]}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorValue {
    NotACentralServer,
    IntegrationInProgress,
    SyncVersionMismatch(u32, u32, u32),
    OtherServerError(String),
    LegacyServerError(super::v5::ErrorBody),
    CannotConnectToLegacyServer(String),
    OtherLegacyServerError(String),
    ParsingSyncRecordError(String),
    SyncFileNotFound(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn envelope_and_errors_are_externally_tagged_camel_case() {
        let ok: Envelope<SiteStatusResult> =
            Envelope::Data(SiteStatusResult { is_integrating: true, integration_error: None, refused: Vec::new() });
        assert_eq!(serde_json::to_value(&ok).unwrap(), json!({"data":{"is_integrating":true}}));
        let e: Envelope<SiteStatusResult> = Envelope::Error(ErrorValue::IntegrationInProgress);
        assert_eq!(serde_json::to_value(&e).unwrap(), json!({"error":"integrationInProgress"}));
        let e: Envelope<SiteStatusResult> = Envelope::Error(ErrorValue::SyncVersionMismatch(0, 5, 9));
        assert_eq!(serde_json::to_value(&e).unwrap(), json!({"error":{"syncVersionMismatch":[0,5,9]}}));
    }

    #[test]
    fn pull_request_fields_are_camel_case_and_batch_fields_snake_case() {
        let settings = SyncV5Settings {
            server_url: "http://v5".into(),
            username: "s".into(),
            password_sha256: "h".into(),
            site_uuid: "hw".into(),
            app_version: "1".into(),
            app_name: "a".into(),
            sync_version: 14,
        };
        let v = serde_json::to_value(PullRequest {
            sync_v5_settings: settings,
            sync_v6_version: 5,
            cursor: 0,
            batch_size: 500,
            is_initialised: true,
        })
        .unwrap();
        assert_eq!(v["syncV5Settings"]["passwordSha256"], "h");
        assert_eq!(v["batchSize"], 500);
        assert_eq!(v["isInitialised"], true);
        assert_eq!(v["syncV5Settings"]["syncVersion"], "14", "upstream sends the version as a string");
        let batch = SyncBatch { end_cursor: 3, total_records: 1, records: vec![], is_last_batch: true };
        assert_eq!(
            serde_json::to_value(batch).unwrap(),
            json!({"end_cursor":3,"total_records":1,"records":[],"is_last_batch":true})
        );
    }

    #[test]
    fn sync_version_is_read_as_a_string_or_a_number_and_a_missing_v6_version_is_0() {
        let settings =
            json!({"serverUrl":"u","username":"s","passwordSha256":"h","siteUuid":"hw","appVersion":"1","appName":"a"});
        for version in [json!("14"), json!(14)] {
            let mut s = settings.clone();
            s["syncVersion"] = version;
            let r: SiteStatusRequest = serde_json::from_value(json!({"syncV5Settings": s})).unwrap();
            assert_eq!((r.sync_v5_settings.sync_version, r.sync_v6_version), (14, 0));
        }
        let mut s = settings;
        s["syncVersion"] = json!("fourteen");
        assert!(serde_json::from_value::<SiteStatusRequest>(json!({"syncV5Settings": s})).is_err());
    }

    #[test]
    fn actions_are_upstreams_names_and_older_forms_are_read() {
        for (text, action) in [
            ("Insert", Action::Insert),
            ("Update", Action::Update),
            ("Delete", Action::Delete),
            ("Merge", Action::Merge),
            ("Upsert", Action::Update),
            ("upsert", Action::Update),
            ("insert", Action::Insert),
            ("update", Action::Update),
            ("delete", Action::Delete),
            ("merge", Action::Merge),
        ] {
            assert_eq!(serde_json::from_value::<Action>(json!(text)).unwrap(), action, "{text}");
        }
        assert_eq!(serde_json::to_value(Action::Update).unwrap(), json!("Update"));
    }
}
