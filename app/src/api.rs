//! Calls to the site server's JSON API. Every failure becomes a [`Failure`] carrying the
//! server's own message (and the form field it concerns), so pages can always say what went
//! wrong and what to do.

use gloo_net::http::{Request, RequestBuilder, Response};
use outpost_api::{ApiErrorBody, CSRF_HEADER};
use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub variant: String,
    pub message: String,
    pub field: Option<String>,
}

impl Failure {
    fn network(e: gloo_net::Error) -> Self {
        Failure {
            variant: "NETWORK".into(),
            message: format!(
                "Cannot reach the Outpost server ({e}). Check that it is running and that this device is on its network."
            ),
            field: None,
        }
    }
}

/// Every request says it comes from this app: the server refuses state-changing requests
/// without it (a form on another site cannot set the header), which keeps CSRF out.
fn from_app(request: RequestBuilder) -> RequestBuilder {
    request.header(CSRF_HEADER, "1")
}

pub async fn get<T: DeserializeOwned>(url: &str) -> Result<T, Failure> {
    let response = from_app(Request::get(url)).send().await.map_err(Failure::network)?;
    read(response).await
}

pub async fn post<B: Serialize, T: DeserializeOwned>(url: &str, body: &B) -> Result<T, Failure> {
    let request = from_app(Request::post(url)).json(body).map_err(Failure::network)?;
    read(request.send().await.map_err(Failure::network)?).await
}

pub async fn put<B: Serialize, T: DeserializeOwned>(url: &str, body: &B) -> Result<T, Failure> {
    let request = from_app(Request::put(url)).json(body).map_err(Failure::network)?;
    read(request.send().await.map_err(Failure::network)?).await
}

pub async fn delete(url: &str) -> Result<(), Failure> {
    let response = from_app(Request::delete(url)).send().await.map_err(Failure::network)?;
    read::<Ignored>(response).await.map(|_| ())
}

/// An answer whose body does not matter (it is still checked for an error).
pub type Ignored = serde::de::IgnoredAny;

/// The body of a POST that carries nothing: `{}`.
#[derive(Serialize)]
pub struct Empty {}

async fn read<T: DeserializeOwned>(response: Response) -> Result<T, Failure> {
    let status = response.status();
    let text = response.text().await.map_err(Failure::network)?;
    if response.ok() {
        let text = if text.trim().is_empty() { "null" } else { &text };
        return serde_json::from_str(text).map_err(|e| Failure {
            variant: "BAD_RESPONSE".into(),
            message: format!("The server sent an answer this page does not understand ({e}). Reload the page; if it persists, the app and server versions differ."),
            field: None,
        });
    }
    match serde_json::from_str::<ApiErrorBody>(&text) {
        Ok(body) => Err(Failure { variant: body.error.variant, message: body.error.message, field: body.error.field }),
        Err(_) => Err(Failure {
            variant: format!("HTTP_{status}"),
            message: format!("The server answered {status} {}.", response.status_text()),
            field: None,
        }),
    }
}
