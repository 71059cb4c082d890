//! The context every page gets (navigation by role, CSRF token, flashes). Error
//! pages are rendered beside `AppError`, in `crate::error`.
use actix_session::Session;
use actix_web::http::StatusCode;
use askama::Template;
use serde::{Deserialize, Serialize};

use super::{CurrentAdmin, Role, session};
use crate::i18n::{self, Lang, Locale, Msg};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// Integers templates hand to [`PageCtx::num`] and [`PageCtx::tn`].
pub trait ToI64 {
    fn to_i64(&self) -> i64;
}
macro_rules! to_i64 {
    ($($t:ty),*) => {$(impl ToI64 for $t {
        fn to_i64(&self) -> i64 { i64::try_from(*self).unwrap_or(i64::MAX) }
    })*};
}
to_i64!(i32, i64, u32, u64, usize);
impl<T: ToI64 + ?Sized> ToI64 for &T {
    fn to_i64(&self) -> i64 {
        (**self).to_i64()
    }
}

/// A one-time message shown on the next page, translated when it is shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flash {
    /// `info`, `success` or `error`.
    pub level: String,
    pub msg: Msg,
    /// An optional link after the text (e.g. "Follow the sync" → /sync#batch-…).
    #[serde(default)]
    pub link_href: String,
    #[serde(default)]
    pub link_text: Option<Msg>,
}

impl Flash {
    fn new(level: &str, msg: impl Into<Msg>) -> Self {
        Flash {
            level: level.into(),
            msg: msg.into(),
            link_href: String::new(),
            link_text: None,
        }
    }
    pub fn info(msg: impl Into<Msg>) -> Self {
        Flash::new("info", msg)
    }
    pub fn success(msg: impl Into<Msg>) -> Self {
        Flash::new("success", msg)
    }
    pub fn error(msg: impl Into<Msg>) -> Self {
        Flash::new("error", msg)
    }
    /// Adds a link (a same-site path) after the text.
    pub fn with_link(mut self, href: impl Into<String>, text: impl Into<Msg>) -> Self {
        self.link_href = href.into();
        self.link_text = Some(text.into());
        self
    }
}

/// A flash as the page shows it.
#[derive(Debug, Clone)]
pub struct ShownFlash {
    pub level: String,
    pub text: String,
    pub link_href: String,
    pub link_text: String,
}

fn shown(flashes: Vec<Flash>, lang: Lang) -> Vec<ShownFlash> {
    flashes
        .into_iter()
        .map(|f| ShownFlash {
            text: f.msg.render(lang),
            link_text: f.link_text.map(|m| m.render(lang)).unwrap_or_default(),
            link_href: f.link_href,
            level: f.level,
        })
        .collect()
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
    pub flashes: Vec<ShownFlash>,
    /// The page's language (`<html lang>`, every text).
    pub lang: Lang,
    /// The zone times are shown in.
    pub tz: Tz,
    /// The nav entry to highlight.
    pub active: &'static str,
    /// System-wide banners (LiteLLM unreachable …).
    pub notices: Vec<String>,
    /// Seconds of inactivity after which the page returns itself to /login (0: none).
    pub idle_timeout_secs: u64,
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
            flashes: shown(session::take_flashes(session), admin.locale.lang),
            lang: admin.locale.lang,
            tz: admin.locale.tz,
            active,
            notices: admin.notices.clone(),
            idle_timeout_secs: admin.idle_timeout_secs,
        }
    }

    /// For an htmx fragment: the admin's language and zone, no flashes taken.
    pub fn fragment(admin: &CurrentAdmin) -> Self {
        PageCtx {
            user: None,
            csrf_token: String::new(),
            flashes: vec![],
            lang: admin.locale.lang,
            tz: admin.locale.tz,
            active: "",
            notices: vec![],
            idle_timeout_secs: 0,
        }
    }

    /// A page before login, in `locale` (see [`crate::i18n::anonymous_lang`]).
    pub fn anonymous(session: &Session, locale: Locale) -> Self {
        PageCtx {
            user: None,
            csrf_token: session::csrf_token(session),
            flashes: shown(session::take_flashes(session), locale.lang),
            lang: locale.lang,
            tz: locale.tz,
            active: "",
            notices: vec![],
            idle_timeout_secs: 0,
        }
    }

    /// The text of `key` in this page's language.
    pub fn t(&self, key: &str) -> String {
        i18n::t(self.lang, key)
    }
    /// A message (form error, flash) in this page's language.
    pub fn tm(&self, msg: &Msg) -> String {
        msg.render(self.lang)
    }
    /// `key` with one user-data argument.
    pub fn t1(
        &self,
        key: &'static str,
        name: &'static str,
        value: impl std::fmt::Display,
    ) -> String {
        Msg::new(key).arg(name, value).render(self.lang)
    }
    /// `key` with a count `$count` (plural and grouping).
    pub fn tn(&self, key: &'static str, count: impl ToI64) -> String {
        Msg::new(key).num("count", count.to_i64()).render(self.lang)
    }
    /// A number with grouping (`1,234`).
    pub fn num(&self, n: impl ToI64) -> String {
        i18n::number(n.to_i64())
    }
    /// A UTC time in this page's zone, to the minute, zone named.
    pub fn time(&self, t: &DateTime<Utc>) -> String {
        i18n::time::minutes(*t, self.tz)
    }
    /// Like [`Self::time`] for an optional time; `never` when absent.
    pub fn time_or_never(&self, t: &Option<DateTime<Utc>>) -> String {
        t.map_or_else(|| self.t("time-never"), |t| self.time(&t))
    }
    /// The zone's IANA name (`Asia/Seoul`).
    pub fn tz_name(&self) -> &'static str {
        self.tz.name()
    }
    /// The languages the switch offers, with the `?lang=` value and whether current.
    pub fn languages(&self) -> Vec<(&'static str, &'static str, bool)> {
        Lang::ALL
            .iter()
            .map(|l| (l.code(), l.native_name(), *l == self.lang))
            .collect()
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
