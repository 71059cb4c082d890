//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers' and
//! contract types' annotations.
use utoipa::{
    Modify, OpenApi,
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
};

use super::{contract, handlers};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "mama API",
        version = "1",
        description = "Batch lookup of users' LiteLLM keys, the model catalogue and the audit trail. \
                       Authenticate with `Authorization: Bearer <token>` (an API client's token). \
                       Every call is audited. Every authenticated response carries \
                       X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset; \
                       a 429 carries Retry-After."
    ),
    paths(
        handlers::lookup,
        handlers::models,
        handlers::audit_events,
        handlers::openapi_json
    ),
    components(schemas(
        contract::LookupRequest,
        contract::LookupResponse,
        contract::LookupError,
        contract::UserKey,
        contract::ModelsResponse,
        contract::ModelEntry,
        contract::AuditEventsResponse,
        contract::AuditEventOut,
        contract::EventActor,
        contract::ErrorResponse,
        contract::ErrorDetail
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "keys", description = "Users' keys and permissions"),
        (name = "models", description = "The model catalogue"),
        (name = "audit", description = "The audit trail"),
        (name = "docs", description = "This document")
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The document as JSON text.
pub fn json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".into())
}
