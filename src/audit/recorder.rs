//! The request-scoped recorder and the middleware that makes every request
//! produce exactly one audit event.
//!
//! A handler says what the request was (`ctx.action(..)`, targets, details). A
//! handler that writes stores its event inside its own transaction with
//! [`AuditCtx::commit`]; for every other request the middleware stores the event
//! after the handler ran. If that fails, the caller gets 503 instead of the page:
//! nothing is served unrecorded.
use std::{
    cell::RefCell,
    future::{Ready, ready},
    rc::Rc,
    time::Instant,
};

use actix_web::{
    FromRequest, HttpMessage, HttpRequest,
    body::{BoxBody, MessageBody},
    dev::{Payload, ServiceRequest, ServiceResponse},
    http::{StatusCode, header},
    middleware::Next,
    web,
};
use chrono::Utc;
use serde_json::{Map, Value};

use super::{Action, Actor, Event, Outcome, insert};
use crate::{
    error::{AppError, ErrorBody, REQUEST_ID_HEADER},
    state::AppData,
};

/// The last fingerprint stored per (actor, path) and how many identical polls
/// followed it (one per instance; see [`AuditCtx::quiet`]).
#[derive(Debug, Default)]
pub struct QuietPolls(std::sync::Mutex<std::collections::HashMap<(String, String), (String, u64)>>);

impl QuietPolls {
    /// Most (actor, path) pairs remembered; beyond it the map starts afresh (the
    /// only cost: one more stored event per open tab).
    const MAX: usize = 10_000;

    /// `None` when the poll shows nothing new (it is counted); otherwise the number of
    /// unchanged polls it follows (the caller stores it with the event).
    fn observe(&self, who: String, path: String, fingerprint: &str) -> Option<u64> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((fp, n)) = map.get_mut(&(who.clone(), path.clone())) {
            if fp == fingerprint {
                *n += 1;
                return None;
            }
            let skipped = *n;
            *fp = fingerprint.to_string();
            *n = 0;
            return Some(skipped);
        }
        if map.len() >= Self::MAX {
            map.clear();
        }
        map.insert((who, path), (fingerprint.to_string(), 0));
        Some(0)
    }
}

/// Paths that carry no user information and are not audited: static assets and the
/// liveness/readiness probes a load balancer polls (they still get an X-Request-Id).
pub fn is_exempt(path: &str) -> bool {
    path.starts_with("/static/")
        || matches!(path, "/healthz" | "/readyz" | "/metrics" | "/favicon.ico")
}

struct Pending {
    actor: Actor,
    action: Option<Action>,
    outcome: Option<Outcome>,
    targets: Vec<String>,
    details: Map<String, Value>,
    recorded: bool,
    /// Set by a poll: a fingerprint of what it showed (see [`AuditCtx::quiet`]).
    quiet: Option<String>,
}

struct Inner {
    request_id: String,
    started: Instant,
    occurred_at: chrono::DateTime<Utc>,
    client_ip: Option<String>,
    user_agent: Option<String>,
    method: String,
    path: String,
    pending: RefCell<Pending>,
}

/// What is known so far about the current request's audit event.
#[derive(Clone)]
pub struct AuditCtx(Rc<Inner>);

impl AuditCtx {
    fn new(req: &HttpRequest, proxies: Option<&crate::client_ip::TrustedProxies>) -> Self {
        let client_ip = match proxies {
            Some(p) => p.client_ip(req),
            None => req.peer_addr().map(|a| a.ip().to_string()),
        };
        let user_agent = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let path = match req.query_string() {
            "" => req.path().to_string(),
            q => format!("{}?{}", req.path(), redact_query(q)),
        };
        AuditCtx(Rc::new(Inner {
            request_id: crate::crypto::random_id(),
            started: Instant::now(),
            occurred_at: Utc::now(),
            client_ip,
            user_agent,
            method: req.method().to_string(),
            path,
            pending: RefCell::new(Pending {
                actor: Actor::Anonymous,
                action: None,
                outcome: None,
                targets: vec![],
                details: Map::new(),
                recorded: false,
                quiet: None,
            }),
        }))
    }

    /// The recorder of `req` (created by the middleware).
    pub fn of(req: &HttpRequest) -> AuditCtx {
        if let Some(ctx) = req.extensions().get::<AuditCtx>() {
            return ctx.clone();
        }
        let data = req.app_data::<web::Data<AppData>>();
        let ctx = AuditCtx::new(req, data.map(|d| &d.settings.security.trusted_proxies));
        req.extensions_mut().insert(ctx.clone());
        ctx
    }

