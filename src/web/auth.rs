//! `CurrentAdmin`: the logged-in admin, resolved from the server-side session row
//! on every request. Expired sessions (idle or absolute) are ended here; an admin
//! who must change their password is sent to `/account/password` from everywhere else.
use actix_session::SessionExt;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use chrono::Utc;
use futures_util::future::LocalBoxFuture;

use super::{Flash, Role, session, sessions as queries};
use crate::{
    audit::{Actor, AuditCtx},
    crypto::sha256_hex,
    error::AppError,
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
}

impl CurrentAdmin {
    /// Only super admins manage admin accounts.
    pub fn require_super_admin(&self) -> Result<(), AppError> {
        self.require(self.role == Role::SuperAdmin)
    }
    /// Super admins and admins manage users, services, API clients.
    pub fn require_manager(&self) -> Result<(), AppError> {
        self.require(matches!(self.role, Role::SuperAdmin | Role::Admin))
    }
    /// Every role reads the audit trail.
    pub fn require_audit_reader(&self) -> Result<(), AppError> {
        Ok(())
    }
    fn require(&self, ok: bool) -> Result<(), AppError> {
        if ok { Ok(()) } else { Err(AppError::Forbidden) }
    }
}

/// Paths an admin who must change their password may still use.
fn allowed_before_password_change(path: &str) -> bool {
    path == "/account/password" || path == "/logout"
}

impl FromRequest for CurrentAdmin {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
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
                session::push_flash(
                    &browser,
                    Flash::info("Your session has ended. Please log in again."),
                );
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
                session::push_flash(
                    &browser,
                    Flash::info("Your session expired. Please log in again."),
                );
                AuditCtx::of(&req).detail("session", "expired");
                return Err(AppError::LoginRequired);
            }
            // Touch the row at most every 1/20 of the idle timeout (capped at a minute),
            // so a busy page does not write on every request.
            let touch_every = (s.session_idle_timeout / 20).min(std::time::Duration::from_secs(60));
            if idle.to_std().unwrap_or_default() >= touch_every {
                queries::touch_session(&data.db, &sid, now).await?;
            }
            let role = Role::parse(&admin.role)
                .ok_or_else(|| AppError::Internal(anyhow::anyhow!("unknown role in database")))?;
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
            })
        })
    }
}
