//! Creating and revoking API clients; shared by the pages, the CLI and tests.
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr};

use super::{Scope, queries};
use crate::{
    crypto::{hint, random_base62, sha256_hex},
    entities::api_client,
};

/// Random characters after `mama_` (≥ 32 required; 40 gives 238 bits).
pub const TOKEN_RANDOM_CHARS: usize = 40;
pub const TOKEN_PREFIX: &str = "mama_";
pub const NAME_MAX_CHARS: usize = 64;
pub const RATE_LIMIT_MAX: i32 = 10_000_000;

/// A client to create (already validated).
#[derive(Debug, Clone)]
pub struct NewClient {
    pub name: String,
    pub scopes: Vec<Scope>,
    /// Requests per minute; `None` uses `MAMA_API_RATE_LIMIT_PER_MINUTE`.
    pub rate_limit_per_minute: Option<i32>,
    pub created_by: Option<String>,
}

/// The new client's token. Shown once, never stored; `Debug` hides it.
pub struct NewToken(pub String);

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewToken([redacted])")
    }
}

/// A name problem, in words for a form field or a CLI error.
pub fn check_name(name: &str) -> Option<&'static str> {
    let n = name.chars().count();
    if name.trim().is_empty() {
        Some("Enter a name.")
    } else if n > NAME_MAX_CHARS {
        Some("A name has at most 64 characters.")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '))
    {
        Some("Use letters, digits, spaces, '-', '_' and '.' only.")
    } else {
        None
    }
}

/// The catalogue key for a reason [`check_name`] gives (the CLI prints the English).
pub fn check_name_key(reason: &str) -> &'static str {
    if reason.starts_with("A name has") {
        "err-name-long"
    } else if reason.starts_with("Use letters") {
        "err-name-chars"
    } else {
        "err-enter-name"
    }
}

/// Scopes as stored: known ones, deduplicated, in canonical order.
pub fn scopes_text(scopes: &[Scope]) -> String {
    Scope::ALL
        .into_iter()
        .filter(|s| scopes.contains(s))
        .map(Scope::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Creates the client; the token is returned once and only its SHA-256 is kept.
pub async fn create_client(
    conn: &impl ConnectionTrait,
    new: NewClient,
) -> Result<(api_client::Model, NewToken), DbErr> {
    let token = format!("{TOKEN_PREFIX}{}", random_base62(TOKEN_RANDOM_CHARS));
    let row = api_client::ActiveModel {
        name: Set(new.name),
        token_sha256: Set(sha256_hex(&token)),
        token_hint: Set(hint(&token, 4)),
        scopes: Set(scopes_text(&new.scopes)),
        rate_limit_per_minute: Set(new.rate_limit_per_minute),
        created_by: Set(new.created_by),
        created_at: Set(Utc::now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok((row, NewToken(token)))
}

/// Revokes the client now; `false` when it was already revoked.
pub async fn revoke_client(conn: &impl ConnectionTrait, id: i32) -> Result<bool, DbErr> {
    queries::revoke(conn, id, Utc::now()).await
}

/// The audit `after` object of a client (no token, only its hint).
pub fn describe(c: &api_client::Model) -> serde_json::Value {
    serde_json::json!({
        "id": c.id,
        "name": c.name,
        "scopes": c.scopes,
        "rate_limit_per_minute": c.rate_limit_per_minute,
        "token_hint": c.token_hint,
        "revoked_at": c.revoked_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_scopes_are_checked_and_canonical() {
        assert!(check_name("billing-service v2").is_none());
        assert!(check_name("").is_some());
        assert!(check_name("a<b").is_some());
        assert!(check_name(&"x".repeat(65)).is_some());
        assert_eq!(
            scopes_text(&[Scope::AuditRead, Scope::KeysRead, Scope::KeysRead]),
            "keys:read audit:read"
        );
    }
}
