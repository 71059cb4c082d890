//! Thin handlers of `/api/v1`. Each names its action, checks its scope, records
//! what it read (never a key), and answers JSON; errors are `AppError`s, which
//! the audit middleware renders as `{"error": {…}}`.
use std::{
    collections::HashMap,
    sync::{Arc, OnceLock},
};

use actix_web::{HttpMessage, HttpRequest, HttpResponse, http::header, web};

use super::{
    ApiCaller,
    contract::{
        self, AuditEventOut, AuditEventsResponse, AuditQuery, EventActor, LookupResponse,
        ModelEntry, ModelsResponse,
    },
    lookup_cache::{self, Answer, LookupCache},
    queries,
};
use crate::{
    api_clients::Scope,
    audit::{
        Action, AuditCtx,
        queries::{AuditFilter, search},
    },
    crypto::DecryptError,
    error::AppError,
    state::AppData,
};

/// Written once, in the model catalogue.
use crate::catalogue::SPECIAL as SPECIAL_MODELS;

/// Look up many users' keys and permissions at once.
#[utoipa::path(
    post,
    path = "/api/v1/keys/lookup",
    tag = "keys",
    request_body = contract::LookupRequest,
    responses(
        (status = 200, description = "Found users in request order, the IDs not found, and the users whose stored key cannot be returned (`errors`; never a 500 for the batch)", body = LookupResponse),
        (status = 400, description = "Malformed JSON, empty body or wrong Content-Type", body = contract::ErrorResponse),
        (status = 401, description = "Missing, invalid or revoked token", body = contract::ErrorResponse),
        (status = 403, description = "The token lacks the scope keys:read", body = contract::ErrorResponse),
        (status = 413, description = "More user IDs than allowed (default 1,000)", body = contract::ErrorResponse),
        (status = 422, description = "Empty list, non-string or over-long IDs, unknown fields", body = contract::ErrorResponse),
        (status = 429, description = "Rate limit exceeded (see Retry-After)", body = contract::ErrorResponse),
        (status = 503, description = "The audit trail cannot be written; nothing is returned", body = contract::ErrorResponse),
    ),
    security(("bearer" = ["keys:read"]), ("internal_auth" = ["keys:read"]))
)]
pub async fn lookup(
    req: HttpRequest,
    caller: ApiCaller,
    audit: AuditCtx,
    data: web::Data<AppData>,
    cache: web::Data<LookupCache>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ApiKeysLookup);
    caller.require(Scope::KeysRead, &audit)?;
    let result = read_lookup(&req, &data, payload).await;
    let ids = match result {
        Ok(ids) => ids,
        Err(e) => {
            audit.detail("problem", e.to_string());
            return Err(e);
        }
    };
    audit.detail("requested", ids.len());
    let generation = req
        .extensions()
        .get::<lookup_cache::ReadGeneration>()
        .map(|g| g.0);
    let found = match lookup_answers(&data, &cache, &ids, generation).await {
        Ok(found) => found,
        Err(e) => {
            audit.targets(ids);
            return Err(e);
        }
    };
    let mut users = Vec::with_capacity(found.len());
    let mut not_found = vec![];
    let mut errors = vec![];
    for (id, answer) in ids.iter().zip(found) {
        match answer {
            Some(Ok(answer)) => users.push(answer),
            // One unreadable row fails that user only, named in `errors`.
            Some(Err(e)) => errors.push(contract::LookupError {
                user_id: id.clone(),
                code: e.code().to_string(),
                message: e.to_string(),
            }),
            None => not_found.push(id.clone()),
        }
    }
    // The IDs move into the event (its targets) once the answer no longer
    // needs them.
    audit.targets(ids);
    audit.detail("found", users.len());
    audit.detail("not_found_count", not_found.len());
    audit.detail("not_found", not_found.clone());
    if !errors.is_empty() {
        let e: Vec<_> = errors
            .iter()
            .map(|e| serde_json::json!({"user_id": e.user_id, "code": e.code}))
            .collect();
        audit.detail("errors", e);
    }
    // The body is `LookupResponse` (its schema is the contract), assembled from
    // the answers' ready JSON.
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(lookup_cache::LookupBody::new(users, &not_found, &errors)))
}

