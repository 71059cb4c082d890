//! The JSON contract of `/api/v1`: request and response bodies, and the parsing
//! that turns every malformed body into a 4xx naming the problem.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::error::Category;
use utoipa::{IntoParams, ToSchema};

use crate::error::AppError;

/// Longest user ID a lookup accepts (longer ones cannot exist).
pub const MAX_USER_ID_CHARS: usize = 256;
/// Largest request body `POST /api/v1/keys/lookup` reads.
pub const MAX_BODY_BYTES: usize = 4 << 20;

/// `POST /api/v1/keys/lookup` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    /// External user IDs, 1 to `MAMA_API_MAX_LOOKUP_IDS` (default 1,000).
    /// Duplicates are folded; the answer keeps the order of first appearance.
    #[schema(example = json!(["alice", "bob"]))]
    pub user_ids: Vec<String>,
}

/// One user found by a lookup.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserKey {
    pub user_id: String,
    pub organisation: String,
    /// The user's LiteLLM virtual key (`sk-…`).
    pub key: String,
    pub key_alias: Option<String>,
    /// Models the key may use, sorted.
    pub models: Vec<String>,
    /// Internal services the user may use, sorted.
    pub services: Vec<String>,
    /// Free-form extra information about the user.
    pub extra: String,
    /// `synced`, `pending` or `failed`: whether LiteLLM already has this state.
    pub sync_state: String,
    pub updated_at: DateTime<Utc>,
    /// Budget in USD (LiteLLM's `max_budget`); null: none.
    #[schema(example = 50.0)]
    pub max_budget: Option<f64>,
    /// How often the budget resets: `1d`, `7d` or `30d`; null: never.
    #[schema(example = "30d")]
    pub budget_duration: Option<String>,
    /// Requests per minute; null: no limit.
    pub rpm_limit: Option<i64>,
    /// Tokens per minute; null: no limit.
    pub tpm_limit: Option<i64>,
    /// USD spent in the current budget period, as mama last read it from LiteLLM
    /// (refreshed every `MAMA_SPEND_REFRESH_SECONDS`); null: not read yet.
    #[schema(example = 12.5)]
    pub spend: Option<f64>,
    /// Blocked keys are refused by LiteLLM: a caller may refuse early.
    pub blocked: bool,
    /// When the key stops working; null: never. Past: LiteLLM refuses the key.
    pub expires_at: Option<DateTime<Utc>>,
}

/// `POST /api/v1/keys/lookup` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct LookupResponse {
    /// Found users, in request order.
    pub users: Vec<UserKey>,
    /// Requested IDs with no user, in request order.
    pub not_found: Vec<String>,
    /// Users that exist but whose stored key cannot be returned (not decryptable
    /// with the configured keys, bound to another user, or not matching its
    /// hash), in request order. The other users are answered as usual.
    pub errors: Vec<LookupError>,
}

/// One user of a lookup whose key could not be returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct LookupError {
    pub user_id: String,
    /// `UNKNOWN_KEY_ID`, `MALFORMED_CIPHERTEXT`, `DECRYPTION_FAILED` or `KEY_HASH_MISMATCH`.
    pub code: String,
    pub message: String,
}

/// One model of the catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelEntry {
    pub name: String,
    /// Whether LiteLLM offered it when the catalogue was last refreshed.
    pub available: bool,
    /// `all-team-models` and `all-proxy-models`: always available.
    pub special: bool,
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// `GET /api/v1/models` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelsResponse {
    pub models: Vec<ModelEntry>,
}

/// Who caused an audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventActor {
    /// `admin`, `api_client`, `system` or `anonymous`.
    pub kind: String,
    pub id: Option<String>,
    pub name: Option<String>,
}

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventOut {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub request_id: String,
    pub actor: EventActor,
    pub action: String,
    /// `success`, `denied`, `invalid` or `error`.
    pub outcome: String,
    pub http_status: Option<i32>,
    pub duration_us: i64,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    /// The external user IDs the event read or wrote.
    pub targets: Vec<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// `GET /api/v1/audit/events` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventsResponse {
    /// Newest first.
    pub events: Vec<AuditEventOut>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<i64>,
}

/// `GET /api/v1/audit/events` filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Events at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Events before this time (RFC 3339).
    pub until: Option<String>,
    /// Actor name (admin username, API client name, system actor).
    pub actor: Option<String>,
    /// Action text, e.g. `api.keys.lookup`; repeat or comma-separate for several.
    #[serde(default)]
    pub action: Vec<String>,
    /// An external user ID among the event's targets.
    pub user_id: Option<String>,
    /// `success`, `denied`, `invalid` or `error`.
    pub outcome: Option<String>,
    pub request_id: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<i64>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<u64>,
}

