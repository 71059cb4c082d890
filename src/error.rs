//! One error vocabulary, two renderings, both here. `AppError::error_response`
//! sets the status and headers and attaches an [`ErrorBody`] (actix gives it no
//! request); [`render_errors`], the outermost routed middleware, then turns that
//! body into the HTML page (UI) or the JSON error body (`/api/…`), with the
//! request ID the audit middleware put on the response. 5xx bodies say nothing
//! internal; the cause goes to the log.
//!
//! This module sits low in the house: it imports no feature, no `web` and no
//! `audit` (the audit middleware imports it to know an error's [`Outcome`]).
use std::collections::BTreeMap;

use actix_web::{
    HttpRequest, HttpResponse, ResponseError,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::StatusCode,
    http::header,
    middleware::Next,
};
use askama::Template;

use crate::i18n::{self, Lang, Locale, Msg};
use serde::Serialize;

/// How the request ended, from the auditor's point of view. Stored as text in
/// the audit trail (re-exported as `audit::Outcome`); it lives here because an
/// error decides its own outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Denied,
    Invalid,
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Invalid => "invalid",
            Outcome::Error => "error",
        }
    }

    /// The outcome an HTTP status implies when the handler said nothing else.
    pub fn from_status(status: u16) -> Outcome {
        match status {
            401 | 403 | 429 => Outcome::Denied,
            400..=499 => Outcome::Invalid,
            500..=599 => Outcome::Error,
            _ => Outcome::Success,
        }
    }
}

/// Field name → messages, for validation failures.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("you do not have permission to do this")]
    Forbidden,
    #[error("{0}")]
    Unauthorized(String),
    #[error("your form has expired or did not come from this site; reload the page and try again")]
    Csrf,
    #[error("{0}")]
    BadRequest(String),
    #[error("{message}")]
    Validation {
        message: String,
        fields: FieldErrors,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("too many requests; try again in {retry_after} s")]
    RateLimited { retry_after: u64 },
    /// Not logged in (or the session ended): the UI goes back to /login.
    #[error("login required")]
    LoginRequired,
    /// The session passed its idle or absolute timeout: back to /login, saying so.
    #[error("your session expired")]
    SessionExpired,
    /// The password must be changed before anything else.
    #[error("password change required")]
    MustChangePassword,
    #[error("the service is temporarily unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<sea_orm::DbErr> for AppError {
    /// A database that cannot be reached (down, restarting, pool exhausted) is
    /// 503 — try again; anything else is a bug (500).
    fn from(e: sea_orm::DbErr) -> Self {
        if db_unreachable(&e) {
            AppError::Unavailable(e.into())
        } else {
            AppError::Internal(e.into())
        }
    }
}

/// Whether `e` says the database could not be reached, rather than that a
/// statement was wrong.
pub fn db_unreachable(e: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr, sqlx::Error as Sqlx};
    let runtime = match e {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(r) | DbErr::Exec(r) | DbErr::Query(r) => r,
        _ => return false,
    };
    match runtime {
        RuntimeErr::SqlxError(s) => match s.as_ref() {
            Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::Tls(_) => true,
            // The server going down under a session: admin_shutdown, cannot_connect_now.
            Sqlx::Database(d) => d
                .code()
                .is_some_and(|c| c.starts_with("57P") || c.starts_with("08")),
            _ => false,
        },
        _ => matches!(e, DbErr::Conn(_)),
    }
}

impl From<actix_web::Error> for AppError {
    fn from(e: actix_web::Error) -> Self {
        AppError::Internal(anyhow::anyhow!(e.to_string()))
    }
}

impl AppError {
    /// A refused field (a [`crate::i18n::Msg`] shows in English, the API's language).
    pub fn validation(field: &str, message: impl std::fmt::Display) -> Self {
        let message = message.to_string();
        let mut fields = FieldErrors::new();
        fields.insert(field.to_string(), vec![message.clone()]);
        AppError::Validation {
            message: format!("{field}: {message}"),
            fields,
        }
    }

    /// The REST error code (DESIGN.md, "HTTP surfaces").
    pub fn code(&self) -> &'static str {
        match self {
            AppError::NotFound => "NOT_FOUND",
            AppError::Forbidden | AppError::Csrf => "FORBIDDEN",
            AppError::Unauthorized(_)
            | AppError::LoginRequired
            | AppError::SessionExpired
            | AppError::MustChangePassword => "UNAUTHORIZED",
            AppError::BadRequest(_) | AppError::PayloadTooLarge(_) => "INVALID_REQUEST",
            AppError::Validation { .. } => "VALIDATION_ERROR",
            AppError::Conflict(_) => "CONFLICT",
            AppError::RateLimited { .. } => "RATE_LIMIT_EXCEEDED",
            AppError::Unavailable(_) => "SERVICE_UNAVAILABLE",
            AppError::Internal(_) => "INTERNAL_ERROR",
        }
    }

    pub fn outcome(&self) -> Outcome {
        match self {
            AppError::Forbidden
            | AppError::Csrf
            | AppError::Unauthorized(_)
            | AppError::LoginRequired
            | AppError::SessionExpired
            | AppError::MustChangePassword
            | AppError::RateLimited { .. } => Outcome::Denied,
            AppError::NotFound
            | AppError::BadRequest(_)
            | AppError::Validation { .. }
            | AppError::Conflict(_)
            | AppError::PayloadTooLarge(_) => Outcome::Invalid,
            AppError::Unavailable(_) | AppError::Internal(_) => Outcome::Error,
        }
    }
}