/// The answers for `ids` (external IDs), in their order (`None`: no such
/// user): cached ones at the read generation `generation` (read now when the
/// token guard did not), the rest read, their keys decrypted, and cached. A
/// stored key that cannot be decrypted fails its user only (and is not cached).
async fn lookup_answers(
    data: &AppData,
    cache: &LookupCache,
    ids: &[String],
    generation: Option<i64>,
) -> Result<Vec<Option<Result<Answer, DecryptError>>>, AppError> {
    let read = |ids| async move {
        Ok::<_, AppError>(
            lookup_cache::answers(&data.cipher, queries::lookup(&data.db, ids).await?)
                .into_iter()
                .collect::<HashMap<_, _>>(),
        )
    };
    let from = |mut read: HashMap<String, _>, ids: &[String]| {
        ids.iter().map(|id| read.remove(id)).collect::<Vec<_>>()
    };
    if !cache.enabled() {
        return Ok(from(read(ids).await?, ids));
    }
    // The counter first (the token guard read it with the token): answers read
    // after it are at least that new.
    let generation = match generation {
        Some(g) => g,
        None => lookup_cache::generation(&data.db).await?,
    };
    let cached = cache.get(generation, ids);
    let missing = lookup_cache::missing(ids, &cached);
    let mut fresh = if missing.is_empty() {
        HashMap::new()
    } else {
        let fresh = read(&missing).await?;
        let fresh_ok: Vec<_> = fresh.values().filter_map(|a| a.as_ref().ok()).collect();
        cache.put(generation, fresh_ok.into_iter());
        fresh
    };
    Ok(ids
        .iter()
        .zip(cached)
        .map(|(id, a)| match a {
            Some(a) => Some(Ok(a)),
            None => fresh.remove(id),
        })
        .collect())
}

async fn read_lookup(
    req: &HttpRequest,
    data: &AppData,
    payload: web::Payload,
) -> Result<Vec<String>, AppError> {
    contract::check_json_content_type(
        req.headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    )?;
    let body = payload
        .to_bytes_limited(contract::MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            AppError::PayloadTooLarge(format!(
                "the request body is larger than {} bytes",
                contract::MAX_BODY_BYTES
            ))
        })?
        .map_err(|e| AppError::BadRequest(format!("the request body could not be read: {e}")))?;
    contract::parse_lookup(&body, data.settings.api_max_lookup_ids)
}

/// The model catalogue, with availability.
#[utoipa::path(
    get,
    path = "/api/v1/models",
    tag = "models",
    responses(
        (status = 200, description = "Every known model; the special values first", body = ModelsResponse),
        (status = 401, description = "Missing, invalid or revoked token", body = contract::ErrorResponse),
        (status = 403, description = "The token lacks the scope models:read", body = contract::ErrorResponse),
        (status = 429, description = "Rate limit exceeded", body = contract::ErrorResponse),
    ),
    security(("bearer" = ["models:read"]), ("internal_auth" = ["models:read"]))
)]
pub async fn models(
    caller: ApiCaller,
    audit: AuditCtx,
    data: web::Data<AppData>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ApiModelsList);
    caller.require(Scope::ModelsRead, &audit)?;
    let mut models: Vec<ModelEntry> = SPECIAL_MODELS
        .iter()
        .map(|m| ModelEntry {
            name: m.to_string(),
            available: true,
            special: true,
            last_seen_at: None,
        })
        .collect();
    models.extend(
        crate::catalogue::by_name(&data.db)
            .await?
            .into_iter()
            .filter(|m| !SPECIAL_MODELS.contains(&m.name.as_str()))
            .map(|m| ModelEntry {
                name: m.name,
                available: m.available,
                special: false,
                last_seen_at: m.last_seen_at,
            }),
    );
    audit.detail("count", models.len());
    Ok(HttpResponse::Ok().json(ModelsResponse { models }))
}

/// The audit trail, newest first, with keyset pagination.
#[utoipa::path(
    get,
    path = "/api/v1/audit/events",
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of events", body = AuditEventsResponse),
        (status = 400, description = "Unknown or malformed query parameter", body = contract::ErrorResponse),
        (status = 401, description = "Missing, invalid or revoked token", body = contract::ErrorResponse),
        (status = 403, description = "The token lacks the scope audit:read", body = contract::ErrorResponse),
        (status = 422, description = "A filter has an invalid value", body = contract::ErrorResponse),
        (status = 429, description = "Rate limit exceeded", body = contract::ErrorResponse),
    ),
    security(("bearer" = ["audit:read"]), ("internal_auth" = ["audit:read"]))
)]
pub async fn audit_events(
    req: HttpRequest,
    caller: ApiCaller,
    audit: AuditCtx,
    data: web::Data<AppData>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ApiAuditList);
    caller.require(Scope::AuditRead, &audit)?;
    let q: AuditQuery = serde_html_form::from_str(req.query_string()).map_err(|e| {
        let msg: String = e.to_string().chars().take(300).collect();
        AppError::BadRequest(format!("bad query string: {msg}"))
    })?;
    let (filter, cursor, limit) = audit_filter(q)?;
    let mut rows = search(&data.db, &filter, cursor, limit + 1).await?;
    let next_cursor = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|e| e.id)
    } else {
        None
    };
    audit.detail("count", rows.len());
    let events = rows
        .into_iter()
        .map(|e| AuditEventOut {
            id: e.id,
            occurred_at: e.occurred_at,
            request_id: e.request_id,
            actor: EventActor {
                kind: e.actor_kind,
                id: e.actor_id,
                name: e.actor_name,
            },
            action: e.action,
            outcome: e.outcome,
            http_status: e.http_status,
            duration_us: e.duration_us,
            client_ip: e.client_ip,
            user_agent: e.user_agent,
            method: e.method,
            path: e.path,
            targets: serde_json::from_str(&e.targets).unwrap_or_default(),
            details: serde_json::from_str(&e.details).unwrap_or(serde_json::Value::Null),
        })
        .collect();
    Ok(HttpResponse::Ok().json(AuditEventsResponse {
        events,
        next_cursor,
    }))
}

