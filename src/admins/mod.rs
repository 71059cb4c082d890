//! Admin accounts: login and logout, password changes, and the super admin's
//! management of admins and auditors.
mod account;
mod forms;
mod handlers;
mod login;
pub mod password;
pub mod queries;
pub mod seed;
mod views;

use actix_web::web;

/// Roles are checked by the web guards, so they live in `crate::web`.
pub use crate::web::Role;

/// `/login`, `/logout`, `/account/password`, `/admins…`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(login::login_form)
        .service(login::login)
        .service(login::logout)
        .service(account::view)
        .service(account::update)
        .service(handlers::password_form)
        .service(handlers::change_password)
        .service(handlers::list)
        .service(handlers::new_form)
        .service(handlers::create)
        .service(handlers::delete_form)
        .service(handlers::delete)
        .service(handlers::reset_form)
        .service(handlers::reset);
}
