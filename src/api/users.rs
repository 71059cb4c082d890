//! `/api/v1/users…` and `/api/v1/batches/{id}` (scope `users:write`): other
//! systems create, change, bulk-change and delete users through the same
//! service functions as the admin pages (`users::service`, `users::bulk`), so
//! both behave alike. Never a key in an answer, a log line or an audit row.
use std::collections::{BTreeSet, HashMap};

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::{
    ApiCaller, contract,
    write::{self, Fields, Idempotency, check_fields, etag, if_match, precondition_failed},
};
use crate::{
    api_clients::Scope,
    audit::{Action, AuditCtx},
    entities::user,
    error::{AppError, FieldErrors},
    litellm::{LIMIT_FIELDS, queries as sync_queries},
    state::AppData,
    users::{
        bulk::{self, BulkError},
        forms::{
            BulkForm, MAX_LINES, MAX_SELECTED, Organisation, Selection, UserId, check_alias,
            check_model_name, check_service_name, check_text,
        },
        queries::{self, UserFilter},
        service::{self, EditError, NewUser},
    },
};

/// Most users one `POST /api/v1/users` creates.
pub const MAX_CREATE: usize = MAX_LINES;
/// Longest extra text.
pub const EXTRA_MAX: usize = 4000;
/// Largest page of `GET /api/v1/users`.
pub const PAGE_MAX: u64 = 1000;

/// A user as the API shows it: everything but the key (only its last characters).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "user_id": "alice", "organisation": "Research", "key_alias": "alice-laptop",
    "key_hint": "…x7Qa", "models": ["gpt-4o", "old-model"], "unavailable_models": ["old-model"],
    "services": ["chat"], "extra": "", "sync_state": "pending", "sync_error": null,
    "version": 3, "etag": "\"42.3\"", "created_at": "2026-12-01T09:00:00Z",
    "updated_at": "2026-12-02T10:00:00Z"
}))]
pub struct UserOut {
    pub user_id: String,
    pub organisation: String,
    pub key_alias: Option<String>,
    /// The key's last characters, for recognising it; never the key.
    pub key_hint: String,
    /// Sorted.
    pub models: Vec<String>,
    /// The user's models LiteLLM does not offer (the UI shows them in red);
    /// `all-team-models` and `all-proxy-models` never are.
    pub unavailable_models: Vec<String>,
    /// Sorted service names.
    pub services: Vec<String>,
    pub extra: String,
    /// `synced`, `pending` or `failed`.
    pub sync_state: String,
    pub sync_error: Option<String>,
    /// Bumped by every change; the `ETag` is built from it.
    pub version: i32,
    /// The value of the `ETag` header, for `If-Match`.
    pub etag: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// USD, LiteLLM's `max_budget`; null: no budget.
    pub max_budget: Option<f64>,
    /// `1d`, `7d` or `30d`; null: the budget never resets.
    pub budget_duration: Option<String>,
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    /// When the key stops working; null: never.
    pub expires_at: Option<DateTime<Utc>>,
    pub blocked: bool,
    /// USD spent, as last read from LiteLLM (null: not read yet).
    pub spend: Option<f64>,
    /// The key's last use, when LiteLLM reports it.
    pub last_active_at: Option<DateTime<Utc>>,
}

