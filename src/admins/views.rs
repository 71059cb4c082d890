//! Admin pages.
use askama::Template;
use askama_web::WebTemplate;

use super::Role;
use crate::{
    entities::admin,
    web::{FormErrors, PageCtx},
};

#[derive(Template, WebTemplate)]
#[template(path = "admins/login.html")]
pub struct LoginPage {
    pub ctx: PageCtx,
    pub username: String,
    pub errors: FormErrors,
    /// A message about the whole form (wrong credentials, lockout); empty key: none.
    pub notice: crate::i18n::Msg,
    /// Where to go after logging in (a same-origin path, already checked).
    pub next: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admins/password.html")]
pub struct PasswordPage {
    pub ctx: PageCtx,
    pub forced: bool,
    pub errors: FormErrors,
}

pub struct AdminRow {
    pub id: i32,
    pub username: String,
    pub role: &'static str,
    pub must_change_password: bool,
    pub locked: bool,
    pub last_login: Option<chrono::DateTime<chrono::Utc>>,
    pub created: chrono::DateTime<chrono::Utc>,
    pub is_self: bool,
}

impl AdminRow {
    pub fn from(a: &admin::Model, me: i32) -> Self {
        let now = chrono::Utc::now();
        AdminRow {
            id: a.id,
            username: a.username.clone(),
            role: Role::parse(&a.role).map_or("role-unknown", Role::label),
            must_change_password: a.must_change_password,
            locked: a.locked_until.is_some_and(|t| t > now),
            last_login: a.last_login_at,
            created: a.created_at,
            is_self: a.id == me,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admins/list.html")]
pub struct ListPage {
    pub ctx: PageCtx,
    pub admins: Vec<AdminRow>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admins/new.html")]
pub struct NewPage {
    pub ctx: PageCtx,
    pub username: String,
    pub role: String,
    pub errors: FormErrors,
    pub roles: [Role; 3],
}

#[derive(Template, WebTemplate)]
#[template(path = "admins/delete.html")]
pub struct DeletePage {
    pub ctx: PageCtx,
    pub target: AdminRow,
    pub refusal: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admins/reset.html")]
pub struct ResetPage {
    pub ctx: PageCtx,
    pub target: AdminRow,
    pub errors: FormErrors,
}

/// `/account`: the admin's language and time zone.
#[derive(Template, WebTemplate)]
#[template(path = "admins/account.html")]
pub struct AccountPage {
    pub ctx: PageCtx,
    /// The stored (or submitted) language code; empty: follow the browser.
    pub language: String,
    /// The stored (or submitted) zone name; empty: the default.
    pub time_zone: String,
    pub default_zone: &'static str,
    pub zones: &'static [&'static str],
    /// The current time in the page's zone.
    pub now: String,
    pub errors: FormErrors,
}
