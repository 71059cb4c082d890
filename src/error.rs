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
    HttpResponse, ResponseError,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::StatusCode,
    http::header,
    middleware::Next,
};
use askama::Template;
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
    /// The password must be changed before anything else.
    #[error("password change required")]
    MustChangePassword,
    #[error("the service is temporarily unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<actix_web::Error> for AppError {
    fn from(e: actix_web::Error) -> Self {
        AppError::Internal(anyhow::anyhow!(e.to_string()))
    }
}

impl AppError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
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
            AppError::Unauthorized(_) | AppError::LoginRequired | AppError::MustChangePassword => {
                "UNAUTHORIZED"
            }
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
            AppError::LoginRequired | AppError::MustChangePassword => StatusCode::SEE_OTHER,
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
        html_page(status, &body, &request_id, &response)
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
/// not `base.html`: an error page shows no navigation, so it needs no page context.
#[derive(Template)]
#[template(path = "errors/error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
    request_id: &'a str,
}

/// The UI rendering: the friendly page for an error status.
pub fn html_page(
    status: StatusCode,
    body: &ErrorBody,
    request_id: &str,
    like: &HttpResponse,
) -> HttpResponse {
    let title = match status.as_u16() {
        403 => "Not allowed",
        404 => "Page not found",
        429 => "Too many requests",
        503 => "Temporarily unavailable",
        s if s >= 500 => "Something went wrong",
        _ => "That did not work",
    };
    let message = match status.as_u16() {
        404 => "There is no page at this address.",
        500 => {
            "An unexpected error occurred. It has been logged; quote the request ID when you report it."
        }
        _ => &body.message,
    };
    let page = ErrorPage {
        status: status.as_u16(),
        title,
        message,
        request_id,
    };
    let html = page
        .render()
        .unwrap_or_else(|_| format!("{} {}", status.as_u16(), title));
    same_headers(status, like)
        .content_type("text/html; charset=utf-8")
        .body(html)
}