    pub fn request_id(&self) -> &str {
        &self.0.request_id
    }
    pub fn client_ip(&self) -> Option<&str> {
        self.0.client_ip.as_deref()
    }
    pub fn user_agent(&self) -> Option<&str> {
        self.0.user_agent.as_deref()
    }
    pub fn actor(&self) -> Actor {
        self.0.pending.borrow().actor.clone()
    }
    pub fn set_actor(&self, actor: Actor) {
        self.0.pending.borrow_mut().actor = actor;
    }
    /// Names what this request is. The last call wins.
    pub fn action(&self, action: Action) {
        self.0.pending.borrow_mut().action = Some(action);
    }
    /// Names what this request is unless the handler already did.
    pub fn default_action(&self, action: Action) {
        self.0.pending.borrow_mut().action.get_or_insert(action);
    }
    /// Overrides the outcome the status would imply (e.g. a re-rendered form).
    pub fn outcome(&self, outcome: Outcome) {
        self.0.pending.borrow_mut().outcome = Some(outcome);
    }
    /// The external user IDs this request read or wrote.
    pub fn targets(&self, targets: Vec<String>) {
        self.0.pending.borrow_mut().targets = targets;
    }
    /// Adds one entry to the details object. Never pass a secret.
    pub fn detail(&self, key: &str, value: impl Into<Value>) {
        self.0
            .pending
            .borrow_mut()
            .details
            .insert(key.to_string(), value.into());
    }

    /// Marks this request as a background poll showing `fingerprint` (a hash of what it
    /// rendered). A successful poll that shows the same as the last stored one of the
    /// same session and path is counted, not stored; the next change is stored with
    /// `unchanged_polls`, the number of polls folded into it. A poll reads only
    /// counters and states — never a key — so folding it keeps the promise.
    pub fn quiet(&self, fingerprint: String) {
        self.0.pending.borrow_mut().quiet = Some(fingerprint);
    }

    /// Action, outcome and actor kind as they stand, for a response with `status`.
    fn summary(&self, status: StatusCode) -> (Action, Outcome, &'static str) {
        let p = self.0.pending.borrow();
        (
            p.action.unwrap_or(if status == StatusCode::NOT_FOUND {
                Action::NotFound
            } else {
                Action::Request
            }),
            p.outcome
                .unwrap_or_else(|| Outcome::from_status(status.as_u16())),
            p.actor.kind(),
        )
    }

    /// The event as it stands, for a response with `status`.
    pub fn event(&self, status: StatusCode) -> Event {
        let p = self.0.pending.borrow();
        let action = p.action.unwrap_or(if status == StatusCode::NOT_FOUND {
            Action::NotFound
        } else {
            Action::Request
        });
        Event {
            occurred_at: self.0.occurred_at,
            request_id: self.0.request_id.clone(),
            actor: p.actor.clone(),
            action,
            outcome: p
                .outcome
                .unwrap_or_else(|| Outcome::from_status(status.as_u16())),
            http_status: Some(status.as_u16()),
            duration_us: self.0.started.elapsed().as_micros() as i64,
            client_ip: self.0.client_ip.clone(),
            user_agent: self.0.user_agent.clone(),
            method: Some(self.0.method.clone()),
            path: Some(self.0.path.clone()),
            targets: p.targets.clone(),
            details: Value::Object(p.details.clone()),
        }
    }

    /// Stores this request's event in `txn` and commits: the write and its event
    /// land together or not at all. `status` is what the handler is about to answer.
    pub async fn commit(
        &self,
        txn: crate::db::WriteTxn,
        status: StatusCode,
    ) -> Result<(), AppError> {
        let ev = self.event(status);
        insert(&txn, &ev)
            .await
            .map_err(|e| AppError::Unavailable(anyhow::anyhow!("audit insert failed: {e}")))?;
        txn.commit()
            .await
            .map_err(|e| AppError::Unavailable(anyhow::anyhow!("commit failed: {e}")))?;
        self.0.pending.borrow_mut().recorded = true;
        Ok(())
    }

    fn recorded(&self) -> bool {
        self.0.pending.borrow().recorded
    }
}

/// Whether a query parameter named `name` may carry a secret: anything named like
/// `*token*` or `*key*`, and `password`, `secret`, `code`.
fn is_secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("token")
        || name.contains("key")
        || matches!(name.as_str(), "password" | "secret" | "code")
}

/// The query string as the audit trail stores it: the value of every parameter
/// whose (percent-decoded) name may carry a secret becomes `[redacted]`.
pub fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded: String = serde_html_form::from_str::<Vec<(String, String)>>(pair)
                .ok()
                .and_then(|v| v.into_iter().next())
                .map(|(n, _)| n)
                .unwrap_or_else(|| name.to_string());
            if is_secret_param(&decoded) && !value.is_empty() {
                format!("{name}=[redacted]")
            } else {
                pair.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

impl FromRequest for AuditCtx {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(AuditCtx::of(req)))
    }
}

