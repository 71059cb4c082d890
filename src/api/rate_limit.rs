//! The per-client API rate limit, in one of two places
//! (`MAMA_API_RATE_LIMIT_SCOPE`):
//!
//! - `database` (the default): a fixed one-minute window counted in the
//!   `api_rate_windows` table, shared by every instance. An instance reserves
//!   the window's calls in blocks: one UPSERT adds a block and returns the
//!   count (`INSERT … ON CONFLICT DO UPDATE … RETURNING`, atomic on SQLite and
//!   PostgreSQL), and the block's calls are numbered in memory. A block is 1 %
//!   of the limit (at least 1, at most [`MAX_BLOCK`]), so a client with a limit
//!   under 200 a minute still costs one write per call, and a busy one with a
//!   high limit one per hundred: under load that write per call was a commit
//!   (and an fsync) per lookup, outside the audit's group commit. A call
//!   numbered above the limit is refused, so N instances never allow more than
//!   N calls per calendar minute in total, whichever answers; a block an
//!   instance has not used up when the minute ends is lost, so they may allow
//!   up to one block per other instance fewer. Over any sliding 60 s at most 2N
//!   (the end of one window and the start of the next) — the same worst case as
//!   the in-memory bucket, whose full burst plus a minute of refill is also 2N.
//! - `instance`: a token bucket per client in this process's memory (with N
//!   instances behind a load balancer a client gets up to N times its limit).
use std::{collections::HashMap, sync::Mutex, time::Instant};

use sea_orm::DbErr;

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

/// The calls of a shared window this instance reserved and has not numbered yet.
struct Block {
    window: i64,
    /// The next call's number in the window, and the last one reserved.
    next: i64,
    last: i64,
}

/// The most calls reserved by one write of a shared window.
pub const MAX_BLOCK: i64 = 1_000;

/// The buckets (`instance`) and reserved blocks (`database`) of every client seen
/// by this instance.
#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<i32, Bucket>>,
    blocks: Mutex<HashMap<i32, Block>>,
    /// Held while a block is reserved, so the calls that found none wait for
    /// it instead of each reserving one (and losing the rest).
    reserving: tokio::sync::Mutex<()>,
}

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
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
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

/// The length of a shared window.
const WINDOW_SECS: i64 = 60;

impl RateLimiter {
    /// Counts one call of `client` in the shared window of `now` and answers
    /// its quota: from this instance's block when one is left, otherwise after
    /// reserving the next block (see the module's documentation).
    pub async fn take_shared(
        &self,
        db: &sea_orm::DatabaseConnection,
        client: i32,
        per_minute: u32,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Quota, DbErr> {
        let per_minute = per_minute.max(1);
        let ts = now.timestamp();
        let window = ts - ts.rem_euclid(WINDOW_SECS);
        let reset_secs = (window + WINDOW_SECS - ts) as u64;
        let quota = |hits| window_quota(per_minute, hits, reset_secs);
        if let Some(hits) = self.number(client, window) {
            return Ok(quota(hits));
        }
        let _reserving = self.reserving.lock().await;
        if let Some(hits) = self.number(client, window) {
            return Ok(quota(hits));
        }
        let size = block_size(per_minute);
        let last = reserve(db, client, window, size).await?;
        let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        blocks.insert(
            client,
            Block {
                window,
                next: last - size + 2,
                last,
            },
        );
        Ok(quota(last - size + 1))
    }

    /// The next number of `client`'s block in `window`, if one is left.
    fn number(&self, client: i32, window: i64) -> Option<i64> {
        let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        let b = blocks.get_mut(&client)?;
        (b.window == window && b.next <= b.last).then(|| {
            b.next += 1;
            b.next - 1
        })
    }
}

/// Calls reserved per write for a limit of `per_minute`: 1 %, 1 to [`MAX_BLOCK`].
pub fn block_size(per_minute: u32) -> i64 {
    (i64::from(per_minute) / 100).clamp(1, MAX_BLOCK)
}

/// Adds `size` calls to `client`'s shared `window` and returns the number of
/// the last (one statement in a write transaction, which on SQLite queues at the
/// instance's write gate; plus, when the window is new, a delete of the
/// client's older windows, so the table holds about one row per active client).
async fn reserve(
    db: &sea_orm::DatabaseConnection,
    client: i32,
    window: i64,
    size: i64,
) -> Result<i64, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    // Raw SQL: SeaORM's insert cannot return the updated column of an upsert.
    let row = crate::db::query_row(
        &txn,
        "INSERT INTO api_rate_windows (client_id, window_start, hits) VALUES (?, ?, ?) \
         ON CONFLICT (client_id, window_start) \
         DO UPDATE SET hits = api_rate_windows.hits + excluded.hits \
         RETURNING hits",
        vec![client.into(), window.into(), (size as i32).into()],
    )
    .await?
    .ok_or_else(|| DbErr::Custom("the rate-limit upsert returned no row".into()))?;
    let hits: i64 = row
        .try_get_by_index::<i32>(0)
        .map(i64::from)
        .or_else(|_| row.try_get_by_index::<i64>(0))?;
    if hits == size {
        crate::db::exec(
            &txn,
            "DELETE FROM api_rate_windows WHERE client_id = ? AND window_start < ?",
            vec![client.into(), window.into()],
        )
        .await?;
    }
    txn.commit().await?;
    Ok(hits)
}

/// The quota after the `hits`-th call of a window that ends in `reset_secs`.
fn window_quota(per_minute: u32, hits: i64, reset_secs: u64) -> Quota {
    let limit = i64::from(per_minute);
    let reset_secs = reset_secs.max(1);
    Quota {
        limit: per_minute,
        remaining: (limit - hits).max(0) as u32,
        reset_secs,
        retry_after: (hits > limit).then_some(reset_secs),
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
    fn a_shared_window_allows_exactly_its_limit_then_says_when_it_resets() {
        let q = window_quota(3, 1, 42);
        assert_eq!((q.remaining, q.retry_after), (2, None));
        let q = window_quota(3, 3, 42);
        assert_eq!((q.remaining, q.retry_after), (0, None));
        let q = window_quota(3, 4, 42);
        assert_eq!(
            (q.remaining, q.retry_after, q.reset_secs),
            (0, Some(42), 42)
        );
        assert_eq!(
            window_quota(3, 9, 0).retry_after,
            Some(1),
            "never Retry-After: 0"
        );
    }

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
