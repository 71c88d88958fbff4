//! Clients that talk to a central the way a site does (V5: Basic auth and the app headers; V6:
//! the V5 credentials in every body), and the records such a site sends.

use std::time::Duration;

use base64::Engine;
use outpost::wire::v5;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;

/// A site talking V5: Basic `name:sha256(password)`, hardware id, app headers, API version.
#[derive(Clone)]
pub struct V5Site {
    pub base: String,
    pub name: String,
    pub password: String,
    pub hardware_id: String,
    pub version: String,
    pub http: reqwest::Client,
}

impl V5Site {
    pub fn new(base: &str, name: &str, password: &str) -> Self {
        V5Site {
            base: base.into(),
            name: name.into(),
            password: password.into(),
            hardware_id: format!("hw-{name}"),
            version: v5::API_VERSION.to_string(),
            http: crate::http_client(),
        }
    }

    pub fn request(&self, method: Method, route: &str) -> RequestBuilder {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            self.name,
            v5::password_sha256(&self.password)
        ));
        self.http
            .request(method, format!("{}/sync/v5/{route}", self.base))
            .header("authorization", format!("Basic {auth}"))
            .header(v5::HEADER_HARDWARE_ID, &self.hardware_id)
            .header(v5::HEADER_APP_NAME, v5::APP_NAME)
            .header(v5::HEADER_APP_VERSION, "0.1.0")
            .header(v5::HEADER_VERSION, &self.version)
    }

    pub async fn get(&self, route: &str) -> Response {
        self.request(Method::GET, route).send().await.unwrap()
    }

    pub async fn post(&self, route: &str, body: &Value) -> Response {
        self.request(Method::POST, route).json(body).send().await.unwrap()
    }

    pub async fn ok_json<T: serde::de::DeserializeOwned>(response: Response) -> T {
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "expected success, got {status}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    /// Ask for the site's preparation and wait for it (the central answers at once, maybe
    /// before it finished); the queue length it left.
    pub async fn initialise(&self) -> u64 {
        let r: v5::InitialiseResponse = Self::ok_json(self.post("initialise", &serde_json::json!({})).await).await;
        if r.queue_length > 0 {
            return r.queue_length;
        }
        self.wait_idle().await;
        let page: v5::QueuedRecords = Self::ok_json(self.get("queued_records?limit=1").await).await;
        page.queue_length
    }

    pub async fn push(&self, records: Vec<Value>) -> v5::PushResponse {
        let body = serde_json::json!({"queueLength": records.len(), "data": records});
        Self::ok_json(self.post("queued_records", &body).await).await
    }

    /// Push the final empty batch and wait until the central has integrated.
    pub async fn push_end_and_wait(&self) {
        let r = self.push(vec![]).await;
        assert!(r.integration_started);
        self.wait_idle().await;
    }

    pub async fn status(&self) -> v5::SiteStatusCode {
        let s: v5::SiteStatus = Self::ok_json(self.get("site_status").await).await;
        s.code
    }

    pub async fn wait_idle(&self) {
        for _ in 0..300 {
            if self.status().await == v5::SiteStatusCode::Idle {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("site {} never became idle", self.name);
    }

    /// Drain the queue in pages of `limit`, acknowledging each page; returns every record.
    pub async fn drain(&self, limit: u64) -> Vec<v5::QueuedRecord> {
        let mut all = Vec::new();
        loop {
            let page: v5::QueuedRecords = Self::ok_json(self.get(&format!("queued_records?limit={limit}")).await).await;
            if page.data.is_empty() {
                assert_eq!(page.queue_length, 0);
                return all;
            }
            assert!(page.queue_length >= page.data.len() as u64);
            let ids: Vec<String> = page.data.iter().map(|r| r.sync_out_id.clone()).collect();
            let ack = self.post("acknowledged_records", &serde_json::json!({"syncIDs": ids})).await;
            assert_eq!(ack.status(), 204);
            all.extend(page.data);
        }
    }

    /// Page through central_records from `cursor` with `limit`; returns every record.
    pub async fn central_records(&self, mut cursor: u64, limit: u64) -> Vec<v5::CentralRecord> {
        let mut all = Vec::new();
        loop {
            let page: v5::CentralRecords =
                Self::ok_json(self.get(&format!("central_records?cursor={cursor}&limit={limit}")).await).await;
            assert!(page.data.len() as u64 <= limit);
            match page.data.last() {
                Some(last) => {
                    assert!(page.data.windows(2).all(|w| w[0].id < w[1].id), "ids increase within a page");
                    cursor = last.id;
                    all.extend(page.data);
                }
                None => {
                    assert_eq!(cursor, page.max_cursor, "an empty page comes only at the end");
                    return all;
                }
            }
        }
    }
}

/// A V5 push record.
pub fn push_record(table: &str, id: &str, data: Value) -> Value {
    serde_json::json!({"syncOutId": "1", "tableName": table, "recordId": id, "action": "Update", "recordData": data})
}

/// A Location record of `store`.
pub fn location(id: &str, store: &str) -> Value {
    serde_json::json!({"ID": id, "code": id, "Description": "Shelf", "store_ID": store, "hold": false})
}

/// Read an error envelope: (status, code, data).
pub async fn v5_error(response: Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["error"]["code"].as_str().unwrap_or_default().to_owned(), body["error"]["data"].clone())
}

/// A site talking V6: every body carries its V5 credentials.
#[derive(Clone)]
pub struct V6Site {
    pub base: String,
    pub v5: V5Site,
    pub v6_version: u32,
}

impl V6Site {
    pub fn new(v6_base: &str, v5: V5Site) -> Self {
        V6Site { base: v6_base.into(), v5, v6_version: outpost::wire::v6::SYNC_V6_VERSION }
    }

    pub fn settings(&self) -> Value {
        serde_json::json!({
            "serverUrl": self.v5.base, "username": self.v5.name,
            "passwordSha256": v5::password_sha256(&self.v5.password), "siteUuid": self.v5.hardware_id,
            "appVersion": "0.1.0", "appName": v5::APP_NAME, "syncVersion": 14,
        })
    }

    /// POST a route with `extra` merged into the common fields; returns the HTTP status and body.
    pub async fn call(&self, route: &str, extra: Value) -> (u16, Value) {
        let mut body = serde_json::json!({"syncV5Settings": self.settings(), "syncV6Version": self.v6_version});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let r =
            crate::http_client().post(format!("{}/central/sync/{route}", self.base)).json(&body).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn data(&self, route: &str, extra: Value) -> Value {
        let (status, body) = self.call(route, extra).await;
        assert_eq!(status, 200);
        assert!(body.get("data").is_some(), "expected data, got {body}");
        body["data"].clone()
    }

    /// Every record a full pull from cursor 0 returns, following end_cursor.
    pub async fn pull_all(&self, is_initialised: bool, batch: u32) -> Vec<Value> {
        let mut cursor = 0;
        let mut all = Vec::new();
        loop {
            let page = self
                .data(
                    "pull",
                    serde_json::json!({"cursor": cursor, "batchSize": batch, "isInitialised": is_initialised}),
                )
                .await;
            all.extend(page["records"].as_array().unwrap().iter().map(|r| r["record"].clone()));
            cursor = page["end_cursor"].as_u64().unwrap() + 1;
            if page["is_last_batch"].as_bool().unwrap() {
                return all;
            }
        }
    }

    pub async fn is_integrating(&self) -> bool {
        self.data("site_status", serde_json::json!({})).await["is_integrating"].as_bool().unwrap()
    }

    pub async fn wait_integrated(&self) {
        for _ in 0..300 {
            if !self.is_integrating().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("integration never finished");
    }

    pub async fn push(&self, records: Vec<Value>, is_last_batch: bool) -> Value {
        let batch = serde_json::json!({"end_cursor": records.len(), "total_records": records.len(),
            "records": records.iter().enumerate().map(|(i, r)| serde_json::json!({"cursor": i + 1, "record": r})).collect::<Vec<_>>(),
            "is_last_batch": is_last_batch});
        self.call("push", serde_json::json!({"batch": batch})).await.1
    }
}

/// A V6 record (upsert) as a site pushes it.
pub fn v6_record(table: &str, id: &str, data: Value) -> Value {
    serde_json::json!({"tableName": table, "recordId": id, "action": "Upsert", "recordData": data})
}

/// An asset row of `store`, shaped like the shared fixture.
pub fn asset(id: &str, store: &str) -> Value {
    serde_json::json!({"id": id, "notes": format!("asset {id}"), "asset_number": id, "store_id": store,
        "created_datetime": "2020-01-22T15:16:00", "modified_datetime": "2020-01-22T15:16:00"})
}
