//! `/api/v1`: the REST API internal systems call with a bearer token.
//!
//! - `POST /api/v1/keys/lookup` (scope `keys:read`): many users' keys at once.
//! - `GET /api/v1/models` (scope `models:read`): the model catalogue.
//! - `GET /api/v1/audit/events` (scope `audit:read`): the audit trail.
//! - `GET /api/v1/openapi.json` and `/api/v1/docs/`: the contract, generated from
//!   this code, and Swagger UI served from vendored assets.
//!
//! Every call is audited as the calling client (one event each, no key in it), and
//! every authenticated response carries `X-RateLimit-*` headers.
mod auth;
pub mod contract;
mod handlers;
pub mod openapi;
pub mod queries;
mod rate_limit;

use actix_web::{middleware::from_fn, web};

pub use auth::ApiCaller;
pub use rate_limit::{Quota, RateLimiter};

/// `/api/v1…`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .wrap(from_fn(rate_limit::headers_middleware))
            .service(handlers::lookup)
            .service(handlers::models)
            .service(handlers::audit_events)
            .service(handlers::openapi_json)
            .service(handlers::docs),
    );
}
