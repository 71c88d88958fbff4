//! zstd request bodies, decoded with a bounded window.
//!
//! A zstd frame names the window its decoder must keep, and every byte decoded stays in that
//! window until the frame ends. libzstd's default ceiling is 128 MiB (`WindowLogMax` 27), and
//! tower-http's request decompression exposes no parameter to lower it: a few KB of zstd per
//! connection, held back before its last bytes, pinned about 8 MB each, outside the budget for
//! unauthenticated bodies (`tests/memory`). Here the ceiling is [`WINDOW_LOG_MAX`] (8 MiB):
//! a frame that asks for more is refused at its header, before anything is allocated for it.
//! Our own site compresses at `wire::ZSTD_LEVEL` (6), whose window is at most 2 MiB; every
//! zstd level up to 19 stays within 8 MiB unless long-distance matching is asked for.
//!
//! gzip (a 32 KiB window) stays with tower-http, which also answers 415 to a coding neither
//! knows; this layer sits outside it and hands it the decoded body with no `Content-Encoding`.

use std::io;

use async_compression::tokio::bufread::ZstdDecoder;
use async_compression::zstd::DParameter;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONTENT_ENCODING, CONTENT_LENGTH};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::{StreamExt, TryStreamExt};
use tokio_util::io::{ReaderStream, StreamReader};

/// The largest zstd window a request may use, as a power of two: 2^23 = 8 MiB.
pub const WINDOW_LOG_MAX: u32 = 23;

/// What a request body that cannot be decoded fails with, and its hint.
pub const UNDECODABLE: &str = "cannot decode the zstd request body (frames may use a window of at most 8 MiB); hint: compress at zstd level 19 or below without long-distance matching, or send gzip";

/// Middleware: a request in `Content-Encoding: zstd` goes on with its body decoded as it is
/// read (a window over [`WINDOW_LOG_MAX`], or a corrupt frame, fails the body's read with
/// [`UNDECODABLE`]); any other request goes on unchanged.
pub async fn decode(request: Request, next: Next) -> Response {
    let is_zstd = request.headers().get(CONTENT_ENCODING).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"zstd"));
    if !is_zstd {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    parts.headers.remove(CONTENT_ENCODING);
    parts.headers.remove(CONTENT_LENGTH);
    next.run(Request::from_parts(parts, decoded(body))).await
}

/// `body`, read as a zstd stream (one frame or several) with the bounded window.
pub fn decoded(body: Body) -> Body {
    let reader = StreamReader::new(body.into_data_stream().map_err(io::Error::other));
    let mut decoder = ZstdDecoder::with_params(reader, &[DParameter::window_log_max(WINDOW_LOG_MAX)]);
    decoder.multiple_members(true);
    Body::from_stream(
        ReaderStream::new(decoder).map(|chunk| chunk.map_err(|e| io::Error::other(format!("{UNDECODABLE}: {e}")))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(body: Body) -> Result<Vec<u8>, String> {
        axum::body::to_bytes(body, usize::MAX).await.map(|b| b.to_vec()).map_err(|e| format!("{e:#}"))
    }

    /// Text that compresses like records do but not to nothing: numbered lines.
    fn records(bytes: usize) -> Vec<u8> {
        let mut text = Vec::with_capacity(bytes);
        let mut i = 0u64;
        while text.len() < bytes {
            text.extend_from_slice(
                format!("{{\"id\":\"{:x}\",\"n\":{i}}},", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).as_bytes(),
            );
            i += 1;
        }
        text
    }

    #[tokio::test]
    async fn what_our_site_sends_decodes_whole() {
        let text = records(12 * 1024 * 1024);
        let packed = zstd::bulk::compress(&text, crate::wire::ZSTD_LEVEL).unwrap();
        assert_eq!(read(decoded(Body::from(packed))).await.unwrap(), text);
    }

    #[tokio::test]
    async fn a_frame_asking_for_a_window_over_8_mib_is_refused_with_the_hint() {
        let text = records(1024 * 1024);
        let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
        encoder.window_log(27).unwrap();
        std::io::Write::write_all(&mut encoder, &text).unwrap();
        let error = read(decoded(Body::from(encoder.finish().unwrap()))).await.unwrap_err();
        assert!(error.contains("window of at most 8 MiB"), "{error}");
        let mut fits = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
        fits.window_log(WINDOW_LOG_MAX).unwrap();
        std::io::Write::write_all(&mut fits, &text).unwrap();
        assert_eq!(read(decoded(Body::from(fits.finish().unwrap()))).await.unwrap(), text, "8 MiB is allowed");
    }
}
