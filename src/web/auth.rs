//! `CurrentAdmin`: the logged-in admin, resolved from the server-side session row
//! on every request. Expired sessions (idle or absolute) are ended here; an admin
//! who must change their password is sent to `/account/password` from everywhere else.
use actix_session::SessionExt;
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use chrono::Utc;
use futures_util::future::LocalBoxFuture;

use super::{Flash, Role, session, sessions as queries};
use crate::{
    audit::{Actor, AuditCtx},
    crypto::sha256_hex,
    error::AppError,
    i18n::{self, AdminPrefs, Locale},
    state::AppData,
};

/// The admin behind this request.
#[derive(Debug, Clone)]
pub struct CurrentAdmin {
    pub id: i32,
    pub username: String,
    pub role: Role,
    pub must_change_password: bool,
    /// The hash of this session's token (its row ID).
    pub session_id: String,
    /// System-wide banners to show on every page.
    pub notices: Vec<String>,
    /// The stored preferences (`None`: not chosen).
    pub prefs: AdminPrefs,
    /// The language and zone this admin's pages use.
    pub locale: Locale,
    /// The idle timeout, for the page's own timer that returns it to /login.
    pub idle_timeout_secs: u64,
    /// Seconds of idle time this session has left (activity in another tab counts).
    pub idle_left_secs: u64,
}

impl CurrentAdmin {
    /// Super admins and admins manage users, services, API clients. Route groups
    /// check roles (`web::routes`); this is for a handler that admits more roles
    /// than it serves (`/users` sends auditors on to `/audit`).
    pub fn require_manager(&self) -> Result<(), AppError> {
        self.require(matches!(self.role, Role::SuperAdmin | Role::Admin))
    }
    fn require(&self, ok: bool) -> Result<(), AppError> {
        if ok { Ok(()) } else { Err(AppError::Forbidden) }
    }
}

/// Header the UI's polls send (`hx-headers`): the request is not the admin's activity.
pub const BACKGROUND_HEADER: &str = "x-mama-background";

/// A poll or other request the page made by itself, not the admin.
pub fn is_background(req: &HttpRequest) -> bool {
    req.headers().contains_key(BACKGROUND_HEADER)
}

/// Paths an admin who must change their password may still use.
fn allowed_before_password_change(path: &str) -> bool {
    path == "/account/password" || path == "/logout" || path == "/session/idle"
}

impl FromRequest for CurrentAdmin {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        if let Some(admin) = super::routes::cached(req) {
            return Box::pin(async move { Ok(admin) });
        }
        let req = req.clone();
        Box::pin(async move {
            let data = req
                .app_data::<web::Data<AppData>>()
                .cloned()
                .ok_or_else(|| AppError::Internal(anyhow::anyhow!("app data missing")))?;
            let browser = req.get_session();
            let Some(token) = session::sid(&browser) else {
                return Err(AppError::LoginRequired);
            };
            let sid = sha256_hex(&token);
            let Some((row, admin)) = queries::session_with_admin(&data.db, &sid).await? else {
                // Logged out elsewhere, password changed, or the admin was deleted.
                session::end(&browser);
                session::push_flash(&browser, Flash::info("flash-session-ended"));
                return Err(AppError::LoginRequired);
            };
            let now = Utc::now();
            let s = &data.settings;
            let idle = now - row.last_seen_at;
            let age = now - row.created_at;
            if idle.to_std().unwrap_or_default() > s.session_idle_timeout
                || age.to_std().unwrap_or_default() > s.session_max_lifetime
            {
                queries::delete_session(&data.db, &sid).await?;
                session::end(&browser);
                session::push_flash(&browser, Flash::info("flash-session-expired"));
                // /login?expired=1 says "your session expired"; no flash, or it says it twice.
                AuditCtx::of(&req).detail("session", "expired");
                return Err(AppError::SessionExpired);
            }
            // Touch the row at most every 1/20 of the idle timeout (capped at a minute),
            // so a busy page does not write on every request. Background requests (polls)
            // are not activity: an open /sync tab must not keep its session alive.
            let touch_every = (s.session_idle_timeout / 20).min(std::time::Duration::from_secs(60));
            let mut idle = idle.to_std().unwrap_or_default();
            if idle >= touch_every && !is_background(&req) {
                queries::touch_session(&data.db, &sid, now).await?;
                idle = std::time::Duration::ZERO;
            }
            let role = Role::parse(&admin.role)
                .ok_or_else(|| AppError::Internal(anyhow::anyhow!("unknown role in database")))?;
            let prefs = AdminPrefs {
                lang: admin.language.as_deref().and_then(i18n::Lang::parse),
                tz: admin.time_zone.as_deref().and_then(i18n::parse_tz),
            };
            // Error pages rendered after the handler read them from here.
            req.extensions_mut().insert(prefs);
            let locale = Locale {
                lang: i18n::request_lang(&req, s.default_language),
                tz: i18n::request_tz(&req, s.default_time_zone),
            };
            AuditCtx::of(&req).set_actor(Actor::Admin {
                id: admin.id,
                username: admin.username.clone(),
            });
            if admin.must_change_password && !allowed_before_password_change(req.path()) {
                return Err(AppError::MustChangePassword);
            }
            Ok(CurrentAdmin {
                id: admin.id,
                username: admin.username,
                role,
                must_change_password: admin.must_change_password,
                session_id: sid,
                notices: data.notices.list(),
                prefs,
                locale,
                idle_timeout_secs: s.session_idle_timeout.as_secs(),
                idle_left_secs: s.session_idle_timeout.saturating_sub(idle).as_secs(),
            })
        })
    }
}
