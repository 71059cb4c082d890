//! The context every page gets (navigation by role, CSRF token, flashes). Error
//! pages are rendered beside `AppError`, in `crate::error`.
use actix_session::Session;
use actix_web::http::StatusCode;
use askama::Template;
use serde::{Deserialize, Serialize};

use super::{CurrentAdmin, Role, session};

/// A one-time message shown on the next page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flash {
    /// `info`, `success` or `error`.
    pub level: String,
    pub text: String,
}

impl Flash {
    pub fn info(text: impl Into<String>) -> Self {
        Flash {
            level: "info".into(),
            text: text.into(),
        }
    }
    pub fn success(text: impl Into<String>) -> Self {
        Flash {
            level: "success".into(),
            text: text.into(),
        }
    }
    pub fn error(text: impl Into<String>) -> Self {
        Flash {
            level: "error".into(),
            text: text.into(),
        }
    }
}

/// Who is looking at the page.
#[derive(Debug, Clone)]
pub struct NavUser {
    pub username: String,
    pub role: Role,
    pub must_change_password: bool,
}

/// What `base.html` needs.
#[derive(Debug, Clone)]
pub struct PageCtx {
    pub user: Option<NavUser>,
    pub csrf_token: String,
    pub flashes: Vec<Flash>,
    /// The nav entry to highlight.
    pub active: &'static str,
    /// System-wide banners (LiteLLM unreachable …).
    pub notices: Vec<String>,
}

impl PageCtx {
    pub fn new(session: &Session, admin: &CurrentAdmin, active: &'static str) -> Self {
        PageCtx {
            user: Some(NavUser {
                username: admin.username.clone(),
                role: admin.role,
                must_change_password: admin.must_change_password,
            }),
            csrf_token: session::csrf_token(session),
            flashes: session::take_flashes(session),
            active,
            notices: admin.notices.clone(),
        }
    }

    pub fn anonymous(session: &Session) -> Self {
        PageCtx {
            user: None,
            csrf_token: session::csrf_token(session),
            flashes: session::take_flashes(session),
            active: "",
            notices: vec![],
        }
    }

    fn role(&self) -> Option<Role> {
        self.user
            .as_ref()
            .filter(|u| !u.must_change_password)
            .map(|u| u.role)
    }
    pub fn is_super_admin(&self) -> bool {
        self.role() == Some(Role::SuperAdmin)
    }
    pub fn is_manager(&self) -> bool {
        matches!(self.role(), Some(Role::SuperAdmin | Role::Admin))
    }
    pub fn can_read_audit(&self) -> bool {
        self.role().is_some()
    }
    pub fn nav_class(&self, entry: &str) -> &'static str {
        if self.active == entry { "active" } else { "" }
    }
}

/// Renders `page` with `status` (forms re-rendered with errors answer 422).
pub fn html(
    status: StatusCode,
    page: &impl Template,
) -> Result<actix_web::HttpResponse, crate::error::AppError> {
    let body = page
        .render()
        .map_err(|e| crate::error::AppError::Internal(e.into()))?;
    Ok(actix_web::HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}
