//! `/api/v1`: the REST API internal systems call with a bearer token.
//!
//! - `POST /api/v1/keys/lookup` (scope `keys:read`): many users' keys at once.
//! - `GET /api/v1/models` (scope `models:read`): the model catalogue.
//! - `GET /api/v1/audit/events` (scope `audit:read`): the audit trail.
//! - `GET/POST /api/v1/users`, `GET/PATCH/DELETE /api/v1/users/{user_id}`,
//!   `POST /api/v1/users/bulk`, `GET /api/v1/batches/{id}` (scope `users:write`):
//!   provisioning by other systems, through the UI's service functions.
//! - `GET/POST /api/v1/services`, `PATCH/DELETE /api/v1/services/{name}` (scope
//!   `services:write`): the service catalogue.
//!
//! The token goes in `Authorization: Bearer TOKEN` or, the organisation's own
//! convention, `X-Internal-Auth: TOKEN`. Every POST takes an `Idempotency-Key`.
//! - `GET /api/v1/openapi.json` and `/api/v1/docs/`: the contract, generated from
//!   this code, and Swagger UI served from vendored assets.
//!
//! Every call is audited as the calling client (one event each, no key in it), and
//! every authenticated response carries `X-RateLimit-*` headers.
mod auth;
pub mod contract;
mod handlers;
pub mod lookup_cache;
pub mod openapi;
pub mod queries;
mod rate_limit;
pub mod services;
pub mod users;
pub mod write;

use actix_web::{middleware::from_fn, web};

pub use auth::{ApiCaller, api_token};
pub use rate_limit::{Quota, RateLimiter};

crate::route_table! {
    prefix: "/api/v1";
    ApiToken {
        POST "/keys/lookup" => handlers::lookup, ApiKeysLookup;
        GET "/models" => handlers::models, ApiModelsList;
        GET "/audit/events" => handlers::audit_events, ApiAuditList;
        GET "/users" => users::list, ApiUsersList;
        POST "/users" => users::create, ApiUsersCreate;
        POST "/users/bulk" => users::bulk_change, ApiUsersBulk;
        GET "/users/{user_id}" => users::view, ApiUserView;
        PATCH "/users/{user_id}" => users::update, ApiUserUpdate;
        DELETE "/users/{user_id}" => users::remove, ApiUserDelete;
        GET "/batches/{batch_id}" => users::batch, ApiBatchView;
        GET "/services" => services::list, ApiServicesList;
        POST "/services" => services::create, ApiServiceCreate;
        PATCH "/services/{name}" => services::update, ApiServiceUpdate;
        DELETE "/services/{name}" => services::remove, ApiServiceDelete;
    }
    Public {
        GET "/openapi.json" => handlers::openapi_json, ApiDocs;
        GET "/docs{tail:.*}" => handlers::docs, ApiDocs;
    }
}

/// `/api/v1…`, with the rate-limit headers on every answer.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .wrap(from_fn(rate_limit::headers_middleware))
            .configure(register),
    );
}

/// Deletes the answers kept for `Idempotency-Key` retries once they are older
/// than `MAMA_IDEMPOTENCY_TTL_HOURS`, every `MAMA_PURGE_INTERVAL_SECS`; ends
/// between passes once `stop` is raised.
pub fn spawn_idempotency_purger(
    db: sea_orm::DatabaseConnection,
    security: &crate::config::SecuritySettings,
    mut stop: crate::shutdown::Stop,
) -> tokio::task::JoinHandle<()> {
    let (every, ttl) = (security.purge_interval, security.idempotency_ttl);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.stopped() => return,
            }
            match write::purge_idempotency(&db, ttl).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(idempotency_keys = n, "purged old idempotency answers"),
                Err(e) => tracing::warn!(error = %e, "purge of idempotency answers failed"),
            }
        }
    })
}
