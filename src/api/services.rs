//! `/api/v1/services…` (scope `services:write`): the service catalogue, through
//! the same functions as the `/services` page (`services::service`).
use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{
    ApiCaller, contract,
    write::{self, Fields, Idempotency, check_fields},
};
use crate::{
    api_clients::Scope,
    audit::{Action, AuditCtx},
    error::{AppError, FieldErrors},
    services::{
        queries,
        service::{self, ServiceError},
    },
    state::AppData,
};

/// A service of the catalogue.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"name": "chat", "description": "The internal chat assistant", "users": 312}))]
pub struct ServiceOut {
    pub name: String,
    pub description: String,
    /// Users who have it.
    pub users: i64,
}

/// `GET /api/v1/services` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServicesResponse {
    /// By name.
    pub services: Vec<ServiceOut>,
}

/// `POST /api/v1/services` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "chat", "description": "The internal chat assistant"}))]
pub struct ServiceIn {
    /// 1–128 letters, digits and `. _ - :`; unique.
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// `PATCH /api/v1/services/{name}` body: the fields to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "chat-v2"}))]
pub struct ServicePatch {
    /// A new name; the users who have the service are re-synced to LiteLLM.
    pub name: Option<String>,
    pub description: Option<String>,
}

fn service_error(e: ServiceError) -> AppError {
    match e {
        ServiceError::Db(e) => e.into(),
        ServiceError::InUse { name, users } => {
            let shown: Vec<&str> = users.iter().take(20).map(String::as_str).collect();
            AppError::Conflict(format!(
                "`{name}` is still used by {} user(s): {}{}; remove it from them first (POST /api/v1/users/bulk with services.remove)",
                users.len(),
                shown.join(", "),
                if users.len() > 20 { ", …" } else { "" }
            ))
        }
        ServiceError::Duplicate(name) => {
            AppError::Conflict(format!("a service named `{name}` already exists"))
        }
        other => {
            let mut fields = FieldErrors::new();
            for (f, m) in other.fields() {
                fields.entry(f.to_string()).or_default().push(m.to_string());
            }
            AppError::Validation {
                message: other.to_string(),
                fields,
            }
        }
    }
}

/// The service catalogue.
#[utoipa::path(
    get,
    path = "/api/v1/services",
    tag = "services",
    responses(
        (status = 200, description = "Every service, by name, with its number of users", body = ServicesResponse),
        (status = 401, description = "Missing, invalid or revoked token", body = contract::ErrorResponse),
        (status = 403, description = "The token lacks the scope services:write", body = contract::ErrorResponse),
    ),
    security(("bearer" = ["services:write"]), ("internal_auth" = ["services:write"]))
)]
pub async fn list(
    caller: ApiCaller,
    audit: AuditCtx,
    data: web::Data<AppData>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ApiServicesList);
    caller.require(Scope::ServicesWrite, &audit)?;
    let services: Vec<ServiceOut> = queries::list(&data.db)
        .await?
        .into_iter()
        .map(|s| ServiceOut {
            name: s.name,
            description: s.description,
            users: s.users,
        })
        .collect();
    audit.detail("count", services.len());
    Ok(HttpResponse::Ok().json(ServicesResponse { services }))
}

/// Add a service.
#[utoipa::path(
    post,
    path = "/api/v1/services",
    tag = "services",
    request_body = ServiceIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key gets the first answer and changes nothing")),
    responses(
        (status = 201, description = "Added", body = ServiceOut),
        (status = 400, description = "Malformed JSON, empty body or wrong Content-Type", body = contract::ErrorResponse),
        (status = 401, description = "Missing, invalid or revoked token", body = contract::ErrorResponse),
        (status = 403, description = "The token lacks the scope services:write", body = contract::ErrorResponse),
        (status = 409, description = "A service with this name exists", body = contract::ErrorResponse),
        (status = 422, description = "Bad name or description, unknown fields", body = contract::ErrorResponse),
    ),
    security(("bearer" = ["services:write"]), ("internal_auth" = ["services:write"]))
)]
pub async fn create(
    req: HttpRequest,
    caller: ApiCaller,
    audit: AuditCtx,
    data: web::Data<AppData>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ApiServiceCreate);
    caller.require(Scope::ServicesWrite, &audit)?;
    let (body, obj) = write::read_object(&req, payload).await?;
    let idem = Idempotency::of(&req, caller.id, &body)?;
    let mut errors = FieldErrors::new();
    let mut f = Fields::new(&obj, "", &["name", "description"], &mut errors);
    let name = f.string("name", true).unwrap_or_default();
    let description = f.string("description", false).unwrap_or_default();
    check_fields(errors, "the request")?;
    let txn = crate::db::begin_write(&data.db).await?;
    if let Some(replay) = idem.replay(&txn, &audit).await? {
        return Ok(replay);
    }
    let s = service::create(&txn, &name, &description)
        .await
        .map_err(service_error)?;
    audit.detail("service_id", s.id);
    audit.detail("before", serde_json::Value::Null);
    audit.detail(
        "after",
        json!({"name": s.name, "description": s.description}),
    );
    let out = ServiceOut {
        name: s.name,
        description: s.description,
        users: 0,
    };
    let (res, _) = write::answer(&txn, &idem, StatusCode::CREATED, &out).await?;
    audit.commit(txn, StatusCode::CREATED).await?;
    Ok(res)
}

