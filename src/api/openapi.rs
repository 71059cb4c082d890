//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers' and
//! contract types' annotations.
use utoipa::{
    Modify, OpenApi,
    openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme},
};

use super::{contract, handlers, services, users};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "mama API",
        version = "1",
        description = "Batch lookup of users' LiteLLM keys, the model catalogue, the audit trail, \
                       and provisioning: users and services created, changed and deleted by other systems. \
                       Authenticate with `Authorization: Bearer <token>` (an API client's token) or, \
                       the organisation's convention for service-to-service calls, with the same token in \
                       `X-Internal-Auth: <token>`. Every POST accepts an `Idempotency-Key` header: a retry \
                       with the same key and body answers the first result again (header \
                       `Idempotent-Replayed: true`) and changes nothing, on any instance. \
                       Users carry a version in an `ETag`; send it in `If-Match` to PATCH or DELETE, \
                       and a stale one answers 412 instead of overwriting someone else's change. \
                       Every call is audited. Every authenticated response carries \
                       X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset; \
                       a 429 carries Retry-After."
    ),
    paths(
        handlers::lookup,
        handlers::models,
        handlers::audit_events,
        handlers::openapi_json,
        users::list,
        users::create,
        users::view,
        users::update,
        users::remove,
        users::bulk_change,
        users::batch,
        services::list,
        services::create,
        services::update,
        services::remove
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
        contract::ErrorDetail,
        users::UserOut,
        users::UsersPage,
        users::CreateUserIn,
        users::CreateUsersRequest,
        users::CreateUsersResponse,
        users::PatchUserRequest,
        users::DeletedUser,
        users::BulkFilter,
        users::BulkRequest,
        users::BulkResponse,
        users::BatchOut,
        users::BatchFailure,
        services::ServiceOut,
        services::ServicesResponse,
        services::ServiceIn,
        services::ServicePatch
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "keys", description = "Users' keys and permissions"),
        (name = "models", description = "The model catalogue"),
        (name = "audit", description = "The audit trail"),
        (name = "users", description = "Provisioning users (scope users:write); never a key"),
        (name = "services", description = "The service catalogue (scope services:write)"),
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
        // The same token, in the organisation's own header for service-to-service calls.
        components.add_security_scheme(
            "internal_auth",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Internal-Auth",
                "An API client's token, sent bare: `X-Internal-Auth: <token>`. Accepted by every /api/v1 route.",
            ))),
        );
    }
}

/// The document as JSON text.
pub fn json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".into())
}
