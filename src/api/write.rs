//! What every write route of `/api/v1` shares: reading a bounded JSON body,
//! checking a JSON object's fields one by one (so a 422 names every bad field,
//! not only serde's first), `Idempotency-Key` (the first answer is stored in the
//! write's own transaction and replayed to any retry, on any instance), and
//! version `ETag`s with `If-Match`.
use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use chrono::Utc;
use sea_orm::{ConnectionTrait, FromQueryResult};
use serde_json::{Map, Value};

use super::contract;
use crate::{
    audit::{AuditCtx, Outcome},
    crypto::sha256_hex,
    db::stmt,
    error::{AppError, ErrorBody, FieldErrors},
};

/// Largest body a write route reads: 10,000 users with long extra text fit;
/// anything larger is refused with 413 before it is parsed.
pub const MAX_WRITE_BODY_BYTES: usize = 32 << 20;

/// Longest `Idempotency-Key`.
pub const IDEMPOTENCY_KEY_MAX: usize = 255;

/// The header a retry repeats.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Reads a JSON body of at most `MAX_WRITE_BODY_BYTES` into a JSON object.
pub async fn read_object(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(Vec<u8>, Map<String, Value>), AppError> {
    contract::check_json_content_type(
        req.headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    )?;
    let body = payload
        .to_bytes_limited(MAX_WRITE_BODY_BYTES)
        .await
        .map_err(|_| {
            AppError::PayloadTooLarge(format!(
                "the request body is larger than {MAX_WRITE_BODY_BYTES} bytes"
            ))
        })?
        .map_err(|e| AppError::BadRequest(format!("the request body could not be read: {e}")))?
        .to_vec();
    let obj = parse_object(&body)?;
    Ok((body, obj))
}

/// A body as a JSON object, or a 400/422 saying why not.
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::BadRequest(
            "the request body is empty; send a JSON object".into(),
        ));
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        let msg: String = e.to_string().chars().take(300).collect();
        AppError::BadRequest(format!("malformed JSON: {msg}"))
    })?;
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(AppError::validation("body", "must be a JSON object")),
    }
}

/// Field-by-field reading of one JSON object; problems are collected under
/// `prefix.field` (e.g. `users[3].services`).
pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    prefix: String,
    pub errors: &'a mut FieldErrors,
}

fn shorten(s: &str) -> String {
    s.chars().take(64).collect()
}

