//! API client pages.
use askama::Template;
use askama_web::WebTemplate;

use super::Scope;
use crate::{
    entities::api_client,
    web::{FormErrors, PageCtx},
};

pub struct ClientRow {
    pub id: i32,
    pub name: String,
    pub scopes: String,
    /// Requests per minute; `None`: the default.
    pub rate_limit: Option<i32>,
    pub default_limit: u32,
    pub token_hint: String,
    pub created: chrono::DateTime<chrono::Utc>,
    pub created_by: String,
    pub last_used: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked: bool,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl ClientRow {
    pub fn from(c: &api_client::Model, default_limit: u32) -> Self {
        ClientRow {
            id: c.id,
            name: c.name.clone(),
            scopes: c.scopes.clone(),
            rate_limit: c.rate_limit_per_minute,
            default_limit,
            token_hint: c.token_hint.clone(),
            created: c.created_at,
            created_by: c.created_by.clone().unwrap_or_default(),
            last_used: c.last_used_at,
            revoked: c.revoked_at.is_some(),
            revoked_at: c.revoked_at,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "api_clients/list.html")]
pub struct ListPage {
    pub ctx: PageCtx,
    pub clients: Vec<ClientRow>,
}

#[derive(Template, WebTemplate)]
#[template(path = "api_clients/new.html")]
pub struct NewPage {
    pub ctx: PageCtx,
    pub name: String,
    pub scopes: Vec<String>,
    pub rate_limit_per_minute: String,
    pub default_limit: u32,
    pub errors: FormErrors,
    pub all: [Scope; 5],
}

impl NewPage {
    pub fn checked(&self, s: &Scope) -> bool {
        self.scopes.iter().any(|x| x == s.as_str())
    }
}

/// Shown once, right after creation: the only time the token is visible.
#[derive(Template, WebTemplate)]
#[template(path = "api_clients/created.html")]
pub struct CreatedPage {
    pub ctx: PageCtx,
    pub name: String,
    pub scopes: String,
    pub token: String,
}

/// "Revoke this client?", with what it can do today.
#[derive(Template, WebTemplate)]
#[template(path = "api_clients/revoke.html")]
pub struct RevokePage {
    pub ctx: PageCtx,
    pub client: ClientRow,
}
