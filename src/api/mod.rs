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

crate::route_table! {
    prefix: "/api/v1";
    ApiToken {
        POST "/keys/lookup" => handlers::lookup, ApiKeysLookup;
        GET "/models" => handlers::models, ApiModelsList;
        GET "/audit/events" => handlers::audit_events, ApiAuditList;
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
