//! At most `MAMA_API_MAX_IN_FLIGHT` REST API requests are worked on at once per
//! instance; the others wait their turn, first come first served, before any of
//! their work starts (no audit event, no token check, no database read).
//!
//! Memory follows the requests in flight, not the connections: each one holds
//! its token check's query, its audit event, its IDs and answers while it waits
//! for its group commit. A waiting request holds only what actix gave its
//! connection. Throughput does not need more in flight than the group commit
//! can batch on the machine's cores (measured in the README, "Runs of 3 Dec
//! 2026 (sixteenth session)"). Pages, health and metrics are not held back.
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::{
    Error,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
    web,
};
use tokio::sync::Semaphore;

/// The gate, shared by the workers as app data.
#[derive(Debug)]
pub struct InFlight {
    /// `None`: no limit (`MAMA_API_MAX_IN_FLIGHT=0`).
    permits: Option<Semaphore>,
    limit: usize,
    working: AtomicU64,
    waiting: AtomicU64,
    /// The most requests worked on at once since start.
    peak: AtomicU64,
}

impl InFlight {
    pub fn new(limit: usize) -> Self {
        InFlight {
            permits: (limit > 0).then(|| Semaphore::new(limit)),
            limit,
            working: AtomicU64::new(0),
            waiting: AtomicU64::new(0),
            peak: AtomicU64::new(0),
        }
    }

    /// (limit, working now, waiting now, most working at once) for `/metrics`.
    pub fn figures(&self) -> (usize, u64, u64, u64) {
        (
            self.limit,
            self.working.load(Ordering::Relaxed),
            self.waiting.load(Ordering::Relaxed),
            self.peak.load(Ordering::Relaxed),
        )
    }
}

/// Counts a request as worked on while it lives.
struct Working<'a>(&'a InFlight);

impl<'a> Working<'a> {
    fn start(gate: &'a InFlight) -> Self {
        let now = gate.working.fetch_add(1, Ordering::Relaxed) + 1;
        gate.peak.fetch_max(now, Ordering::Relaxed);
        Working(gate)
    }
}

impl Drop for Working<'_> {
    fn drop(&mut self) {
        self.0.working.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts a request as waiting while it lives (a client that hangs up while
/// waiting drops it too).
struct Waiting<'a>(&'a InFlight);

impl<'a> Waiting<'a> {
    fn start(gate: &'a InFlight) -> Self {
        gate.waiting.fetch_add(1, Ordering::Relaxed);
        Waiting(gate)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The middleware, outermost but for the security headers: an `/api/` request
/// waits for a permit, and holds it until its response is ready (the body is
/// written after, from what the response already holds).
pub async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let gate = req.app_data::<web::Data<InFlight>>().cloned();
    let Some(gate) = gate.filter(|_| req.path().starts_with("/api/")) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let _permit = match &gate.permits {
        Some(permits) => {
            let waiting = Waiting::start(&gate);
            // The semaphore is never closed.
            let permit = permits.acquire().await.ok();
            drop(waiting);
            permit
        }
        None => None,
    };
    let _working = Working::start(&gate);
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::Duration};

    use actix_web::{App, HttpResponse, middleware::from_fn, test};
    use tokio::sync::Notify;

    use super::*;

    /// With a limit of one, a second API request does not start while the first
    /// is worked on, and starts once it is done; a page is not held back.
    #[actix_web::test]
    async fn a_request_beyond_the_limit_waits_for_a_permit_and_pages_do_not() {
        let gate = web::Data::new(InFlight::new(1));
        let release = Arc::new(Notify::new());
        let started = Arc::new(AtomicU64::new(0));
        let app = {
            let (release, started) = (release.clone(), started.clone());
            test::init_service(
                App::new()
                    .app_data(gate.clone())
                    .wrap(from_fn(limit))
                    .route(
                        "/api/slow",
                        web::get().to(move || {
                            let (release, started) = (release.clone(), started.clone());
                            async move {
                                if started.fetch_add(1, Ordering::SeqCst) == 0 {
                                    release.notified().await;
                                }
                                HttpResponse::Ok().finish()
                            }
                        }),
                    )
                    .route("/page", web::get().to(HttpResponse::Ok)),
            )
            .await
        };
        let first =
            test::call_service(&app, test::TestRequest::get().uri("/api/slow").to_request());
        let second =
            test::call_service(&app, test::TestRequest::get().uri("/api/slow").to_request());
        let checks = async {
            // Both are polled; only the first got in.
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert_eq!(started.load(Ordering::SeqCst), 1, "the second waited");
            assert_eq!(gate.figures(), (1, 1, 1, 1));
            let page =
                test::call_service(&app, test::TestRequest::get().uri("/page").to_request()).await;
            assert!(page.status().is_success(), "a page is not held back");
            release.notify_one();
        };
        let (a, b, ()) = tokio::join!(first, second, checks);
        assert!(a.status().is_success() && b.status().is_success());
        assert_eq!(started.load(Ordering::SeqCst), 2, "the second ran after");
        assert_eq!(gate.figures(), (1, 0, 0, 1), "never two at once");
    }

    #[actix_web::test]
    async fn no_limit_lets_every_request_in_and_still_counts_them() {
        let gate = web::Data::new(InFlight::new(0));
        let app = test::init_service(
            App::new()
                .app_data(gate.clone())
                .wrap(from_fn(limit))
                .route("/api/x", web::get().to(HttpResponse::Ok)),
        )
        .await;
        let r = test::call_service(&app, test::TestRequest::get().uri("/api/x").to_request()).await;
        assert!(r.status().is_success());
        assert_eq!(gate.figures(), (0, 0, 0, 1));
    }
}
