//! API clients: the internal systems that call `/api/v1` with a bearer token.
//! Managers create them (the token is shown once and stored only as SHA-256),
//! and revoke them; `mama api-client create` does the same from a shell.
pub mod cli;
mod forms;
mod handlers;
pub mod queries;
pub mod service;
mod views;

use serde::{Deserialize, Serialize};

/// What a token may do. Stored space-separated in `api_clients.scopes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    /// `POST /api/v1/keys/lookup`.
    KeysRead,
    /// `GET /api/v1/models`.
    ModelsRead,
    /// `GET /api/v1/audit/events`.
    AuditRead,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::KeysRead, Scope::ModelsRead, Scope::AuditRead];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::KeysRead => "keys:read",
            Scope::ModelsRead => "models:read",
            Scope::AuditRead => "audit:read",
        }
    }
    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }
    /// The catalogue key describing the scope.
    pub fn label(self) -> &'static str {
        match self {
            Scope::KeysRead => "scope-keys-read",
            Scope::ModelsRead => "scope-models-read",
            Scope::AuditRead => "scope-audit-read",
        }
    }
}

/// `/api-clients…` (managers only).
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(handlers::list)
        .service(handlers::new_form)
        .service(handlers::create)
        .service(handlers::revoke_form)
        .service(handlers::revoke);
}
