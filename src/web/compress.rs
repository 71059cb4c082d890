//! Response compression only where it pays.
//!
//! actix-web's `Compress` encodes every body as a stream: the answer goes out
//! chunked, in several writes, and a keep-alive client that asked for gzip (every
//! browser, Python `requests`, Go) waited for its delayed ACK on each call. Here a
//! body whose size is known and at least `MAMA_COMPRESS_MIN_BYTES` is gzip'd in one
//! piece (fast level) and sent with a `Content-Length`; smaller bodies, streams
//! (exports) and already-encoded assets go out as they are.
use std::io::Write;

use actix_web::{
    Error,
    body::{BodySize, BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::header::{self, HeaderValue},
    middleware::Next,
    web,
};

/// The threshold, shared as app data.
#[derive(Debug, Clone, Copy)]
pub struct Compression {
    pub min_bytes: usize,
}

/// Whether an `Accept-Encoding` value accepts gzip (`gzip`, `x-gzip` or `*`,
/// with a non-zero q).
pub fn accepts_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or("").to_ascii_lowercase();
        let q = parts
            .find_map(|p| {
                p.strip_prefix("q=")
                    .map(|v| v.trim().parse::<f32>().unwrap_or(0.0))
            })
            .unwrap_or(1.0);
        matches!(coding.as_str(), "gzip" | "x-gzip" | "*") && q > 0.0
    })
}

fn compressible(content_type: Option<&HeaderValue>) -> bool {
    let Some(ct) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    ct.starts_with("text/")
        || ct.starts_with("application/json")
        || ct.starts_with("application/javascript")
        || ct.starts_with("image/svg")
}

fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 2 + 64),
        flate2::Compression::fast(),
    );
    enc.write_all(bytes)?;
    enc.finish()
}

/// The middleware.
pub async fn compress(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let min = req
        .app_data::<web::Data<Compression>>()
        .map_or(usize::MAX, |c| c.min_bytes);
    let wants_gzip = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(accepts_gzip);
    let res = next.call(req).await?.map_into_boxed_body();
    let is_candidate = compressible(res.headers().get(header::CONTENT_TYPE))
        && !res.headers().contains_key(header::CONTENT_ENCODING);
    if !is_candidate {
        return Ok(res);
    }
    let (req, mut response) = res.into_parts();
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("accept-encoding"));
    let big_enough = matches!(response.body().size(), BodySize::Sized(n) if n as usize >= min);
    if !wants_gzip || !big_enough {
        return Ok(ServiceResponse::new(req, response));
    }
    let (response, body) = response.into_parts();
    // A sized body written in pieces (the key lookup's) is read whole here,
    // after the audit middleware stored its event.
    let bytes = match actix_web::body::to_bytes(body).await {
        Ok(bytes) => bytes,
        Err(e) => return Err(actix_web::error::ErrorInternalServerError(e)),
    };
    match gzip(&bytes) {
        Ok(zipped) => {
            let mut response = response.set_body(BoxBody::new(zipped));
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            Ok(ServiceResponse::new(req, response))
        }
        Err(e) => {
            tracing::warn!(error = %e, "gzip failed; sending the body uncompressed");
            Ok(ServiceResponse::new(
                req,
                response.set_body(BoxBody::new(bytes)),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_accepted_as_clients_send_it_and_refused_with_q_zero() {
        assert!(accepts_gzip("gzip, deflate"));
        assert!(accepts_gzip("gzip, deflate, br, zstd"));
        assert!(accepts_gzip("deflate, GZIP;q=0.5"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip("deflate"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip(""));
    }
}