/// Rename a service or change its description.
#[utoipa::path(
    patch,
    path = "/api/v1/services/{name}",
    tag = "services",
    params(("name" = String, Path, description = "The service's current name")),
    request_body = ServicePatch,
    responses(
        (status = 200, description = "Saved; on a rename its users are queued for LiteLLM sync", body = ServiceOut),
        (status = 401, description = "Missing, invalid or revoked token", body = contract::ErrorResponse),
        (status = 403, description = "The token lacks the scope services:write", body = contract::ErrorResponse),
        (status = 404, description = "No such service", body = contract::ErrorResponse),
        (status = 409, description = "Another service has the new name", body = contract::ErrorResponse),
        (status = 422, description = "Bad name or description, unknown fields", body = contract::ErrorResponse),
    ),
    security(("bearer" = ["services:write"]), ("internal_auth" = ["services:write"]))
)]
pub async fn update(
    req: HttpRequest,
    caller: ApiCaller,
    audit: AuditCtx,
    data: web::Data<AppData>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ApiServiceUpdate);
    caller.require(Scope::ServicesWrite, &audit)?;
    let (_, obj) = write::read_object(&req, payload).await?;
    let mut errors = FieldErrors::new();
    let mut f = Fields::new(&obj, "", &["name", "description"], &mut errors);
    let name = f.string("name", false);
    let description = f.string("description", false);
    if obj.is_empty() {
        f.error("body", "name at least one field to change");
    }
    check_fields(errors, "the request")?;
    let txn = crate::db::begin_write(&data.db).await?;
    let s = queries::find_by_name(&txn, &path)
        .await?
        .ok_or(AppError::NotFound)?;
    audit.detail("service_id", s.id);
    let name = name.unwrap_or_else(|| s.name.clone());
    let description = description.unwrap_or_else(|| s.description.clone());
    let batch_id = crate::crypto::random_id();
    let users = service::update(&txn, &s, &name, &description, &batch_id)
        .await
        .map_err(service_error)?;
    let after = queries::find(&txn, s.id).await?.ok_or(AppError::NotFound)?;
    audit.targets(users.clone());
    audit.detail(
        "before",
        json!({"name": s.name, "description": s.description}),
    );
    audit.detail(
        "after",
        json!({"name": after.name, "description": after.description}),
    );
    if !users.is_empty() {
        audit.detail("batch_id", batch_id);
    }
    audit.commit(txn, StatusCode::OK).await?;
    Ok(HttpResponse::Ok().json(ServiceOut {
        name: after.name,
        description: after.description,
        users: users.len() as i64,
    }))
}

/// Delete a service no user has.
#[utoipa::path(
    delete,
    path = "/api/v1/services/{name}",
    tag = "services",
    params(("name" = String, Path, description = "The service's name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing, invalid or revoked token", body = contract::ErrorResponse),
        (status = 403, description = "The token lacks the scope services:write", body = contract::ErrorResponse),
        (status = 404, description = "No such service", body = contract::ErrorResponse),
        (status = 409, description = "Users still have it (the message names them); nothing was deleted", body = contract::ErrorResponse),
    ),
    security(("bearer" = ["services:write"]), ("internal_auth" = ["services:write"]))
)]
pub async fn remove(
    caller: ApiCaller,
    audit: AuditCtx,
    data: web::Data<AppData>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ApiServiceDelete);
    caller.require(Scope::ServicesWrite, &audit)?;
    let txn = crate::db::begin_write(&data.db).await?;
    let s = queries::find_by_name(&txn, &path)
        .await?
        .ok_or(AppError::NotFound)?;
    audit.detail("service_id", s.id);
    if let Err(e) = service::delete(&txn, &s).await {
        if let ServiceError::InUse { users, .. } = &e {
            audit.targets(users.clone());
        }
        return Err(service_error(e));
    }
    audit.detail(
        "before",
        json!({"name": s.name, "description": s.description}),
    );
    audit.detail("after", serde_json::Value::Null);
    audit.commit(txn, StatusCode::NO_CONTENT).await?;
    Ok(HttpResponse::NoContent().finish())
}