/// The error body of every `/api/` failure.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `INVALID_REQUEST`, `UNAUTHORIZED`, `FORBIDDEN`, `NOT_FOUND`,
    /// `VALIDATION_ERROR`, `RATE_LIMIT_EXCEEDED`, `INTERNAL_ERROR`, `SERVICE_UNAVAILABLE`.
    pub code: String,
    pub message: String,
    /// For `VALIDATION_ERROR`: `{"fields": {"user_ids": ["…"]}}`.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// Also in the `X-Request-Id` header.
    pub request_id: String,
}

/// Error text bounded in size: serde echoes hostile input (a 3 MB string …).
fn short(msg: impl std::fmt::Display) -> String {
    let s = msg.to_string();
    if s.chars().count() <= 300 {
        return s;
    }
    let mut out: String = s.chars().take(300).collect();
    out.push('…');
    out
}

/// `Content-Type` must be JSON (parameters such as `charset` allowed).
pub fn check_json_content_type(value: Option<&str>) -> Result<(), AppError> {
    let essence = value
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match essence.as_deref() {
        Some("application/json") => Ok(()),
        Some(other) => Err(AppError::BadRequest(format!(
            "Content-Type must be application/json, not {}",
            short(other)
        ))),
        None => Err(AppError::BadRequest(
            "Content-Type must be application/json (the header is missing)".into(),
        )),
    }
}

/// Parses and validates a lookup body into the distinct IDs, in request order.
pub fn parse_lookup(body: &[u8], max_ids: usize) -> Result<Vec<String>, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::BadRequest(
            "the request body is empty; send {\"user_ids\": [...]}".into(),
        ));
    }
    let req: LookupRequest = serde_json::from_slice(body).map_err(|e| match e.classify() {
        Category::Data => {
            let field = if e.to_string().contains("field") {
                "body"
            } else {
                "user_ids"
            };
            AppError::validation(field, short(&e))
        }
        _ => AppError::BadRequest(format!("malformed JSON: {}", short(&e))),
    })?;
    let n = req.user_ids.len();
    if n == 0 {
        return Err(AppError::validation(
            "user_ids",
            "must contain at least one user ID",
        ));
    }
    if n > max_ids {
        return Err(AppError::PayloadTooLarge(format!(
            "too many user IDs: {n} given, at most {max_ids} per request"
        )));
    }
    let mut seen = std::collections::HashSet::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    for (i, id) in req.user_ids.into_iter().enumerate() {
        if id.trim().is_empty() {
            return Err(AppError::validation(&format!("user_ids[{i}]"), "is empty"));
        }
        if id.chars().any(char::is_control) {
            return Err(AppError::validation(
                &format!("user_ids[{i}]"),
                "contains a control character",
            ));
        }
        if crate::users::forms::UserId::is_reserved(&id) {
            return Err(AppError::validation(
                &format!("user_ids[{i}]"),
                "must not be \".\" or \"..\"",
            ));
        }
        if id.chars().count() > MAX_USER_ID_CHARS {
            return Err(AppError::validation(
                &format!("user_ids[{i}]"),
                format!("is longer than {MAX_USER_ID_CHARS} characters"),
            ));
        }
        if seen.insert(id.clone()) {
            ids.push(id);
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_their_order_and_duplicates_fold() {
        let ids = parse_lookup(br#"{"user_ids": ["b", "a", "b", "c", "a"]}"#, 10).unwrap();
        assert_eq!(ids, ["b", "a", "c"]);
    }

    #[test]
    fn bad_bodies_are_named_4xx_errors() {
        use actix_web::ResponseError;
        for (body, status) in [
            (&b""[..], 400),
            (b"{", 400),
            (b"[]", 422),
            (b"{\"user_ids\": []}", 422),
            (b"{\"user_ids\": [1]}", 422),
            (b"{\"user_ids\": [null]}", 422),
            (b"{\"user_ids\": \"a\"}", 422),
            (b"{\"user_ids\": [\"a\"], \"x\": 1}", 422),
            (b"{\"user_ids\": [\"\"]}", 422),
            (b"{\"user_ids\": [\"a\",\"b\",\"c\"]}", 413),
            (b"{\"user_ids\": [\"\xff\"]}", 400),
        ] {
            let e = parse_lookup(body, 2).unwrap_err();
            assert_eq!(
                e.status_code().as_u16(),
                status,
                "{}: {e}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(check_json_content_type(Some("application/json; charset=utf-8")).is_ok());
        assert!(check_json_content_type(Some("text/plain")).is_err());
        assert!(check_json_content_type(None).is_err());
    }
}
