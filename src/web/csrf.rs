//! `CsrfForm<T>`: the only way a UI handler reads a form. It checks the
//! synchronizer token in `csrf_token` against the session before parsing `T`,
//! so no state-changing form can forget the check.
use actix_session::SessionExt;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::{crypto::constant_time_eq, error::AppError};

/// The header htmx requests carry the CSRF token in (state-changing requests only).
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The fields of a form that carries nothing but its CSRF token (delete,
/// revoke, retry, logout …): `CsrfForm<NoFields>`.
#[derive(Debug, serde::Deserialize)]
pub struct NoFields {}

/// A form whose CSRF token matched.
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let bytes = body.await.map_err(|_| {
                AppError::PayloadTooLarge("the form is too large or could not be read".into())
            })?;
            let pairs: Vec<(String, String)> = serde_html_form::from_bytes(&bytes)
                .map_err(|_| AppError::BadRequest("the form could not be read".into()))?;
            // The form field, or the `X-CSRF-Token` header the UI's htmx requests send
            // (so the token never rides in a URL).
            let header = req
                .headers()
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let submitted = pairs
                .iter()
                .find(|(k, _)| k == "csrf_token")
                .map(|(_, v)| v.as_str())
                .or(header.as_deref());
            let expected = super::session::expected_csrf(&req.get_session());
            match (submitted, expected) {
                (Some(s), Some(e)) if constant_time_eq(s, &e) => {}
                _ => return Err(AppError::Csrf),
            }
            // PostgreSQL cannot store NUL in text; refuse it here for every form, by name.
            if let Some((field, _)) = pairs.iter().find(|(_, v)| v.contains('\0')) {
                let field: String = field.chars().take(64).collect();
                return Err(AppError::validation(
                    &field,
                    "must not contain NUL characters",
                ));
            }
            serde_html_form::from_bytes::<T>(&bytes)
                .map(CsrfForm)
                .map_err(|e| AppError::BadRequest(format!("the form is malformed: {e}")))
        })
    }
}