/// What [`render_errors`] needs to render an error body (and the audit
/// middleware to record the outcome).
#[derive(Debug, Clone)]
pub struct ErrorBody {
    pub code: &'static str,
    pub message: String,
    pub details: serde_json::Value,
    pub outcome: Outcome,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::LoginRequired | AppError::SessionExpired | AppError::MustChangePassword => {
                StatusCode::SEE_OTHER
            }
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AppError::Internal(e) | AppError::Unavailable(e) => {
                tracing::error!(error = ?e, "request failed")
            }
            _ => {}
        }
        let mut res = HttpResponse::build(self.status_code());
        match self {
            AppError::LoginRequired => {
                res.insert_header((header::LOCATION, "/login"));
            }
            AppError::SessionExpired => {
                res.insert_header((header::LOCATION, "/login?expired=1"));
            }
            AppError::MustChangePassword => {
                res.insert_header((header::LOCATION, "/account/password"));
            }
            AppError::RateLimited { retry_after } => {
                res.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            _ => {}
        }
        let details = match self {
            AppError::Validation { fields, .. } => serde_json::json!({ "fields": fields }),
            _ => serde_json::json!({}),
        };
        let mut res = res.finish();
        res.extensions_mut().insert(ErrorBody {
            code: self.code(),
            message: self.to_string(),
            details,
            outcome: self.outcome(),
        });
        res
    }
}

impl ErrorBody {
    /// A bare response with `status` that [`render_errors`] will fill with `message`
    /// (used where no `AppError` exists, e.g. when the audit trail cannot be written).
    pub fn response(
        status: StatusCode,
        err: &AppError,
        message: impl Into<String>,
    ) -> HttpResponse {
        let mut res = HttpResponse::build(status).finish();
        res.extensions_mut().insert(ErrorBody {
            code: err.code(),
            message: message.into(),
            details: serde_json::json!({}),
            outcome: err.outcome(),
        });
        res
    }
}

/// The response header that carries the request ID (set by the audit middleware).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

fn is_api(path: &str) -> bool {
    path.starts_with("/api/")
}

/// Renders every error response of the routed app: wraps the audit middleware, so
/// it sees the final status and the request ID. Redirects (login required, password
/// change) get `HX-Redirect` for htmx requests instead of a body.
pub async fn render_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let api = is_api(req.path());
    let htmx = req.headers().contains_key("hx-request");
    let res = next.call(req).await?.map_into_boxed_body();
    let Some(body) = res.response().extensions().get::<ErrorBody>().cloned() else {
        return Ok(res);
    };
    let status = res.status();
    let (http_req, mut response) = res.into_parts();
    if status.is_redirection() {
        if htmx && let Some(loc) = response.headers().get(header::LOCATION).cloned() {
            response
                .headers_mut()
                .insert(header::HeaderName::from_static("hx-redirect"), loc);
        }
        return Ok(ServiceResponse::new(http_req, response));
    }
    let request_id = response
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let rendered = if api {
        json_body(status, &body, &request_id, &response)
    } else {
        html_page(&http_req, status, &body, &request_id, &response)
    };
    Ok(ServiceResponse::new(http_req, rendered))
}

/// A fresh response with `status` and `like`'s headers.
fn same_headers(status: StatusCode, like: &HttpResponse) -> actix_web::HttpResponseBuilder {
    let mut out = HttpResponse::build(status);
    for (k, v) in like.headers() {
        out.insert_header((k.clone(), v.clone()));
    }
    out
}

/// The REST rendering: `{"error": {code, message, details, request_id}}`.
pub fn json_body(
    status: StatusCode,
    body: &ErrorBody,
    request_id: &str,
    like: &HttpResponse,
) -> HttpResponse {
    same_headers(status, like)
        .content_type("application/json")
        .body(
            serde_json::json!({"error": {
                "code": body.code,
                "message": body.message,
                "details": body.details,
                "request_id": request_id,
            }})
            .to_string(),
        )
}

