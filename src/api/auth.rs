//! The bearer-token guard: [`api_token`], wrapped around every route of the
//! `ApiToken` group by the route table, resolves `Authorization: Bearer TOKEN`
//! (or the organisation's `X-Internal-Auth: TOKEN`) to an active API client (by
//! the token's SHA-256; the token itself is never stored or logged), names it as
//! the audit actor, and takes one request from its rate-limit bucket. Handlers
//! take the resolved [`ApiCaller`] and check the scope they need.
use std::future::{Ready, ready};

use actix_web::{
    FromRequest, HttpMessage, HttpRequest,
    body::{BoxBody, MessageBody},
    dev::{Payload, ServiceRequest, ServiceResponse},
    http::header,
    middleware::Next,
    web,
};
use chrono::Utc;

use super::RateLimiter;
use crate::{
    api_clients::{Scope, queries},
    audit::{Actor, AuditCtx},
    crypto::sha256_hex,
    error::AppError,
    state::AppData,
};

/// `last_used_at` is written at most this often per client.
const TOUCH_EVERY_SECS: i64 = 60;

/// The API client behind this request.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub id: i32,
    pub name: String,
    pub scopes: Vec<Scope>,
}

impl ApiCaller {
    /// Refuses (403) unless the client holds `scope`; records the scope used.
    pub fn require(&self, scope: Scope, audit: &AuditCtx) -> Result<(), AppError> {
        audit.detail("scope", scope.as_str());
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            audit.detail("missing_scope", scope.as_str());
            Err(AppError::Forbidden)
        }
    }
}

/// The organisation's own header for service-to-service calls: the same token
/// as `Authorization: Bearer`, sent bare.
pub const INTERNAL_AUTH: &str = "x-internal-auth";

/// The token of an `Authorization: Bearer …` or an `X-Internal-Auth: …` header.
/// When both are sent they must carry the same token (a caller that sends two
/// different credentials is refused rather than guessed at).
fn token(req: &HttpRequest) -> Result<String, AppError> {
    let internal = match req.headers().get(INTERNAL_AUTH) {
        None => None,
        Some(v) => {
            let t = v
                .to_str()
                .map_err(|_| {
                    AppError::Unauthorized("the X-Internal-Auth header is not valid".into())
                })?
                .trim();
            if t.is_empty() {
                return Err(AppError::Unauthorized(
                    "the X-Internal-Auth header is empty".into(),
                ));
            }
            Some(t.to_string())
        }
    };
    match (internal, req.headers().contains_key(header::AUTHORIZATION)) {
        (Some(t), false) => Ok(t),
        (None, _) => bearer(req).map(str::to_string),
        (Some(t), true) => {
            if bearer(req)? == t {
                Ok(t)
            } else {
                Err(AppError::Unauthorized(
                    "Authorization and X-Internal-Auth carry different tokens; send one".into(),
                ))
            }
        }
    }
}

/// The token of an `Authorization: Bearer …` header.
fn bearer(req: &HttpRequest) -> Result<&str, AppError> {
    let missing = || {
        AppError::Unauthorized(
            "missing API token: send the header `Authorization: Bearer <token>` or `X-Internal-Auth: <token>`".into(),
        )
    };
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(missing)?;
    let value = value
        .to_str()
        .map_err(|_| AppError::Unauthorized("the Authorization header is not valid".into()))?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(|| {
        AppError::Unauthorized("the Authorization header must be `Bearer <token>`".into())
    })?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AppError::Unauthorized(
            "the Authorization header must use the Bearer scheme".into(),
        ));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(missing());
    }
    Ok(token)
}

/// The `ApiToken` guard, wrapped by [`crate::route_table!`] around every route of
/// the group: it resolves the caller once, before the handler's extractors run,
/// and answers 401 (or 429) itself. Handlers take [`ApiCaller`], which reads
/// what this guard resolved.
pub async fn api_token(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    match resolve(req.request()).await {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            Ok(next.call(req).await?.map_into_boxed_body())
        }
        Err(e) => Ok(req.error_response(e)),
    }
}

/// The active API client behind `req`'s token, named as the audit actor, with one
/// request taken from its rate-limit bucket.
async fn resolve(req: &HttpRequest) -> Result<ApiCaller, AppError> {
    let data = req
        .app_data::<web::Data<AppData>>()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("app data missing")))?;
    let hash = sha256_hex(&token(req)?);
    let Some((client, generation)) =
        queries::find_by_token_hash_with_generation(&data.db, &hash).await?
    else {
        return Err(AppError::Unauthorized("invalid API token".into()));
    };
    req.extensions_mut()
        .insert(super::lookup_cache::ReadGeneration(generation));
    let audit = AuditCtx::of(req);
    audit.set_actor(Actor::ApiClient {
        id: client.id,
        name: client.name.clone(),
    });
    if client.revoked_at.is_some() {
        audit.detail("revoked", true);
        return Err(AppError::Unauthorized(
            "this API token has been revoked".into(),
        ));
    }
    let per_minute = client
        .rate_limit_per_minute
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n > 0)
        .unwrap_or(data.settings.api_rate_limit_per_minute);
    let quota = match req.app_data::<web::Data<RateLimiter>>() {
        Some(limiter) if data.settings.api_rate_limit_shared => Some(
            limiter
                .take_shared(&data.db, client.id, per_minute, Utc::now())
                .await?,
        ),
        Some(limiter) => Some(limiter.take(client.id, per_minute)),
        None => None,
    };
    if let Some(quota) = quota {
        req.extensions_mut().insert(quota);
        if let Some(retry_after) = quota.retry_after {
            audit.detail("rate_limit_per_minute", quota.limit);
            return Err(AppError::RateLimited { retry_after });
        }
    }
    let now = Utc::now();
    let stale = now - chrono::Duration::seconds(TOUCH_EVERY_SECS);
    if client.last_used_at.is_none_or(|t| t < stale) {
        queries::touch_last_used(&data.db, client.id, now, stale).await?;
    }
    Ok(ApiCaller {
        id: client.id,
        name: client.name,
        scopes: client
            .scopes
            .split_whitespace()
            .filter_map(Scope::parse)
            .collect(),
    })
}

/// What the [`api_token`] guard resolved. A handler outside the `ApiToken` group
/// that asks for it is a wiring bug: 500, never an unauthenticated pass.
impl FromRequest for ApiCaller {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(req.extensions().get::<ApiCaller>().cloned().ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!(
                "ApiCaller asked for outside the ApiToken route group"
            ))
        }))
    }
}