fn time(field: &str, v: Option<String>) -> Result<Option<chrono::DateTime<chrono::Utc>>, AppError> {
    v.map(|s| {
        chrono::DateTime::parse_from_rfc3339(s.trim())
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|_| {
                AppError::validation(field, "must be an RFC 3339 time, e.g. 2026-11-22T10:00:00Z")
            })
    })
    .transpose()
}

fn audit_filter(q: AuditQuery) -> Result<(AuditFilter, Option<i64>, u64), AppError> {
    let mut actions = vec![];
    for a in q.action.iter().flat_map(|a| a.split(',')).map(str::trim) {
        if a.is_empty() {
            continue;
        }
        if Action::parse(a).is_none() {
            let a: String = a.chars().take(64).collect();
            return Err(AppError::validation(
                "action",
                format!("unknown action `{a}`"),
            ));
        }
        actions.push(a.to_string());
    }
    if let Some(o) = &q.outcome
        && !["success", "denied", "invalid", "error"].contains(&o.as_str())
    {
        return Err(AppError::validation(
            "outcome",
            "must be success, denied, invalid or error",
        ));
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(AppError::validation("limit", "must be from 1 to 1000"));
    }
    let filter = AuditFilter {
        since: time("since", q.since)?,
        until: time("until", q.until)?,
        actor: q.actor.filter(|s| !s.is_empty()),
        actions,
        target_user: q.user_id.filter(|s| !s.is_empty()),
        outcome: q.outcome,
        request_id: q.request_id.filter(|s| !s.is_empty()),
    };
    Ok((filter, q.cursor, limit))
}

/// The OpenAPI 3.1 document of `/api/v1`.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "docs",
    responses((status = 200, description = "This document", content_type = "application/json"))
)]
pub async fn openapi_json(audit: AuditCtx) -> HttpResponse {
    audit.action(Action::ApiDocs);
    static DOC: OnceLock<String> = OnceLock::new();
    let doc = DOC.get_or_init(super::openapi::json);
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.clone())
}

/// Swagger UI, from assets compiled into the binary (no CDN).
pub async fn docs(audit: AuditCtx, tail: web::Path<String>) -> Result<HttpResponse, AppError> {
    audit.action(Action::ApiDocs);
    let tail = tail.into_inner();
    if tail.is_empty() {
        return Ok(HttpResponse::PermanentRedirect()
            .insert_header((header::LOCATION, "/api/v1/docs/"))
            .finish());
    }
    let Some(path) = tail.strip_prefix('/') else {
        return Err(AppError::NotFound);
    };
    static CONFIG: OnceLock<Arc<utoipa_swagger_ui::Config<'static>>> = OnceLock::new();
    let config = CONFIG
        .get_or_init(|| Arc::new(utoipa_swagger_ui::Config::from("/api/v1/openapi.json")))
        .clone();
    match utoipa_swagger_ui::serve(path, config) {
        Ok(Some(file)) => {
            let mut res = HttpResponse::Ok();
            res.content_type(file.content_type);
            if file.gzpipped {
                res.insert_header((header::CONTENT_ENCODING, "gzip"));
            }
            // Vendored and versioned with the binary: safe to cache for a day.
            res.insert_header((header::CACHE_CONTROL, "public, max-age=86400"));
            Ok(res.body(file.bytes.into_owned()))
        }
        Ok(None) => Err(AppError::NotFound),
        Err(e) => Err(AppError::Internal(anyhow::anyhow!("swagger ui: {e}"))),
    }
}
