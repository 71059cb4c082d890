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
    /// Create, change, bulk-change and delete users through `/api/v1/users…`
    /// (and read them, never their keys), follow `/api/v1/batches/{id}`.
    UsersWrite,
    /// Manage the service catalogue through `/api/v1/services…`.
    ServicesWrite,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::KeysRead,
        Scope::ModelsRead,
        Scope::AuditRead,
        Scope::UsersWrite,
        Scope::ServicesWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::KeysRead => "keys:read",
            Scope::ModelsRead => "models:read",
            Scope::AuditRead => "audit:read",
            Scope::UsersWrite => "users:write",
            Scope::ServicesWrite => "services:write",
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
            Scope::UsersWrite => "scope-users-write",
            Scope::ServicesWrite => "scope-services-write",
        }
    }
}

crate::route_table! {
    prefix: "";
    Manager {
        GET "/api-clients" => handlers::list, ApiClientList;
        GET "/api-clients/new" => handlers::new_form, ApiClientView;
        POST "/api-clients" => handlers::create, ApiClientCreate;
        GET "/api-clients/{id}/revoke" => handlers::revoke_form, ApiClientView;
        POST "/api-clients/{id}/revoke" => handlers::revoke, ApiClientRevoke;
    }
}

/// `/api-clients…`: list, create (the token is shown once), revoke.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    register(cfg);
}
