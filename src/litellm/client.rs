//! The typed LiteLLM client. Every call is one audit event (actor `system`,
//! action `litellm.*`, method, path without query, status, duration, the user and
//! alias concerned, LiteLLM's error message). Keys travel only in request bodies;
//! URLs carry hashes; no key or master key is ever logged or audited.
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use sea_orm::DatabaseConnection;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::{
    audit::{self, Action, Event, Outcome},
    config::LiteLlmSettings,
};

/// The audit actor name of every call mama makes to LiteLLM.
pub const ACTOR: &str = "litellm-sync";

/// Why a call failed, in words an admin can act on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LlmError {
    /// No answer: connection refused, timeout, TLS …
    #[error("LiteLLM unreachable: {0}")]
    Transport(String),
    /// LiteLLM answered with an error body.
    #[error("LiteLLM {status}: {message}")]
    Api {
        status: u16,
        message: String,
        kind: Option<String>,
        code: Option<String>,
        param: Option<String>,
    },
    /// LiteLLM answered something mama cannot read.
    #[error("LiteLLM {status}: unreadable answer ({detail})")]
    Malformed { status: u16, detail: String },
}

impl LlmError {
    pub fn status(&self) -> Option<u16> {
        match self {
            LlmError::Transport(_) => None,
            LlmError::Api { status, .. } | LlmError::Malformed { status, .. } => Some(*status),
        }
    }
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
    /// Worth retrying: no answer, 408/429, 5xx, or an unreadable body. Other 4xx
    /// (a taken alias, a bad request) will not fix themselves.
    pub fn is_retryable(&self) -> bool {
        match self {
            LlmError::Transport(_) | LlmError::Malformed { .. } => true,
            LlmError::Api { status, .. } => *status == 408 || *status == 429 || *status >= 500,
        }
    }
}

/// Parses LiteLLM's error body defensively: `{"error":{"message","type","param","code"}}`
/// where `code` is a string (or a number) and `message` a string, a dict or its
/// string form; FastAPI's `{"detail": …}`; or anything else (shown truncated).
pub fn parse_error(status: u16, body: &str) -> LlmError {
    let as_text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    };
    match serde_json::from_str::<Value>(body) {
        Ok(v) => {
            if let Some(err) = v.get("error").filter(|e| e.is_object()) {
                let message = err
                    .get("message")
                    .and_then(as_text)
                    .unwrap_or_else(|| err.to_string());
                return LlmError::Api {
                    status,
                    message: redact(&message),
                    kind: err.get("type").and_then(as_text),
                    code: err.get("code").and_then(as_text),
                    param: err.get("param").and_then(as_text),
                };
            }
            let message = v
                .get("detail")
                .or_else(|| v.get("error"))
                .or_else(|| v.get("message"))
                .and_then(as_text)
                .unwrap_or_else(|| truncate(&v.to_string(), 300));
            LlmError::Api {
                status,
                message: redact(&message),
                kind: None,
                code: None,
                param: None,
            }
        }
        Err(_) if body.trim().is_empty() => LlmError::Api {
            status,
            message: format!("HTTP {status} with an empty body"),
            kind: None,
            code: None,
            param: None,
        },
        Err(_) => LlmError::Malformed {
            status,
            detail: redact(&truncate(body.trim(), 200)),
        },
    }
}

/// `s` cut to `max` bytes, with an ellipsis when something was cut.
fn truncate(s: &str, max: usize) -> String {
    let kept = crate::text::clip(s, max);
    if kept.len() == s.len() {
        s.to_string()
    } else {
        format!("{kept}…")
    }
}

/// Masks anything that looks like a key (`sk-` followed by key characters), so an
/// error message that echoes a key never reaches a log line or the audit trail.
pub fn redact(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("sk-") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 3..];
        let n = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(after.len());
        out.push_str(if n == 0 { "sk-" } else { "sk-[redacted]" });
        rest = &after[n..];
    }
    out.push_str(rest);
    out
}

