//! UI plumbing: the typed session, the guards, CSRF, the context every page gets,
//! embedded static assets and security headers.
pub mod anon_limit;
pub mod assets;
pub mod auth;
pub mod compress;
pub mod csrf;
pub mod form_errors;
pub mod headers;
pub mod in_flight;
pub mod pages;
pub mod role;
pub mod routes;
pub mod session;
pub mod sessions;

pub use auth::CurrentAdmin;
pub use csrf::{CsrfForm, NoFields};
pub use form_errors::FormErrors;
pub use pages::{Flash, PageCtx};
pub use role::Role;

use actix_web::{HttpResponse, http::header};

/// 303 See Other to `location` (the answer to every successful form POST).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}
