//! Anonymous requests are metered per client address, in memory, before they
//! reach the database (no session lookup, no audit row): a token bucket of
//! `MAMA_ANONYMOUS_RATE_PER_MINUTE` per address. A request with an API token is
//! let through while its address has tokens left and costs one only when the
//! token was refused (401), so a valid client's own traffic never spends them.
use std::{collections::HashMap, net::IpAddr, sync::Mutex, time::Instant};

use actix_session::SessionExt;
use actix_web::{
    HttpResponse,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{StatusCode, header},
    middleware::Next,
    web,
};

use crate::client_ip::TrustedProxies;

/// Beyond this many addresses, full buckets are forgotten.
const MAX_TRACKED: usize = 100_000;

struct Bucket {
    tokens: f64,
    last: Instant,
}

pub struct AnonymousLimiter {
    per_minute: u32,
    proxies: TrustedProxies,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl AnonymousLimiter {
    pub fn new(per_minute: u32, proxies: TrustedProxies) -> Self {
        Self {
            per_minute: per_minute.max(1),
            proxies,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Refills, then takes one token when `take`; `Err(retry_after_s)` when empty.
    fn check(&self, ip: IpAddr, take: bool) -> Result<(), u64> {
        let now = Instant::now();
        let cap = f64::from(self.per_minute);
        let rate = cap / 60.0;
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_TRACKED {
            map.retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * rate < cap);
        }
        let b = map.entry(ip).or_insert(Bucket {
            tokens: cap,
            last: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * rate).min(cap);
        b.last = now;
        if b.tokens < 1.0 {
            return Err(((1.0 - b.tokens) / rate).ceil().max(1.0) as u64);
        }
        if take {
            b.tokens -= 1.0;
        }
        Ok(())
    }
}

fn too_many(req: ServiceRequest, retry_after: u64) -> ServiceResponse<BoxBody> {
    tracing::debug!(path = req.path(), "anonymous rate limit");
    let api = req.path().starts_with("/api/");
    let mut res = HttpResponse::build(StatusCode::TOO_MANY_REQUESTS);
    res.insert_header((header::RETRY_AFTER, retry_after.to_string()));
    let res = if api {
        res.json(serde_json::json!({"error": {
            "code": "RATE_LIMIT_EXCEEDED",
            "message": format!("too many requests from your address; try again in {retry_after} s"),
        }}))
    } else {
        res.content_type("text/plain; charset=utf-8").body(format!(
            "Too many requests from your address. Try again in {retry_after} seconds.\n"
        ))
    };
    req.into_response(res)
}

/// The middleware (inside the session middleware, outside the audit recorder).
pub async fn anonymous_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(limiter) = req.app_data::<web::Data<AnonymousLimiter>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if crate::audit::is_exempt(req.path()) || super::session::sid(&req.get_session()).is_some() {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let Some(ip) = limiter
        .proxies
        .client_ip(req.request())
        .and_then(|s| s.parse::<IpAddr>().ok())
    else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let has_token = req.headers().contains_key(header::AUTHORIZATION)
        || req.headers().contains_key("x-internal-auth");
    if let Err(wait) = limiter.check(ip, !has_token) {
        return Ok(too_many(req, wait));
    }
    let res = next.call(req).await?.map_into_boxed_body();
    if has_token && res.status() == StatusCode::UNAUTHORIZED {
        let _ = limiter.check(ip, true);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_burst_then_waits() {
        let l = AnonymousLimiter::new(3, TrustedProxies::default());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check(a, true).is_ok());
        }
        assert_eq!(l.check(a, true), Err(20), "one token per 20 s");
        assert!(l.check(b, true).is_ok(), "other addresses are not affected");
        assert!(l.check(b, false).is_ok());
    }
}
