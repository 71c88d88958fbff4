//! The address of this server and its QR code, shown at the top right of every page so a
//! phone or a cold-chain sensor can be pointed at it.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::HOST;
use outpost_api::ServerInfo;
use qrcode::QrCode;
use qrcode::render::svg;

use super::SiteState;
use super::error::ApiError;

pub async fn get(State(state): State<SiteState>, headers: HeaderMap) -> Result<Json<ServerInfo>, ApiError> {
    let url = match &state.public_url {
        Some(url) => url.clone(),
        None => {
            let host = headers
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .ok_or_else(|| ApiError::BadRequest("the request has no Host header".into()))?;
            let scheme = if state.https { "https" } else { "http" };
            format!("{scheme}://{host}")
        }
    };
    let qr_svg = qr_svg(&url)?;
    Ok(Json(ServerInfo { url, qr_svg, sync_badge_threshold: state.sync_badge_threshold }))
}

/// An SVG QR code of `text`, scaled by its `viewBox` so the page can draw it at any size.
pub fn qr_svg(text: &str) -> Result<String, ApiError> {
    let code =
        QrCode::new(text.as_bytes()).map_err(|e| ApiError::BadRequest(format!("cannot encode a QR code: {e}")))?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .dark_color(svg::Color("#111111"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_code_is_an_svg_document() {
        let svg = qr_svg("http://10.0.0.5:8000").unwrap();
        assert!(svg.contains("<svg"), "{svg}");
        assert!(svg.contains("viewBox") || svg.contains("width"), "{svg}");
    }

    #[test]
    fn longer_urls_make_bigger_codes() {
        let short = qr_svg("http://a").unwrap();
        let long = qr_svg(&format!("http://{}", "b".repeat(200))).unwrap();
        assert!(long.len() > short.len());
    }
}