impl<'a> Fields<'a> {
    /// Checks that `obj` has only `allowed` keys.
    pub fn new(
        obj: &'a Map<String, Value>,
        prefix: &str,
        allowed: &[&str],
        errors: &'a mut FieldErrors,
    ) -> Fields<'a> {
        let f = Fields {
            obj,
            prefix: prefix.to_string(),
            errors,
        };
        for k in obj.keys() {
            if !allowed.contains(&k.as_str()) {
                let at = f.at(&shorten(k));
                f.errors
                    .entry(at)
                    .or_default()
                    .push(format!("unknown field (allowed: {})", allowed.join(", ")));
            }
        }
        f
    }

    /// `prefix.field`, or `field` without a prefix.
    pub fn at(&self, field: &str) -> String {
        if self.prefix.is_empty() {
            field.to_string()
        } else {
            format!("{}.{field}", self.prefix)
        }
    }

    /// Records `msg` for `field` (a [`crate::i18n::Msg`] shows in English).
    pub fn error(&mut self, field: &str, msg: impl std::fmt::Display) {
        let at = self.at(field);
        self.errors.entry(at).or_default().push(msg.to_string());
    }

    pub fn has(&self, field: &str) -> bool {
        self.obj.contains_key(field)
    }

    /// A string field; `None` when absent (or null, when `null_ok`).
    pub fn string(&mut self, field: &str, required: bool) -> Option<String> {
        match self.obj.get(field) {
            None | Some(Value::Null) => {
                if required {
                    self.error(field, "is required");
                }
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.error(field, "must be a string");
                None
            }
        }
    }

    /// A list of strings; `None` when absent.
    pub fn strings(&mut self, field: &str) -> Option<Vec<String>> {
        match self.obj.get(field) {
            None => None,
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, v) in items.iter().enumerate() {
                    match v {
                        Value::String(s) => out.push(s.clone()),
                        _ => self.error(&format!("{field}[{i}]"), "must be a string"),
                    }
                }
                Some(out)
            }
            Some(_) => {
                self.error(field, "must be a list of strings");
                None
            }
        }
    }

    pub fn bool(&mut self, field: &str) -> Option<bool> {
        match self.obj.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.error(field, "must be true or false");
                None
            }
        }
    }

    /// The limit fields (LiteLLM's names) over `base`: an absent field keeps
    /// `base`'s value, `null` clears it. `expires_at` is RFC 3339 (or a date:
    /// the end of that day, UTC).
    pub fn limits(&mut self, base: crate::users::limits::Limits) -> crate::users::limits::Limits {
        use crate::users::limits::{self, Limits};
        let mut l: Limits = base;
        let en = |field: &str, m: crate::i18n::Msg| m.field(field).render(crate::i18n::Lang::En);
        match self.obj.get("max_budget") {
            None => {}
            Some(Value::Null) => l.max_budget = None,
            Some(Value::Number(n)) => l.max_budget = n.as_f64(),
            Some(_) => self.error("max_budget", "must be a number (USD) or null"),
        }
        match self.obj.get("budget_duration") {
            None => {}
            Some(Value::Null) => l.budget_duration = None,
            Some(Value::String(s)) => match limits::parse_duration(s) {
                Ok(d) => l.budget_duration = d,
                Err(m) => self.error("budget_duration", en("budget_duration", m)),
            },
            Some(_) => self.error("budget_duration", "must be \"1d\", \"7d\", \"30d\" or null"),
        }
        for (field, slot) in [
            ("rpm_limit", &mut l.rpm_limit),
            ("tpm_limit", &mut l.tpm_limit),
        ] {
            match self.obj.get(field) {
                None => {}
                Some(Value::Null) => *slot = None,
                Some(Value::Number(n)) if n.as_i64().is_some() => *slot = n.as_i64(),
                Some(_) => {
                    let at = self.at(field);
                    self.errors
                        .entry(at)
                        .or_default()
                        .push("must be a whole number or null".into());
                }
            }
        }
        match self.obj.get("expires_at") {
            None => {}
            Some(Value::Null) => l.expires_at = None,
            Some(Value::String(s)) => match limits::parse_expiry(s, chrono_tz::UTC) {
                Ok(t) => l.expires_at = t,
                Err(m) => self.error("expires_at", en("expires_at", m)),
            },
            Some(_) => self.error("expires_at", "must be an RFC 3339 time or null"),
        }
        if let Some(b) = self.bool("blocked") {
            l.blocked = b;
        }
        for (field, m) in l.check() {
            let at = self.at(field);
            if !self.errors.contains_key(&at) {
                self.error(field, en(field, m));
            }
        }
        l
    }

    pub fn object(&mut self, field: &str) -> Option<&'a Map<String, Value>> {
        match self.obj.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m),
            Some(_) => {
                self.error(field, "must be an object");
                None
            }
        }
    }

    pub fn array(&mut self, field: &str) -> Option<&'a Vec<Value>> {
        match self.obj.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(a),
            Some(_) => {
                self.error(field, "must be a list");
                None
            }
        }
    }
}

/// A 422 listing every bad field, or `Ok` when there is none.
pub fn check_fields(errors: FieldErrors, what: &str) -> Result<(), AppError> {
    if errors.is_empty() {
        return Ok(());
    }
    let n = errors.len();
    let first: Vec<String> = errors
        .iter()
        .take(3)
        .map(|(f, m)| format!("{f}: {}", m.join("; ")))
        .collect();
    Err(AppError::Validation {
        message: format!(
            "{n} problem{} in {what}; nothing was changed: {}{}",
            if n == 1 { "" } else { "s" },
            first.join(" | "),
            if n > 3 { " | …" } else { "" }
        ),
        fields: errors,
    })
}

/// A user's version as an `ETag`: `"<internal id>.<version>"`, so a user deleted
/// and created again under the same ID never matches an old tag.
pub fn etag(id: i32, version: i32) -> String {
    format!("\"{id}.{version}\"")
}

/// The `If-Match` header, if any (`*` matches anything, so it is treated as absent).
pub fn if_match(req: &HttpRequest) -> Result<Option<Vec<String>>, AppError> {
    let Some(v) = req.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| AppError::BadRequest("the If-Match header is not valid".into()))?
        .trim();
    if v == "*" {
        return Ok(None);
    }
    Ok(Some(
        v.split(',')
            .map(|t| t.trim().trim_start_matches("W/").to_string())
            .filter(|t| !t.is_empty())
            .collect(),
    ))
}

/// 412 Precondition Failed as an API error (the audit middleware renders it).
pub fn precondition_failed(audit: &AuditCtx, message: String, current: &str) -> HttpResponse {
    audit.outcome(Outcome::Invalid);
    audit.detail("conflict", message.clone());
    let mut res = HttpResponse::build(StatusCode::PRECONDITION_FAILED)
        .insert_header((header::ETAG, current.to_string()))
        .finish();
    res.extensions_mut().insert(ErrorBody {
        code: "CONFLICT",
        message,
        details: serde_json::json!({ "current_etag": current }),
        outcome: Outcome::Invalid,
    });
    res
}