/// `GET /api/v1/users` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsersPage {
    /// By user ID.
    pub users: Vec<UserOut>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/users` filters; every given one must hold.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsersQuery {
    /// Case-insensitive substring of the user ID or the organisation.
    pub q: Option<String>,
    /// Exactly this organisation.
    pub organisation: Option<String>,
    /// Users who have this model.
    pub model: Option<String>,
    /// Users who have this service.
    pub service: Option<String>,
    /// `synced`, `pending` or `failed`.
    pub sync_state: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<u64>,
}

/// One user to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"user_id": "alice", "organisation": "Research", "models": ["gpt-4o"],
    "services": ["chat"], "extra": "employee 1234", "key_alias": "alice-laptop"}))]
pub struct CreateUserIn {
    /// 1–128 letters, digits and `. _ @ - +`; new.
    pub user_id: String,
    #[serde(default)]
    pub organisation: String,
    /// Model names; a model LiteLLM does not offer is accepted and reported in
    /// `unavailable_models`.
    #[serde(default)]
    pub models: Vec<String>,
    /// Service names from the catalogue; an unknown name is refused.
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub extra: String,
    /// Unique across users (LiteLLM requires it).
    pub key_alias: Option<String>,
    /// USD (LiteLLM's `max_budget`); null: none.
    pub max_budget: Option<f64>,
    /// `1d`, `7d` or `30d`.
    pub budget_duration: Option<String>,
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    /// RFC 3339, or a date (the end of that day, UTC).
    pub expires_at: Option<String>,
    pub blocked: Option<bool>,
}

/// `POST /api/v1/users` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUsersRequest {
    /// 1 to 10,000 users, all created or none.
    pub users: Vec<CreateUserIn>,
}

/// `POST /api/v1/users` answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"created": 1, "batch_id": "9f2c…", "users": []}))]
pub struct CreateUsersResponse {
    pub created: usize,
    /// Follow the LiteLLM sync at `GET /api/v1/batches/{batch_id}`.
    pub batch_id: String,
    pub users: Vec<UserOut>,
}

/// `PATCH /api/v1/users/{user_id}` body: only the given fields change (a list
/// given replaces the list; `key_alias: null` removes the alias).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"models": ["gpt-4o", "gpt-4o-mini"], "organisation": "Research"}))]
pub struct PatchUserRequest {
    pub organisation: Option<String>,
    pub key_alias: Option<String>,
    pub models: Option<Vec<String>>,
    pub services: Option<Vec<String>>,
    pub extra: Option<String>,
    /// USD (LiteLLM's `max_budget`); null clears it.
    pub max_budget: Option<f64>,
    /// `1d`, `7d` or `30d`.
    pub budget_duration: Option<String>,
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    /// RFC 3339, or a date (the end of that day, UTC).
    pub expires_at: Option<String>,
    pub blocked: Option<bool>,
}

/// `DELETE /api/v1/users/{user_id}` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedUser {
    pub deleted: String,
    /// The key's deletion in LiteLLM.
    pub batch_id: String,
}

/// The users a bulk change applies to, by filter.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkFilter {
    pub q: Option<String>,
    pub organisation: Option<String>,
    pub model: Option<String>,
    pub service: Option<String>,
    pub sync_state: Option<String>,
}

/// `POST /api/v1/users/bulk` body: `user_ids` or `filter`, not both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"user_ids": ["alice", "bob"], "op": "models.add", "values": ["gpt-4o"], "dry_run": true}))]
pub struct BulkRequest {
    /// At most 10,000.
    pub user_ids: Option<Vec<String>>,
    pub filter: Option<BulkFilter>,
    /// `models.replace`, `models.add`, `models.remove`, `services.replace`,
    /// `services.add`, `services.remove`, `organisation.set`, `delete`, `rotate_key`,
    /// `max_budget.set|clear`, `budget_duration.set|clear`, `rpm_limit.set|clear`,
    /// `tpm_limit.set|clear`, `expires_at.set|clear` (renew), `block`, `unblock`.
    pub op: String,
    /// Models, services, or one organisation; one value for a `*.set` of a limit
    /// (`"50"`, `"30d"`, `"60"`, `"2027-12-31T23:59:59Z"`); none for `delete`,
    /// `rotate_key`, `*.clear`, `block` and `unblock`.
    #[serde(default)]
    pub values: Vec<String>,
    /// Only compute what would change (the preview the UI shows).
    #[serde(default)]
    pub dry_run: bool,
}

/// `POST /api/v1/users/bulk` answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"op": "models.add", "dry_run": false, "selected": 2, "changed": 1,
    "unchanged": 1, "not_found": ["carol"], "summary": ["+gpt-4o on 1 user, already present on 1"],
    "changed_user_ids": ["alice"], "batch_id": "9f2c…"}))]
pub struct BulkResponse {
    pub op: String,
    pub dry_run: bool,
    /// Users selected that exist.
    pub selected: usize,
    /// Users that change (would change, for a dry run).
    pub changed: usize,
    pub unchanged: usize,
    /// Selected IDs that do not exist.
    pub not_found: Vec<String>,
    /// The same sentences as the UI's preview.
    pub summary: Vec<String>,
    pub changed_user_ids: Vec<String>,
    /// Set when something changed and was applied.
    pub batch_id: Option<String>,
}

/// `GET /api/v1/batches/{batch_id}` answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"batch_id": "9f2c…", "total": 100, "done": 98, "failed": 1,
    "pending": 1, "complete": false, "failures": [{"user_id": "bob", "error": "…"}]}))]
pub struct BatchOut {
    pub batch_id: String,
    /// Sync jobs in the batch (one per changed user).
    pub total: i64,
    pub done: i64,
    /// Failed for good (after retries); see `failures`.
    pub failed: i64,
    /// Waiting or running.
    pub pending: i64,
    /// Every job is done or failed.
    pub complete: bool,
    /// Up to 100 failed jobs with LiteLLM's error.
    pub failures: Vec<BatchFailure>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchFailure {
    pub user_id: String,
    pub error: Option<String>,
}

/// The API view of these users.
pub async fn outs(
    db: &impl ConnectionTrait,
    users: Vec<user::Model>,
) -> Result<Vec<UserOut>, AppError> {
    let cat = crate::catalogue::load(db).await?;
    let ids: Vec<i32> = users.iter().map(|u| u.id).collect();
    let mut models = queries::models_of(db, &ids).await?;
    let mut services = queries::services_of(db, &ids).await?;
    Ok(users
        .into_iter()
        .map(|u| {
            let models: Vec<String> = models
                .remove(&u.id)
                .unwrap_or_default()
                .into_iter()
                .collect();
            UserOut {
                unavailable_models: models.iter().filter(|m| cat.tag(m).red).cloned().collect(),
                models,
                services: services
                    .remove(&u.id)
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
                etag: etag(u.id, u.version),
                user_id: u.user_id,
                organisation: u.organisation,
                key_alias: u.key_alias,
                key_hint: u.key_hint,
                extra: u.extra,
                sync_state: u.sync_state,
                sync_error: u.sync_error,
                version: u.version,
                created_at: u.created_at,
                updated_at: u.updated_at,
                max_budget: u.max_budget,
                budget_duration: u.budget_duration,
                rpm_limit: u.rpm_limit,
                tpm_limit: u.tpm_limit,
                expires_at: u.expires_at,
                blocked: u.blocked,
                spend: u.spend,
                last_active_at: u.last_active_at,
            }
        })
        .collect())
}

/// What an audit row says a user is (never the key).
fn snapshot(o: &UserOut) -> Value {
    json!({
        "user_id": o.user_id, "organisation": o.organisation, "key_alias": o.key_alias,
        "models": o.models, "services": o.services, "extra": o.extra, "version": o.version,
        "max_budget": o.max_budget, "budget_duration": o.budget_duration,
        "rpm_limit": o.rpm_limit, "tpm_limit": o.tpm_limit, "expires_at": o.expires_at,
        "blocked": o.blocked,
    })
}

fn sync_state_ok(s: &str) -> bool {
    matches!(s, "synced" | "pending" | "failed")
}

fn filter_of(
    q: Option<String>,
    organisation: Option<String>,
    model: Option<String>,
    service: Option<String>,
    sync_state: Option<String>,
    at: &str,
) -> Result<UserFilter, AppError> {
    let clean = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let f = UserFilter {
        q: clean(q).map(|q| q.chars().filter(|c| !c.is_control()).take(128).collect()),
        organisation: clean(organisation),
        model: clean(model),
        service: clean(service),
        sync_state: clean(sync_state),
    };
    if let Some(s) = &f.sync_state
        && !sync_state_ok(s)
    {
        return Err(AppError::validation(
            &format!("{at}sync_state"),
            "must be synced, pending or failed",
        ));
    }
    Ok(f)
}

/// Users, by ID, a page at a time; never a key.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "users",
    params(UsersQuery),
    responses(
        (status = 200, description = "A page of users, by user ID", body = UsersPage),
        (status = 400, description = "Unknown or malformed query parameter, or a bad cursor", body = contract::ErrorResponse),
        (status = 401, description = "Missing, invalid or revoked token", body = contract::ErrorResponse),
        (status = 403, description = "The token lacks the scope users:write", body = contract::ErrorResponse),
        (status = 422, description = "A filter has an invalid value", body = contract::ErrorResponse),
    ),
    security(("bearer" = ["users:write"]), ("internal_auth" = ["users:write"]))
)]
pub async fn list(
    req: HttpRequest,
    caller: ApiCaller,
    audit: AuditCtx,
    data: web::Data<AppData>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ApiUsersList);
    caller.require(Scope::UsersWrite, &audit)?;
    let q: UsersQuery = serde_html_form::from_str(req.query_string()).map_err(|e| {
        let msg: String = e.to_string().chars().take(300).collect();
        AppError::BadRequest(format!("bad query string: {msg}"))
    })?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=PAGE_MAX).contains(&limit) {
        return Err(AppError::validation("limit", "must be from 1 to 1000"));
    }
    let after = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| AppError::BadRequest("cursor: not a cursor this API gave".into()))?,
        ),
    };
    let filter = filter_of(q.q, q.organisation, q.model, q.service, q.sync_state, "")?;
    let mut rows = queries::filtered(&data.db, &filter, after.as_deref(), Some(limit + 1)).await?;
    let next_cursor = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last()
            .map(|u| URL_SAFE_NO_PAD.encode(u.user_id.as_bytes()))
    } else {
        None
    };
    audit.targets(rows.iter().map(|u| u.user_id.clone()).collect());
    audit.detail("count", rows.len());
    let users = outs(&data.db, rows).await?;
    Ok(HttpResponse::Ok().json(UsersPage { users, next_cursor }))
}

async fn load(db: &impl ConnectionTrait, user_id: &str) -> Result<user::Model, AppError> {
    queries::find(db, user_id).await?.ok_or(AppError::NotFound)
}

async fn one(db: &impl ConnectionTrait, u: user::Model) -> Result<UserOut, AppError> {
    outs(db, vec![u]).await?.pop().ok_or(AppError::NotFound)
}

fn with_etag(status: StatusCode, out: &UserOut) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, out.etag.clone()))
        .json(out)
}

/// One user (never the key), with its version as `ETag`.
#[utoipa::path(
    get,
    path = "/api/v1/users/{user_id}",
    tag = "users",
    params(("user_id" = String, Path, description = "The external user ID")),
    responses(
        (status = 200, description = "The user; the ETag header carries its version", body = UserOut,
         headers(("ETag" = String, description = "Send it back in If-Match to change the user safely"))),
        (status = 401, description = "Missing, invalid or revoked token", body = contract::ErrorResponse),
        (status = 403, description = "The token lacks the scope users:write", body = contract::ErrorResponse),
        (status = 404, description = "No such user", body = contract::ErrorResponse),
    ),
    security(("bearer" = ["users:write"]), ("internal_auth" = ["users:write"]))
)]
pub async fn view(
    caller: ApiCaller,
    audit: AuditCtx,
    data: web::Data<AppData>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ApiUserView);
    caller.require(Scope::UsersWrite, &audit)?;
    audit.targets(vec![path.clone()]);
    let u = load(&data.db, &path).await?;
    let out = one(&data.db, u).await?;
    Ok(with_etag(StatusCode::OK, &out))
}

/// A checked user to create, from `users[i]`.
fn parse_new_user(v: &Value, i: usize, errors: &mut FieldErrors) -> Option<NewUser> {
    let prefix = format!("users[{i}]");
    let Value::Object(obj) = v else {
        errors
            .entry(prefix)
            .or_default()
            .push("must be an object".into());
        return None;
    };
    let before = errors.len();
    let mut f = Fields::new(
        obj,
        &prefix,
        &[
            "user_id",
            "organisation",
            "models",
            "services",
            "extra",
            "key_alias",
            "max_budget",
            "budget_duration",
            "rpm_limit",
            "tpm_limit",
            "expires_at",
            "blocked",
        ],
        errors,
    );
    let limits = f.limits(Default::default());
    let user_id = f
        .string("user_id", true)
        .and_then(|s| match UserId::parse(&s) {
            Ok(id) => Some(id.into_inner()),
            Err(e) => {
                f.error("user_id", e);
                None
            }
        });
    let organisation = f
        .string("organisation", false)
        .map(|s| match Organisation::parse(&s) {
            Ok(o) => o.into_inner(),
            Err(e) => {
                f.error("organisation", e);
                String::new()
            }
        })
        .unwrap_or_default();
    let models = checked_models(&mut f, "models");
    let services = checked_services(&mut f, "services");
    let extra = f.string("extra", false).unwrap_or_default();
    if let Err(e) = check_text(&extra, EXTRA_MAX) {
        f.error("extra", format!("{e} (at most {EXTRA_MAX} characters)"));
    }
    let key_alias = f.string("key_alias", false).and_then(|a| {
        check_alias(&a).unwrap_or_else(|e| {
            f.error("key_alias", e);
            None
        })
    });
    if f.errors.len() != before {
        return None;
    }
    Some(NewUser {
        user_id: user_id?,
        organisation,
        key_alias,
        models: models.unwrap_or_default(),
        services: services.unwrap_or_default(),
        extra,
        limits,
    })
}

fn checked_models(f: &mut Fields, field: &str) -> Option<Vec<String>> {
    let raw = f.strings(field)?;
    let mut out: Vec<String> = vec![];
    for (j, m) in raw.iter().enumerate() {
        match check_model_name(m) {
            Ok(m) => {
                if !out.contains(&m) {
                    out.push(m)
                }
            }
            Err(e) => f.error(&format!("{field}[{j}]"), e),
        }
    }
    Some(out)
}

fn checked_services(f: &mut Fields, field: &str) -> Option<Vec<String>> {
    let raw = f.strings(field)?;
    let mut out: Vec<String> = vec![];
    for (j, s) in raw.iter().enumerate() {
        match check_service_name(s) {
            Ok(s) => {
                if !out.contains(&s) {
                    out.push(s)
                }
            }
            Err(e) => f.error(&format!("{field}[{j}]"), format!("{s:.64}: {e}")),
        }
    }
    Some(out)
}

/// Service names of `names` that are not in the catalogue.
async fn unknown_services(
    db: &impl ConnectionTrait,
    names: &BTreeSet<String>,
) -> Result<BTreeSet<String>, AppError> {
    let known: BTreeSet<String> = queries::services(db)
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect();
    Ok(names.difference(&known).cloned().collect())
}

/// Create up to 10,000 users at once, all or nothing.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "users",
    request_body = CreateUsersRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key gets the first answer and changes nothing")),
    responses(
        (status = 201, description = "All users created; their LiteLLM sync is queued under batch_id", body = CreateUsersResponse),
        (status = 400, description = "Malformed JSON, empty body or wrong Content-Type", body = contract::ErrorResponse),
        (status = 401, description = "Missing, invalid or revoked token", body = contract::ErrorResponse),
        (status = 403, description = "The token lacks the scope users:write", body = contract::ErrorResponse),
        (status = 409, description = "A twin request with the same Idempotency-Key is being processed", body = contract::ErrorResponse),
        (status = 413, description = "More than 10,000 users, or a body over 32 MiB", body = contract::ErrorResponse),
        (status = 422, description = "Every bad item by index and field (`users[3].services`): invalid values, duplicates, existing IDs or aliases, unknown services, unknown fields; nothing was created", body = contract::ErrorResponse,
         example = json!({"error": {"code": "VALIDATION_ERROR", "message": "2 problems in the request; nothing was changed: …",
            "details": {"fields": {"users[1].user_id": ["duplicate of users[0]"], "users[2].services": ["unknown service `chatt`: add it first"]}},
            "request_id": "…"}})),
    ),
    security(("bearer" = ["users:write"]), ("internal_auth" = ["users:write"]))
)]
pub async fn create(
    req: HttpRequest,
    caller: ApiCaller,
    audit: AuditCtx,
    data: web::Data<AppData>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ApiUsersCreate);
    caller.require(Scope::UsersWrite, &audit)?;
    let (body, obj) = write::read_object(&req, payload).await?;
    let idem = Idempotency::of(&req, caller.id, &body)?;
    let mut errors = FieldErrors::new();
    let items = {
        let mut f = Fields::new(&obj, "", &["users"], &mut errors);
        let items = f.array("users");
        if items.is_none() && !f.has("users") {
            f.error("users", "is required: a list of users to create");
        }
        items.cloned().unwrap_or_default()
    };
    if items.len() > MAX_CREATE {
        return Err(AppError::PayloadTooLarge(format!(
            "too many users: {} given, at most {MAX_CREATE} per request",
            items.len()
        )));
    }
    if items.is_empty() && errors.is_empty() {
        errors.insert(
            "users".into(),
            vec!["must contain at least one user".into()],
        );
    }
    let mut news: Vec<(usize, NewUser)> = Vec::with_capacity(items.len());
    for (i, v) in items.iter().enumerate() {
        if let Some(n) = parse_new_user(v, i, &mut errors) {
            news.push((i, n));
        }
    }
    audit.detail("requested", items.len());
    drop(items);
    // Duplicates within the request.
    let mut first_id: HashMap<String, usize> = HashMap::new();
    let mut first_alias: HashMap<String, usize> = HashMap::new();
    for (i, n) in &news {
        if let Some(j) = first_id.get(&n.user_id) {
            errors
                .entry(format!("users[{i}].user_id"))
                .or_default()
                .push(format!("duplicate of users[{j}]"));
        } else {
            first_id.insert(n.user_id.clone(), *i);
        }
        if let Some(a) = &n.key_alias {
            if let Some(j) = first_alias.get(a) {
                errors
                    .entry(format!("users[{i}].key_alias"))
                    .or_default()
                    .push(format!("the same alias as users[{j}]"));
            } else {
                first_alias.insert(a.clone(), *i);
            }
        }
    }
    let txn = crate::db::begin_write(&data.db).await?;
    if let Some(replay) = idem.replay(&txn, &audit).await? {
        return Ok(replay);
    }
    // Against the database: existing IDs and aliases, unknown services.
    let ids: Vec<String> = news.iter().map(|(_, n)| n.user_id.clone()).collect();
    let existing = queries::existing_ids(&txn, &ids).await?;
    let aliases: Vec<String> = news
        .iter()
        .filter_map(|(_, n)| n.key_alias.clone())
        .collect();
    let taken = queries::aliases_taken(&txn, &aliases).await?;
    let wanted: BTreeSet<String> = news.iter().flat_map(|(_, n)| n.services.clone()).collect();
    let unknown = unknown_services(&txn, &wanted).await?;
    for (i, n) in &news {
        if existing.contains(&n.user_id) {
            errors
                .entry(format!("users[{i}].user_id"))
                .or_default()
                .push(format!("a user `{}` already exists", n.user_id));
        }
        if let Some(owner) = n.key_alias.as_ref().and_then(|a| taken.get(a)) {
            errors
                .entry(format!("users[{i}].key_alias"))
                .or_default()
                .push(format!("already the alias of user `{owner}`"));
        }
        for s in n.services.iter().filter(|s| unknown.contains(*s)) {
            errors
                .entry(format!("users[{i}].services"))
                .or_default()
                .push(format!(
                    "unknown service `{s}`: add it first (POST /api/v1/services)"
                ));
        }
    }
    if !errors.is_empty() {
        audit.detail("invalid_items", errors.len());
    }
    check_fields(errors, "the request")?;
    let batch_id = crate::crypto::random_id();
    let news: Vec<NewUser> = news.into_iter().map(|(_, n)| n).collect();
    let created = service::create_users(&txn, &data.cipher, news, Some(&batch_id))
        .await
        .map_err(|e| match e {
            service::CreateError::UnknownService(s) => {
                AppError::validation("services", format!("unknown service `{s}`"))
            }
            service::CreateError::Db(e) => e.into(),
        })?;
    let users = outs(&txn, created).await?;
    audit.targets(users.iter().map(|u| u.user_id.clone()).collect());
    audit.detail("batch_id", batch_id.clone());
    audit.detail("created", users.len());
    audit.detail("before", Value::Null);
    audit.detail("after", users.iter().map(snapshot).collect::<Vec<_>>());
    let (res, _) = write::answer(
        &txn,
        &idem,
        StatusCode::CREATED,
        &CreateUsersResponse {
            created: users.len(),
            batch_id,
            users,
        },
    )
    .await?;
    audit.commit(txn, StatusCode::CREATED).await?;
    Ok(res)
}

/// The PATCH fields, checked (independent of the user's current state).
struct Patch {
    organisation: Option<String>,
    key_alias: Option<Option<String>>,
    models: Option<Vec<String>>,
    services: Option<Vec<String>>,
    extra: Option<String>,
    /// Which limit fields were given (applied over the user's current limits).
    limits: serde_json::Map<String, Value>,
}

fn parse_patch(obj: &serde_json::Map<String, Value>) -> Result<Patch, AppError> {
    let mut errors = FieldErrors::new();
    let mut f = Fields::new(
        obj,
        "",
        &[
            "organisation",
            "key_alias",
            "models",
            "services",
            "extra",
            "max_budget",
            "budget_duration",
            "rpm_limit",
            "tpm_limit",
            "expires_at",
            "blocked",
        ],
        &mut errors,
    );
    // Checked now against empty limits; applied over the user's own later.
    f.limits(Default::default());
    let limits: serde_json::Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| LIMIT_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let organisation = f.string("organisation", false).and_then(|s| {
        Organisation::parse(&s)
            .map(Organisation::into_inner)
            .map_err(|e| f.error("organisation", e))
            .ok()
    });
    let key_alias = if f.has("key_alias") {
        match f.string("key_alias", false) {
            None => Some(None),
            Some(a) => check_alias(&a).map_err(|e| f.error("key_alias", e)).ok(),
        }
    } else {
        None
    };
    let models = checked_models(&mut f, "models");
    let services = checked_services(&mut f, "services");
    let extra = f.string("extra", false);
    if let Some(e) = &extra
        && let Err(why) = check_text(e, EXTRA_MAX)
    {
        f.error("extra", format!("{why} (at most {EXTRA_MAX} characters)"));
    }
    if obj.is_empty() {
        f.error("body", "name at least one field to change");
    }
    check_fields(errors, "the request")?;
    Ok(Patch {
        organisation,
        key_alias,
        models,
        services,
        extra,
        limits,
    })
}

/// Attempts of a PATCH without `If-Match` that lost a race to another writer:
/// each re-reads the user and merges again, so nothing is lost.
const PATCH_ATTEMPTS: usize = 3;

/// The test of the fault suite's checker: in builds with the `dev-tools` feature,
/// `MAMA_DEV_LOSE_UPDATES=N` makes this instance answer every Nth PATCH with
/// 200 and then roll it back, so the suite can show that it catches a lost
/// update. The production build (`--no-default-features`) has no such switch.
#[cfg(feature = "dev-tools")]
fn loses_this_update() -> bool {
    use std::sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    };
    static EVERY: OnceLock<u64> = OnceLock::new();
    static SEEN: AtomicU64 = AtomicU64::new(0);
    let every = *EVERY.get_or_init(|| {
        std::env::var("MAMA_DEV_LOSE_UPDATES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    });
    every > 0 && (SEEN.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(every)
}

#[cfg(not(feature = "dev-tools"))]
fn loses_this_update() -> bool {
    false
}

/// Change the given fields of one user.
#[utoipa::path(
    patch,
    path = "/api/v1/users/{user_id}",
    tag = "users",
    params(
        ("user_id" = String, Path, description = "The external user ID"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read; a stale one answers 412 and changes nothing"),
    ),
    request_body = PatchUserRequest,
    responses(
        (status = 200, description = "The user as saved, with its new ETag", body = UserOut),
        (status = 400, description = "Malformed JSON, empty body or wrong Content-Type", body = contract::ErrorResponse),
        (status = 401, description = "Missing, invalid or revoked token", body = contract::ErrorResponse),
        (status = 403, description = "The token lacks the scope users:write", body = contract::ErrorResponse),
        (status = 404, description = "No such user", body = contract::ErrorResponse),
        (status = 409, description = "Other writers kept changing the user; retry", body = contract::ErrorResponse),
        (status = 412, description = "If-Match does not match the user's current ETag: someone changed it since you read it", body = contract::ErrorResponse),
        (status = 413, description = "The body is over 32 MiB", body = contract::ErrorResponse),
        (status = 422, description = "Every bad field, unknown services, a taken alias, unknown fields", body = contract::ErrorResponse),
    ),
    security(("bearer" = ["users:write"]), ("internal_auth" = ["users:write"]))
)]
pub async fn update(
    req: HttpRequest,
    caller: ApiCaller,
    audit: AuditCtx,
    data: web::Data<AppData>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ApiUserUpdate);
    caller.require(Scope::UsersWrite, &audit)?;
    audit.targets(vec![path.clone()]);
    let expected = if_match(&req)?;
    let (_, obj) = write::read_object(&req, payload).await?;
    let patch = parse_patch(&obj)?;
    for attempt in 1..=PATCH_ATTEMPTS {
        let txn = crate::db::begin_write(&data.db).await?;
        let u = load(&txn, &path).await?;
        let current = etag(u.id, u.version);
        if let Some(tags) = &expected
            && !tags.contains(&current)
        {
            return Ok(precondition_failed(
                &audit,
                format!(
                    "`{}` changed since you read it (now {current}); nothing was saved: read it again and redo your change",
                    u.user_id
                ),
                &current,
            ));
        }
        let before = one(&txn, u.clone()).await?;
        let edit = service::Edit {
            organisation: patch
                .organisation
                .clone()
                .unwrap_or_else(|| u.organisation.clone()),
            key_alias: patch
                .key_alias
                .clone()
                .unwrap_or_else(|| u.key_alias.clone()),
            models: patch
                .models
                .clone()
                .unwrap_or_else(|| before.models.clone()),
            services: patch
                .services
                .clone()
                .unwrap_or_else(|| before.services.clone()),
            extra: patch.extra.clone().unwrap_or_else(|| u.extra.clone()),
            limits: {
                let mut errors = FieldErrors::new();
                let mut f = write::Fields::new(&patch.limits, "", &LIMIT_FIELDS, &mut errors);
                f.limits(crate::users::limits::Limits::of(&u))
            },
            version: u.version,
        };
        match service::update_user(&txn, &u, edit, None).await {
            Ok(()) => {}
            Err(EditError::Stale) => {
                drop(txn);
                if expected.is_some() {
                    return Ok(precondition_failed(
                        &audit,
                        format!(
                            "`{}` was changed by another writer just now; nothing was saved",
                            u.user_id
                        ),
                        &current,
                    ));
                }
                audit.detail("retries", attempt);
                continue;
            }
            Err(EditError::Services(m)) => return Err(AppError::validation("services", m)),
            Err(EditError::AliasTaken) => {
                return Err(AppError::validation(
                    "key_alias",
                    "another user's key already has this alias",
                ));
            }
            Err(EditError::Db(e)) => return Err(e.into()),
        }
        let after = one(&txn, load(&txn, &path).await?).await?;
        if loses_this_update() {
            // A deliberately lost update: answered 200, rolled back.
            drop(txn);
            return Ok(with_etag(StatusCode::OK, &after));
        }
        audit.detail("before", snapshot(&before));
        audit.detail("after", snapshot(&after));
        audit.commit(txn, StatusCode::OK).await?;
        return Ok(with_etag(StatusCode::OK, &after));
    }
    Err(AppError::Conflict(format!(
        "`{}` kept changing under {PATCH_ATTEMPTS} attempts; retry",
        path.as_str()
    )))
}

/// Delete one user and (through the sync) its key in LiteLLM.
#[utoipa::path(
    delete,
    path = "/api/v1/users/{user_id}",
    tag = "users",
    params(
        ("user_id" = String, Path, description = "The external user ID"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read; a stale one answers 412 and deletes nothing"),
    ),
    responses(
        (status = 200, description = "Deleted; the key's deletion in LiteLLM is queued", body = DeletedUser),
        (status = 401, description = "Missing, invalid or revoked token", body = contract::ErrorResponse),
        (status = 403, description = "The token lacks the scope users:write", body = contract::ErrorResponse),
        (status = 404, description = "No such user", body = contract::ErrorResponse),
        (status = 412, description = "If-Match does not match the user's current ETag", body = contract::ErrorResponse),
    ),
    security(("bearer" = ["users:write"]), ("internal_auth" = ["users:write"]))
)]
pub async fn remove(
    req: HttpRequest,
    caller: ApiCaller,
    audit: AuditCtx,
    data: web::Data<AppData>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ApiUserDelete);
    caller.require(Scope::UsersWrite, &audit)?;
    audit.targets(vec![path.clone()]);
    let expected = if_match(&req)?;
    let txn = crate::db::begin_write(&data.db).await?;
    let u = load(&txn, &path).await?;
    let current = etag(u.id, u.version);
    // Locks the row at the version read (PostgreSQL), so a concurrent change
    // either lands before (and If-Match fails) or waits for the delete.
    let locked = queries::exec(
        &txn,
        "UPDATE users SET version = version + 1 WHERE id = ? AND version = ?",
        vec![u.id.into(), u.version.into()],
    )
    .await?;
    if expected.as_ref().is_some_and(|t| !t.contains(&current)) || locked == 0 {
        return Ok(precondition_failed(
            &audit,
            format!(
                "`{}` changed since you read it (now {current}); nothing was deleted",
                u.user_id
            ),
            &current,
        ));
    }
    let before = one(&txn, u.clone()).await?;
    let batch_id = crate::crypto::random_id();
    service::delete_user(&txn, &u, Some(&batch_id)).await?;
    audit.detail("batch_id", batch_id.clone());
    audit.detail("before", snapshot(&before));
    audit.detail("after", Value::Null);
    audit.commit(txn, StatusCode::OK).await?;
    Ok(HttpResponse::Ok().json(DeletedUser {
        deleted: u.user_id,
        batch_id,
    }))
}

/// Maps an API op to the UI's bulk form, so both parse values alike.
fn bulk_form(op: &str, values: &[String]) -> Result<BulkForm, AppError> {
    let op_text = match op {
        "models.replace" | "models.add" | "models.remove" | "services.replace" | "services.add"
        | "services.remove" | "delete" => op.to_string(),
        "organisation.set" => "organisation".into(),
        "rotate_key" => "rotate".into(),
        "block" | "unblock" => op.to_string(),
        o if o.split_once('.').is_some_and(|(f, how)| {
            crate::users::limits::LIMIT_FIELDS.contains(&f) && (how == "set" || how == "clear")
        }) =>
        {
            o.to_string()
        }
        _ => {
            return Err(AppError::validation(
                "op",
                "must be one of models.replace, models.add, models.remove, services.replace, \
                 services.add, services.remove, organisation.set, delete, rotate_key, \
                 max_budget.set|clear, budget_duration.set|clear, rpm_limit.set|clear, \
                 tpm_limit.set|clear, expires_at.set|clear, block, unblock",
            ));
        }
    };
    let mut form = BulkForm {
        op: op_text,
        ..Default::default()
    };
    match op.split('.').next() {
        Some("models") => form.models = values.to_vec(),
        Some("services") => form.services = values.to_vec(),
        Some("organisation") => {
            if values.len() != 1 {
                return Err(AppError::validation(
                    "values",
                    "organisation.set takes exactly one value: the organisation",
                ));
            }
            form.organisation = values[0].clone();
        }
        _ if op.ends_with(".set") => {
            if values.len() != 1 {
                return Err(AppError::validation(
                    "values",
                    format!("{op} takes exactly one value"),
                ));
            }
            form.limit_value = values[0].clone();
        }
        _ => {
            if !values.is_empty() {
                return Err(AppError::validation(
                    "values",
                    format!("{op} takes no values"),
                ));
            }
        }
    }
    Ok(form)
}

/// The selection of a bulk request: explicit IDs or a filter.
async fn selection(
    db: &impl ConnectionTrait,
    obj: &serde_json::Map<String, Value>,
) -> Result<(Selection, String, Vec<String>, bool), AppError> {
    let mut errors = FieldErrors::new();
    let mut f = Fields::new(
        obj,
        "",
        &["user_ids", "filter", "op", "values", "dry_run"],
        &mut errors,
    );
    let ids = f.strings("user_ids");
    let filter = f.object("filter");
    let op = f.string("op", true).unwrap_or_default();
    let values = f.strings("values").unwrap_or_default();
    let dry_run = f.bool("dry_run").unwrap_or(false);
    let filter = filter.map(|m| {
        let mut g = Fields::new(
            m,
            "filter",
            &["q", "organisation", "model", "service", "sync_state"],
            f.errors,
        );
        (
            g.string("q", false),
            g.string("organisation", false),
            g.string("model", false),
            g.string("service", false),
            g.string("sync_state", false),
        )
    });
    match (&ids, &filter) {
        (Some(_), Some(_)) => {
            errors.insert(
                "user_ids".into(),
                vec!["give user_ids or filter, not both".into()],
            );
        }
        (None, None) => {
            errors.insert("user_ids".into(), vec!["give user_ids or filter".into()]);
        }
        _ => {}
    }
    if let Some(ids) = &ids {
        if ids.len() > MAX_SELECTED {
            return Err(AppError::PayloadTooLarge(format!(
                "too many user IDs: {} given, at most {MAX_SELECTED}; select by filter instead",
                ids.len()
            )));
        }
        if ids.is_empty() {
            errors.insert(
                "user_ids".into(),
                vec!["must contain at least one user ID".into()],
            );
        }
        for (i, id) in ids.iter().enumerate() {
            if let Err(e) = UserId::parse(id) {
                errors
                    .entry(format!("user_ids[{i}]"))
                    .or_default()
                    .push(e.to_string());
            }
        }
    }
    check_fields(errors, "the request")?;
    let sel = if let Some(ids) = ids {
        let mut ids: Vec<String> = ids
            .iter()
            .filter_map(|s| UserId::parse(s).ok())
            .map(UserId::into_inner)
            .collect();
        ids.sort();
        ids.dedup();
        Selection::Ids(ids)
    } else {
        let (q, o, m, s, st) = filter.unwrap_or_default();
        let filter = filter_of(q, o, m, s, st, "filter.")?;
        let found = queries::filtered(db, &filter, None, Some(MAX_SELECTED as u64 + 1)).await?;
        if found.len() > MAX_SELECTED {
            return Err(AppError::validation(
                "filter",
                format!("matches more than {MAX_SELECTED} users; narrow it down"),
            ));
        }
        if found.is_empty() {
            return Err(AppError::validation("filter", "matches no user"));
        }
        Selection::Ids(found.into_iter().map(|u| u.user_id).collect())
    };
    Ok((sel, op, values, dry_run))
}

/// Change many users at once, or preview it.
#[utoipa::path(
    post,
    path = "/api/v1/users/bulk",
    tag = "users",
    request_body = BulkRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key gets the first answer and changes nothing")),
    responses(
        (status = 200, description = "What changed (or would, with dry_run): the UI's preview counts; applied in one transaction", body = BulkResponse),
        (status = 400, description = "Malformed JSON, empty body or wrong Content-Type", body = contract::ErrorResponse),
        (status = 401, description = "Missing, invalid or revoked token", body = contract::ErrorResponse),
        (status = 403, description = "The token lacks the scope users:write", body = contract::ErrorResponse),
        (status = 409, description = "A twin request with the same Idempotency-Key is being processed", body = contract::ErrorResponse),
        (status = 413, description = "More than 10,000 user IDs", body = contract::ErrorResponse),
        (status = 422, description = "Unknown op, bad values, unknown services (named), no user selected, unknown fields", body = contract::ErrorResponse),
    ),
    security(("bearer" = ["users:write"]), ("internal_auth" = ["users:write"]))
)]
pub async fn bulk_change(
    req: HttpRequest,
    caller: ApiCaller,
    audit: AuditCtx,
    data: web::Data<AppData>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ApiUsersBulk);
    caller.require(Scope::UsersWrite, &audit)?;
    let (body, obj) = write::read_object(&req, payload).await?;
    let idem = Idempotency::of(&req, caller.id, &body)?;
    let txn = crate::db::begin_write(&data.db).await?;
    if let Some(replay) = idem.replay(&txn, &audit).await? {
        return Ok(replay);
    }
    let (sel, op_name, values, dry_run) = selection(&txn, &obj).await?;
    if dry_run {
        audit.action(Action::ApiUsersBulkPreview);
    }
    let form = bulk_form(&op_name, &values)?;
    let op = match crate::users::limits::bulk_op(&form.op, &form.limit_value, chrono_tz::UTC) {
        Ok(Some(op)) => op,
        Err((_, msg)) => {
            return Err(AppError::validation(
                "values",
                msg.render(crate::i18n::Lang::En),
            ));
        }
        Ok(None) => form.op().map_err(|(field, msg)| {
            let field = if field == "op" { "op" } else { "values" };
            AppError::validation(field, msg)
        })?,
    };
    let plan = match bulk::plan(&txn, &sel, op).await {
        Ok(p) => p,
        Err(BulkError::Field(f, m)) => {
            let f = match f {
                "ids" => "user_ids",
                "services" | "models" | "organisation" => "values",
                other => other,
            };
            return Err(AppError::validation(f, m));
        }
        Err(BulkError::Db(e)) => return Err(e.into()),
    };
    let mut out = BulkResponse {
        op: op_name,
        dry_run,
        selected: plan.users.len(),
        changed: plan.changed.len(),
        unchanged: plan.unchanged(),
        not_found: plan.not_found.clone(),
        summary: plan.summary.clone(),
        changed_user_ids: plan.changed_ids(),
        batch_id: None,
    };
    audit.targets(plan.users.iter().map(|u| u.user_id.clone()).collect());
    audit.detail("plan", plan.details());
    if dry_run {
        drop(txn);
        return Ok(HttpResponse::Ok().json(out));
    }
    if !plan.changed.is_empty() {
        let batch_id = crate::crypto::random_id();
        bulk::apply(&txn, &data.cipher, &plan, &batch_id).await?;
        audit.detail("batch_id", batch_id.clone());
        out.batch_id = Some(batch_id);
    }
    audit.targets(plan.changed_ids());
    for (k, v) in plan.details().as_object().into_iter().flatten() {
        audit.detail(k, v.clone());
    }
    let (res, _) = write::answer(&txn, &idem, StatusCode::OK, &out).await?;
    audit.commit(txn, StatusCode::OK).await?;
    Ok(res)
}

/// How far the LiteLLM sync of a batch got.
#[utoipa::path(
    get,
    path = "/api/v1/batches/{batch_id}",
    tag = "users",
    params(("batch_id" = String, Path, description = "The batch_id a create, bulk change or delete returned")),
    responses(
        (status = 200, description = "Sync progress", body = BatchOut),
        (status = 401, description = "Missing, invalid or revoked token", body = contract::ErrorResponse),
        (status = 403, description = "The token lacks the scope users:write", body = contract::ErrorResponse),
        (status = 404, description = "No such batch", body = contract::ErrorResponse),
    ),
    security(("bearer" = ["users:write"]), ("internal_auth" = ["users:write"]))
)]
pub async fn batch(
    caller: ApiCaller,
    audit: AuditCtx,
    data: web::Data<AppData>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ApiBatchView);
    caller.require(Scope::UsersWrite, &audit)?;
    let id: String = path.chars().take(64).collect();
    audit.detail("batch_id", id.clone());
    let b = sync_queries::batch(&data.db, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    let failures = sync_queries::batch_failures(&data.db, &id, 100)
        .await?
        .into_iter()
        .map(|j| BatchFailure {
            user_id: j.user_ref,
            error: j.last_error,
        })
        .collect();
    let pending = b.total - b.done - b.failed;
    Ok(HttpResponse::Ok().json(BatchOut {
        batch_id: b.batch_id,
        total: b.total,
        done: b.done,
        failed: b.failed,
        pending,
        complete: pending == 0,
        failures,
    }))
}