/// What a key should look like in LiteLLM (mama's desired state).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeySpec {
    pub key_alias: Option<String>,
    pub models: Vec<String>,
    pub user_id: String,
    pub metadata: Value,
    /// USD (LiteLLM's `max_budget`); `None` clears it.
    pub max_budget: Option<f64>,
    /// `1d`, `7d`, `30d`.
    pub budget_duration: Option<String>,
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    /// Sent as `duration` (seconds from the moment of the call): LiteLLM takes
    /// no absolute expiry.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub blocked: bool,
}

impl KeySpec {
    /// Everything mama owns of the key, as `/key/generate` and `/key/update` take
    /// it: `/key/update` replaces what it is given, so all of it, every time
    /// (an explicit null clears a budget, a rate limit or the expiry).
    pub fn body(&self, key: &str) -> Value {
        let now = chrono::Utc::now();
        serde_json::json!({
            "key": key,
            "key_alias": self.key_alias,
            "models": self.models,
            "user_id": self.user_id,
            "metadata": self.metadata,
            "max_budget": self.max_budget,
            "budget_duration": self.budget_duration,
            "rpm_limit": self.rpm_limit,
            "tpm_limit": self.tpm_limit,
            "duration": self.expires_at.map(|t| format!("{}s", (t - now).num_seconds().max(0))),
            "blocked": self.blocked,
        })
    }
}

/// A key as LiteLLM reports it (from /key/info or /key/list).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct KeyRow {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub key_alias: Option<String>,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub metadata: Value,
    #[serde(default)]
    pub spend: Option<f64>,
    #[serde(default)]
    pub max_budget: Option<f64>,
    #[serde(default)]
    pub budget_duration: Option<String>,
    #[serde(default)]
    pub rpm_limit: Option<i64>,
    #[serde(default)]
    pub tpm_limit: Option<i64>,
    /// LiteLLM's expiry (it calls it `expires`).
    #[serde(default)]
    pub expires: Option<String>,
    #[serde(default)]
    pub blocked: Option<bool>,
    #[serde(default)]
    pub last_active: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// LiteLLM's timestamps come with or without an offset (`…Z`, `…+00:00`, or naive UTC).
pub fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

#[derive(Deserialize)]
struct InfoBody {
    info: KeyRow,
}

#[derive(Deserialize)]
struct ListBody {
    #[serde(default)]
    keys: Vec<Value>,
    #[serde(default)]
    total_pages: Option<u64>,
}

#[derive(Deserialize)]
struct ModelsBody {
    data: Vec<ModelEntry>,
}
#[derive(Deserialize)]
struct ModelEntry {
    id: String,
}

/// Who a call is about, for its audit event.
#[derive(Debug, Clone, Default)]
pub struct CallCtx {
    pub user_ref: Option<String>,
    pub alias: Option<String>,
    pub job_id: Option<i64>,
    /// The sync worker making the call (one per instance): two instances never
    /// run one job at once, and the trail can show it.
    pub worker: Option<String>,
}

impl CallCtx {
    pub fn user(user_ref: &str, alias: Option<&str>, job_id: Option<i64>) -> Self {
        CallCtx {
            user_ref: Some(user_ref.to_string()),
            alias: alias.map(str::to_string),
            job_id,
            worker: None,
        }
    }
}

/// The client, shared as app data. Cheap to clone.
#[derive(Clone)]
pub struct LiteLlm {
    http: reqwest::Client,
    base: String,
    master_key: SecretString,
    db: DatabaseConnection,
    /// What the last stored catalogue fetch saw, and how many identical fetches
    /// followed it (they are counted, not stored; see [`LiteLlm::models`]).
    catalogue_seen: std::sync::Arc<std::sync::Mutex<(String, u64)>>,
}

