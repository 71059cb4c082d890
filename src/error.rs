//! One error vocabulary, two renderings. `AppError::error_response` only sets the
//! status and attaches an [`ErrorBody`]; the audit middleware, which knows the request
//! ID and whether the caller is the UI or the REST API, renders the final HTML page
//! or JSON body. 5xx bodies say nothing internal; the cause goes to the log.
use std::collections::BTreeMap;

use actix_web::{HttpResponse, ResponseError, http::StatusCode, http::header};

use crate::audit::Outcome;

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

/// What the audit middleware needs to render an error body.
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