/// The middleware: request ID, one audit event, one log line. It only records:
/// `error::render_errors`, outside it, renders error bodies.
pub async fn audit_middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let path = req.path().to_string();
    let data = req.app_data::<web::Data<AppData>>().cloned();
    let ctx = AuditCtx::new(
        req.request(),
        data.as_ref().map(|d| &d.settings.security.trusted_proxies),
    );
    req.extensions_mut().insert(ctx.clone());
    let htmx = req.headers().contains_key("hx-request");
    let return_to = crate::error::return_path(&req, htmx);
    let quiet = req.app_data::<web::Data<QuietPolls>>().cloned();

    // Only the router is inside this middleware, and it turns every handler and
    // extractor error into a response, so an `Err` here is a bug worth logging.
    let res = match next.call(req).await {
        Ok(res) => res.map_into_boxed_body(),
        Err(e) => {
            tracing::error!(request_id = ctx.request_id(), error = %e, "unexpected service error");
            return Err(e);
        }
    };
    let status = res.status();
    let (http_req, mut response) = res.into_parts();
    // Every route is named after its action, so a request refused before its
    // handler ran (login required, CSRF, forbidden) still records the right action.
    if let Some(action) = http_req.match_name().and_then(Action::parse) {
        ctx.default_action(action);
    }

    let mut status = status;
    let outcome = response.extensions().get::<ErrorBody>().map(|b| b.outcome);
    if let Some(outcome) = outcome {
        ctx.outcome(outcome);
        // Rewritten here, before the event is stored, so it records the status sent.
        if status.is_redirection() {
            status = crate::error::redirect_to_login(&mut response, htmx, &return_to);
        }
    }

    let folded = status == StatusCode::OK && !ctx.recorded() && fold_poll(&quiet, &ctx, &path);
    let mut response = if ctx.recorded() || is_exempt(&path) || folded {
        response
    } else {
        let writer = http_req.app_data::<web::Data<super::AuditWriter>>();
        match store(writer, &ctx, status).await {
            Ok(()) => response,
            Err(e) => {
                if let Some(d) = &data {
                    d.metrics.record_audit_failure();
                }
                tracing::error!(request_id = ctx.request_id(), error = %e, "audit event could not be stored; answering 503");
                let err = AppError::Unavailable(anyhow::anyhow!("audit store unavailable"));
                ErrorBody::response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &err,
                    "The service is temporarily unavailable (the audit trail cannot be written). Nothing was changed.",
                )
            }
        }
    };
    response.headers_mut().insert(
        header::HeaderName::from_static(REQUEST_ID_HEADER),
        header::HeaderValue::from_str(ctx.request_id()).expect("hex is a valid header value"),
    );
    if let Some(d) = &data {
        d.metrics.record_status(response.status().as_u16());
        d.metrics
            .observe_request(http_req.match_name(), &path, ctx.0.started.elapsed());
    }
    if tracing::enabled!(tracing::Level::INFO) {
        // The summary only: no copy of the targets and details on every request.
        let (action, outcome, actor) = ctx.summary(response.status());
        tracing::info!(
            request_id = ctx.request_id(),
            method = ctx.0.method.as_str(),
            path = %path,
            status = response.status().as_u16(),
            action = action.as_str(),
            outcome = outcome.as_str(),
            actor,
            duration_ms = ctx.0.started.elapsed().as_micros() as f64 / 1000.0,
            "request"
        );
    }
    Ok(ServiceResponse::new(http_req, response))
}

/// True when this request is a poll that showed nothing new (not stored).
fn fold_poll(quiet: &Option<web::Data<QuietPolls>>, ctx: &AuditCtx, path: &str) -> bool {
    let (Some(polls), Some(fp)) = (quiet, ctx.0.pending.borrow().quiet.clone()) else {
        return false;
    };
    let who = format!("{:?}", ctx.actor());
    match polls.observe(who, path.to_string(), &fp) {
        None => true,
        Some(skipped) => {
            if skipped > 0 {
                ctx.detail("unchanged_polls", skipped);
            }
            false
        }
    }
}

/// Hands the event to the group-commit writer and waits until its batch committed.
async fn store(
    writer: Option<&web::Data<super::AuditWriter>>,
    ctx: &AuditCtx,
    status: StatusCode,
) -> Result<(), anyhow::Error> {
    let writer = writer.ok_or_else(|| anyhow::anyhow!("no audit writer"))?;
    writer.store(ctx.event(status)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::redact_query;

    #[test]
    fn secret_looking_parameters_are_redacted_and_the_rest_is_kept_as_sent() {
        assert_eq!(
            redact_query(
                "q=a%20b&csrf_token=abc&API_KEY=x&keyword=k&code=1&secret=s&password=p&page=2"
            ),
            "q=a%20b&csrf_token=[redacted]&API_KEY=[redacted]&keyword=[redacted]&code=[redacted]&secret=[redacted]&password=[redacted]&page=2"
        );
        // A percent-encoded name is decoded before it is judged.
        assert_eq!(redact_query("csrf%5Ftoken=abc"), "csrf%5Ftoken=[redacted]");
        assert_eq!(redact_query("codes=1&sort=x"), "codes=1&sort=x");
        assert_eq!(redact_query("token"), "token");
        assert_eq!(redact_query("token="), "token=");
    }
}
