//! A token bucket per API client, in memory (per instance: with N instances
//! behind a load balancer a client gets up to N times its limit).
use std::{collections::HashMap, sync::Mutex, time::Instant};

use actix_web::{
    HttpMessage,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue, RETRY_AFTER},
    middleware::Next,
};

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The buckets of every client seen by this instance.
#[derive(Default)]
pub struct RateLimiter(Mutex<HashMap<i32, Bucket>>);

/// The state of a client's bucket after one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Requests per minute (also the burst size).
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
    /// Set when the request was refused: seconds until one request is allowed.
    pub retry_after: Option<u64>,
}

impl RateLimiter {
    /// Takes one token from `client`'s bucket (capacity and refill `per_minute`).
    pub fn take(&self, client: i32, per_minute: u32) -> Quota {
        self.take_at(client, per_minute, Instant::now())
    }

    fn take_at(&self, client: i32, per_minute: u32, now: Instant) -> Quota {
        let per_minute = per_minute.max(1);
        let cap = f64::from(per_minute);
        let rate = cap / 60.0; // tokens per second
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let b = map.entry(client).or_insert(Bucket {
            tokens: cap,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(cap);
        b.last = now;
        let retry_after = if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            None
        } else {
            Some(((1.0 - b.tokens) / rate).ceil().max(1.0) as u64)
        };
        Quota {
            limit: per_minute,
            remaining: b.tokens.floor() as u32,
            reset_secs: ((cap - b.tokens) / rate).ceil() as u64,
            retry_after,
        }
    }
}

fn set(headers: &mut actix_web::http::header::HeaderMap, name: &'static str, v: u64) {
    headers.insert(HeaderName::from_static(name), HeaderValue::from(v));
}

/// Adds `X-RateLimit-*` (and `Retry-After` on 429) to every response of an
/// authenticated call, errors included. The bearer guard leaves the [`Quota`]
/// in the request's extensions.
pub async fn headers_middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let quota = res.request().extensions().get::<Quota>().copied();
    if let Some(q) = quota {
        let h = res.headers_mut();
        set(h, "x-ratelimit-limit", u64::from(q.limit));
        set(h, "x-ratelimit-remaining", u64::from(q.remaining));
        set(h, "x-ratelimit-reset", q.reset_secs);
        if let Some(s) = q.retry_after {
            h.insert(RETRY_AFTER, HeaderValue::from(s));
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_empties_then_refills_at_its_rate() {
        let rl = RateLimiter::default();
        let t0 = Instant::now();
        for i in 0..3 {
            let q = rl.take_at(1, 3, t0);
            assert_eq!(q.retry_after, None, "request {i}");
            assert_eq!(q.remaining, 2 - i);
        }
        let q = rl.take_at(1, 3, t0);
        assert_eq!(q.retry_after, Some(20), "3/min: one token every 20 s");
        assert_eq!(q.reset_secs, 60);
        // Another client has its own bucket.
        assert_eq!(rl.take_at(2, 3, t0).retry_after, None);
        let q = rl.take_at(1, 3, t0 + Duration::from_secs(21));
        assert_eq!(q.retry_after, None);
        assert_eq!(q.remaining, 0);
    }
}