/// The error page. It extends `layout.html` (the shell `base.html` also extends),
/// not `base.html`: an error page shows no navigation, so its context is only the
/// request's language and zone.
#[derive(Template)]
#[template(path = "errors/error.html")]
struct ErrorPage<'a> {
    ctx: Locale,
    status: u16,
    title: &'a str,
    message: &'a str,
    request_id: &'a str,
    fields: Vec<String>,
}

/// The language and zone of an error page: the admin's preference (put in the
/// request by the login guard), else the `?lang=` switch, its cookie,
/// `Accept-Language`, and the configured default.
fn locale_of(req: &HttpRequest) -> Locale {
    let (lang, tz) = req
        .app_data::<actix_web::web::Data<crate::state::AppData>>()
        .map_or((Lang::Ko, chrono_tz::Asia::Seoul), |d| {
            (d.settings.default_language, d.settings.default_time_zone)
        });
    Locale {
        lang: i18n::request_lang(req, lang),
        tz: i18n::request_tz(req, tz),
    }
}

/// The UI rendering: the friendly page for an error status, in the request's
/// language. Its words come from the catalogue, not from the error's (English,
/// developer-facing) text; a validation error's fields are named: an English page
/// shows each message as is, a Korean one the field's translated name in a
/// translated sentence.
pub fn html_page(
    req: &HttpRequest,
    status: StatusCode,
    body: &ErrorBody,
    request_id: &str,
    like: &HttpResponse,
) -> HttpResponse {
    let locale = locale_of(req);
    let title = match status.as_u16() {
        403 => "error-title-403",
        404 => "error-title-404",
        429 => "error-title-429",
        503 => "error-title-503",
        s if s >= 500 => "error-title-500",
        _ => "error-title-400",
    };
    let message = match status.as_u16() {
        403 if body.message == AppError::Csrf.to_string() => "error-csrf",
        403 => "error-forbidden",
        404 => "error-not-found",
        409 => "error-conflict",
        413 => "error-too-large",
        422 => "error-validation",
        429 => "error-rate-limited",
        503 => "error-unavailable",
        s if s >= 500 => "error-internal",
        _ => "error-bad-request",
    };
    let fields: Vec<String> = body.details["fields"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(f, v)| {
                    let first = v.get(0).and_then(|x| x.as_str()).unwrap_or_default();
                    match locale.lang {
                        Lang::En => format!("{f}: {first}"),
                        Lang::Ko => Msg::new("err-invalid").field(f).render(locale.lang),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let title = i18n::t(locale.lang, title);
    let message = i18n::t(locale.lang, message);
    let page = ErrorPage {
        ctx: locale,
        status: status.as_u16(),
        title: &title,
        message: &message,
        request_id,
        fields,
    };
    let html = page
        .render()
        .unwrap_or_else(|_| format!("{} {}", status.as_u16(), title));
    same_headers(status, like)
        .content_type("text/html; charset=utf-8")
        .body(html)
}

/// Where the admin was, to come back to after logging in: the page itself for a
/// plain GET, the page that made the request for htmx (`HX-Current-URL`).
pub fn return_path(req: &ServiceRequest, htmx: bool) -> Option<String> {
    if htmx {
        let url = req.headers().get("hx-current-url")?.to_str().ok()?;
        let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let path = &after_scheme[after_scheme.find('/')?..];
        return Some(path.to_string());
    }
    // Not a page of its own: a form post, or a background request of a page.
    if req.method() != actix_web::http::Method::GET
        || req.headers().contains_key("x-mama-background")
    {
        return None;
    }
    Some(match req.query_string() {
        "" => req.path().to_string(),
        q => format!("{}?{}", req.path(), q),
    })
}

/// A refused request that must go to /login (or /account/password). A plain page
/// gets its 303 with `next=` (where to return); an htmx request gets 401 with
/// `HX-Redirect`, because an XHR would follow a 303 and swap the login page into
/// the dialog. Returns the final status.
pub fn redirect_to_login(
    response: &mut HttpResponse,
    htmx: bool,
    return_to: &Option<String>,
) -> StatusCode {
    let Some(loc) = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        return response.status();
    };
    let loc = match return_to {
        // `/users` is where a login lands anyway: no `next` needed.
        Some(back)
            if loc.starts_with("/login")
                && !matches!(back.as_str(), "/" | "/users")
                && !back.starts_with("/login") =>
        {
            let sep = if loc.contains('?') { '&' } else { '?' };
            format!("{loc}{sep}next={}", percent_encode(back))
        }
        _ => loc,
    };
    let value =
        header::HeaderValue::from_str(&loc).unwrap_or(header::HeaderValue::from_static("/login"));
    if htmx {
        response.headers_mut().remove(header::LOCATION);
        response
            .headers_mut()
            .insert(header::HeaderName::from_static("hx-redirect"), value);
        *response.status_mut() = StatusCode::UNAUTHORIZED;
    } else {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response.status()
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