impl LiteLlm {
    pub fn new(settings: &LiteLlmSettings, db: DatabaseConnection) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .pool_max_idle_per_host(64)
            .build()?;
        Ok(LiteLlm {
            http,
            base: settings.base_url.clone(),
            master_key: settings.master_key.clone(),
            db,
            catalogue_seen: Default::default(),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// One call: send, read, audit, parse.
    async fn call<T: DeserializeOwned>(
        &self,
        action: Action,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        ctx: &CallCtx,
    ) -> Result<T, LlmError> {
        let (result, ev) = self
            .call_unrecorded(action, method, path, query, body, ctx)
            .await;
        self.record(&ev).await;
        result
    }

    async fn record(&self, ev: &Event) {
        if let Err(e) = audit::insert(&self.db, ev).await {
            // The call already happened; losing its record must be loud.
            tracing::error!(error = %e, action = ev.action.as_str(), "could not store the audit event of a LiteLLM call");
        }
    }

    /// Makes the call; the caller stores the returned event.
    async fn call_unrecorded<T: DeserializeOwned>(
        &self,
        action: Action,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        ctx: &CallCtx,
    ) -> (Result<T, LlmError>, Event) {
        let started = Instant::now();
        let mut req = self
            .http
            .request(method.clone(), format!("{}{}", self.base, path))
            .bearer_auth(self.master_key.expose_secret());
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let result: Result<(u16, T), LlmError> = async {
            let res = req
                .send()
                .await
                .map_err(|e| LlmError::Transport(describe(&e)))?;
            let status = res.status();
            let text = res
                .text()
                .await
                .map_err(|e| LlmError::Transport(describe(&e)))?;
            if status != StatusCode::OK && !status.is_success() {
                return Err(parse_error(status.as_u16(), &text));
            }
            serde_json::from_str::<T>(&text)
                .map(|v| (status.as_u16(), v))
                .map_err(|e| LlmError::Malformed {
                    status: status.as_u16(),
                    detail: redact(&truncate(&e.to_string(), 200)),
                })
        }
        .await;
        let elapsed = started.elapsed();
        let (status, outcome, error) = match &result {
            Ok((s, _)) => (Some(*s), Outcome::Success, None),
            Err(e) => (e.status(), Outcome::Error, Some(e.to_string())),
        };
        let mut ev = Event::system(ACTOR, action, outcome);
        ev.http_status = status;
        ev.duration_us = elapsed.as_micros() as i64;
        ev.method = Some(method.to_string());
        ev.path = Some(path.to_string());
        ev.targets = ctx.user_ref.iter().cloned().collect();
        let mut d = serde_json::Map::new();
        d.insert("base_url".into(), self.base.clone().into());
        if let Some(a) = &ctx.alias {
            d.insert("key_alias".into(), a.clone().into());
        }
        if let Some(w) = &ctx.worker {
            d.insert("worker".into(), w.clone().into());
        }
        if let Some(j) = ctx.job_id {
            d.insert("job_id".into(), j.into());
        }
        if let Some(e) = &error {
            d.insert("error".into(), e.clone().into());
        }
        ev.details = Value::Object(d);
        tracing::debug!(action = action.as_str(), path, status = ?status, ms = elapsed.as_millis() as u64, "litellm call");
        (result.map(|(_, v)| v), ev)
    }

    /// POST /key/generate with mama's key value and the full spec.
    pub async fn generate(
        &self,
        key: &SecretString,
        spec: &KeySpec,
        ctx: &CallCtx,
    ) -> Result<(), LlmError> {
        let body = spec.body(key.expose_secret());
        self.call::<Value>(
            Action::LitellmKeyGenerate,
            Method::POST,
            "/key/generate",
            &[],
            Some(&body),
            ctx,
        )
        .await
        .map(|_| ())
    }

    /// POST /key/update: replaces models, alias (null clears it), metadata, user_id.
    /// `key` may be the raw key or its SHA-256 hex; mama sends the hash.
    pub async fn update(
        &self,
        key_sha256: &str,
        spec: &KeySpec,
        ctx: &CallCtx,
    ) -> Result<(), LlmError> {
        let body = spec.body(key_sha256);
        self.call::<Value>(
            Action::LitellmKeyUpdate,
            Method::POST,
            "/key/update",
            &[],
            Some(&body),
            ctx,
        )
        .await
        .map(|_| ())
    }

    /// POST /key/block or /key/unblock (by hash): LiteLLM's own lifecycle
    /// endpoints, which also drop the proxy's cached key object.
    pub async fn set_blocked(
        &self,
        key_sha256: &str,
        blocked: bool,
        ctx: &CallCtx,
    ) -> Result<(), LlmError> {
        let (action, path) = if blocked {
            (Action::LitellmKeyBlock, "/key/block")
        } else {
            (Action::LitellmKeyUnblock, "/key/unblock")
        };
        let body = serde_json::json!({ "key": key_sha256 });
        self.call::<Value>(action, Method::POST, path, &[], Some(&body), ctx)
            .await
            .map(|_| ())
    }

    /// One page of `/key/list` (full rows, `size` ≤ 100), newest `updated_at`
    /// first: LiteLLM writes spend through the same row, so keys that spent
    /// since the last refresh come first. Returns the rows and whether more
    /// pages follow. Recorded like every call (actor `litellm-sync`).
    pub async fn list_page_by_update(
        &self,
        page: u64,
        size: u64,
    ) -> Result<(Vec<KeyRow>, bool), LlmError> {
        let body: ListBody = self
            .call(
                Action::LitellmKeyList,
                Method::GET,
                "/key/list",
                &[
                    ("return_full_object", "true".into()),
                    ("size", size.to_string()),
                    ("page", page.to_string()),
                    ("sort_by", "updated_at".into()),
                    ("sort_order", "desc".into()),
                ],
                None,
                &CallCtx::default(),
            )
            .await?;
        let n = body.keys.len();
        let mut out = Vec::with_capacity(n);
        for k in body.keys {
            if let Value::Object(_) = k {
                out.push(serde_json::from_value(k).map_err(|e| LlmError::Malformed {
                    status: 200,
                    detail: truncate(&e.to_string(), 200),
                })?);
            }
        }
        let more = n > 0 && body.total_pages.is_some_and(|t| page < t);
        Ok((out, more))
    }

    /// POST /key/delete for these hashes. "No keys found" (404) counts as done.
    pub async fn delete(&self, key_sha256s: &[String], ctx: &CallCtx) -> Result<(), LlmError> {
        let body = serde_json::json!({ "keys": key_sha256s });
        match self
            .call::<Value>(
                Action::LitellmKeyDelete,
                Method::POST,
                "/key/delete",
                &[],
                Some(&body),
                ctx,
            )
            .await
        {
            Err(e) if e.is_not_found() => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// GET /key/info by hash; `None` when LiteLLM does not know the key.
    pub async fn info(&self, key_sha256: &str, ctx: &CallCtx) -> Result<Option<KeyRow>, LlmError> {
        match self
            .call::<InfoBody>(
                Action::LitellmKeyInfo,
                Method::GET,
                "/key/info",
                &[("key", key_sha256.to_string())],
                None,
                ctx,
            )
            .await
        {
            Ok(b) => Ok(Some(b.info)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every key LiteLLM holds (full rows, 100 per page).
    pub async fn list_all(&self) -> Result<Vec<KeyRow>, LlmError> {
        let mut out = vec![];
        let mut page = 1u64;
        loop {
            let body: ListBody = self
                .call(
                    Action::LitellmKeyList,
                    Method::GET,
                    "/key/list",
                    &[
                        ("return_full_object", "true".into()),
                        ("size", "100".into()),
                        ("page", page.to_string()),
                    ],
                    None,
                    &CallCtx::default(),
                )
                .await?;
            let n = body.keys.len();
            for k in body.keys {
                // Rows only; a bare hash (old proxies) becomes a row with just the token.
                match k {
                    Value::String(h) => out.push(KeyRow {
                        token: Some(h),
                        ..Default::default()
                    }),
                    v => out.push(serde_json::from_value(v).map_err(|e| LlmError::Malformed {
                        status: 200,
                        detail: truncate(&e.to_string(), 200),
                    })?),
                }
            }
            let last = body.total_pages.is_none_or(|t| page >= t) || n == 0;
            if last {
                return Ok(out);
            }
            page += 1;
        }
    }

    /// GET /v1/models: the model group names LiteLLM offers.
    ///
    /// The periodic refresh asks every few minutes and nearly always hears the same
    /// list: a fetch whose answer (models, or error) equals the last stored one is
    /// counted, not stored; the next different answer is stored with
    /// `unchanged_fetches`, so the trail holds one event per change.
    pub async fn models(&self) -> Result<Vec<String>, LlmError> {
        let (result, mut ev) = self
            .call_unrecorded::<ModelsBody>(
                Action::LitellmModelsList,
                Method::GET,
                "/v1/models",
                &[],
                None,
                &CallCtx::default(),
            )
            .await;
        let result = result.map(|b| {
            let mut names: Vec<String> = b.data.into_iter().map(|m| m.id).collect();
            names.sort();
            names
        });
        let fingerprint = match &result {
            Ok(names) => format!("ok:{}", names.join("\n")),
            Err(e) => format!("error:{e}"),
        };
        let skipped = {
            let mut seen = self
                .catalogue_seen
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if !seen.0.is_empty() && seen.0 == fingerprint {
                seen.1 += 1;
                None
            } else {
                let skipped = seen.1;
                *seen = (fingerprint, 0);
                Some(skipped)
            }
        };
        if let Some(skipped) = skipped {
            if let (Value::Object(d), Ok(names)) = (&mut ev.details, &result) {
                d.insert("models".into(), names.len().into());
            }
            if let (Value::Object(d), true) = (&mut ev.details, skipped > 0) {
                d.insert("unchanged_fetches".into(), skipped.into());
            }
            self.record(&ev).await;
        }
        result
    }
}

/// A transport error in words, without the URL's query (never secret, but long).
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_decode() || e.is_body() {
        "the answer could not be read"
    } else {
        "request failed"
    };
    let mut src = std::error::Error::source(e);
    let mut root = None;
    while let Some(s) = src {
        root = Some(s.to_string());
        src = s.source();
    }
    match root {
        Some(r) => redact(&format!("{what} ({r})")),
        None => what.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn litellm_error_bodies_are_parsed_whatever_shape_the_message_has() {
        let e = parse_error(
            400,
            r#"{"error":{"message":"Key with alias 'a' already exists.","type":"bad_request_error","param":"key_alias","code":"400"}}"#,
        );
        assert!(
            matches!(&e, LlmError::Api { status: 400, message, code: Some(c), .. } if message.contains("alias 'a'") && c == "400")
        );
        assert!(!e.is_retryable());
        let e = parse_error(
            404,
            r#"{"error":{"message":"{'error': 'No keys found'}","type":"internal_server_error","param":"None","code":"404"}}"#,
        );
        assert!(e.is_not_found() && e.to_string().contains("No keys found"));
        let e = parse_error(500, r#"{"error":{"message":{"error":"boom"},"code":500}}"#);
        assert!(e.to_string().contains("boom") && e.is_retryable());
        let e = parse_error(502, "<html>bad gateway</html>");
        assert!(matches!(e, LlmError::Malformed { status: 502, .. }) && e.is_retryable());
        let e = parse_error(422, r#"{"detail":"field required"}"#);
        assert!(e.to_string().contains("field required"));
    }

    #[test]
    fn anything_that_looks_like_a_key_is_redacted() {
        assert_eq!(
            redact("bad key sk-abc123XYZ, try again"),
            "bad key sk-[redacted], try again"
        );
        assert_eq!(redact("no key here"), "no key here");
        assert_eq!(redact("sk-"), "sk-");
    }
}