/// The `Idempotency-Key` of a POST and the request it came with.
pub struct Idempotency {
    client_id: i32,
    key: Option<String>,
    request_sha256: String,
}

#[derive(FromQueryResult)]
struct Stored {
    request_sha256: String,
    status: i32,
    body: String,
}

impl Idempotency {
    /// Reads the header (1–255 visible ASCII characters) and fingerprints the request.
    pub fn of(req: &HttpRequest, client_id: i32, body: &[u8]) -> Result<Idempotency, AppError> {
        let key = match req.headers().get(IDEMPOTENCY_KEY) {
            None => None,
            Some(v) => {
                let k = v.to_str().unwrap_or("").trim();
                if k.is_empty()
                    || k.len() > IDEMPOTENCY_KEY_MAX
                    || !k.chars().all(|c| c.is_ascii_graphic())
                {
                    return Err(AppError::validation(
                        "Idempotency-Key",
                        format!("must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters"),
                    ));
                }
                Some(k.to_string())
            }
        };
        let mut fp = format!("{} {}\n", req.method(), req.path());
        fp.push_str(&String::from_utf8_lossy(body));
        Ok(Idempotency {
            client_id,
            key,
            request_sha256: sha256_hex(&fp),
        })
    }

    /// The stored answer to an earlier request with this key, to send again; a key
    /// reused for a different request is a 422. Run it inside the write's
    /// transaction (on SQLite that transaction already holds the write lock).
    pub async fn replay(
        &self,
        conn: &impl ConnectionTrait,
        audit: &AuditCtx,
    ) -> Result<Option<HttpResponse>, AppError> {
        let Some(key) = &self.key else {
            return Ok(None);
        };
        audit.detail("idempotency_key_sha256", sha256_hex(key));
        let found = Stored::find_by_statement(stmt(
            conn.get_database_backend(),
            "SELECT request_sha256, status, body FROM idempotency_keys \
             WHERE client_id = ? AND idem_key = ?",
            vec![self.client_id.into(), key.clone().into()],
        ))
        .one(conn)
        .await?;
        let Some(found) = found else {
            return Ok(None);
        };
        if found.request_sha256 != self.request_sha256 {
            return Err(AppError::validation(
                "Idempotency-Key",
                "was already used for a different request; use a new key for a new request",
            ));
        }
        audit.detail("idempotent_replay", true);
        let status = StatusCode::from_u16(found.status as u16).unwrap_or(StatusCode::OK);
        Ok(Some(
            HttpResponse::build(status)
                .content_type("application/json")
                .insert_header(("idempotent-replayed", "true"))
                .body(found.body),
        ))
    }

    /// Stores the answer in `conn` (the write's transaction): it commits with the
    /// write or not at all. A concurrent twin that committed first makes this fail
    /// on the unique index, and the caller's transaction rolls back: 409.
    pub async fn remember(
        &self,
        conn: &impl ConnectionTrait,
        status: StatusCode,
        body: &str,
    ) -> Result<(), AppError> {
        let Some(key) = &self.key else {
            return Ok(());
        };
        conn.execute_raw(stmt(
            conn.get_database_backend(),
            "INSERT INTO idempotency_keys (client_id, idem_key, request_sha256, status, body, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
            vec![
                self.client_id.into(),
                key.clone().into(),
                self.request_sha256.clone().into(),
                i32::from(status.as_u16()).into(),
                body.to_string().into(),
                Utc::now().into(),
            ],
        ))
        .await
        .map_err(|e| {
            let text = e.to_string().to_lowercase();
            if text.contains("unique") || text.contains("duplicate") {
                AppError::Conflict(
                    "another request with this Idempotency-Key is being processed; retry it".into(),
                )
            } else {
                AppError::from(e)
            }
        })?;
        Ok(())
    }
}

/// Deletes stored answers older than `ttl` (a retry after that is a new request).
/// Safe on several instances: a plain delete.
pub async fn purge_idempotency(
    conn: &impl ConnectionTrait,
    ttl: std::time::Duration,
) -> Result<u64, sea_orm::DbErr> {
    let cutoff = Utc::now() - chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(1));
    crate::db::exec(
        conn,
        "DELETE FROM idempotency_keys WHERE created_at < ?",
        vec![cutoff.into()],
    )
    .await
}

/// A JSON answer with its status, stored for retries under the idempotency key.
pub async fn answer(
    conn: &impl ConnectionTrait,
    idem: &Idempotency,
    status: StatusCode,
    body: &impl serde::Serialize,
) -> Result<(HttpResponse, String), AppError> {
    let text = serde_json::to_string(body).map_err(|e| AppError::Internal(e.into()))?;
    idem.remember(conn, status, &text).await?;
    Ok((
        HttpResponse::build(status)
            .content_type("application/json")
            .body(text.clone()),
        text,
    ))
}
