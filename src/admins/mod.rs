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

crate::route_table! {
    prefix: "";
    Public {
        GET "/login" => login::login_form, LoginView;
        // Named after the failure: a refused login is recorded under it; the handler
        // names a success.
        POST "/login" => login::login, LoginFailure;
    }
    // An admin who must change their password may use only these (see `web::auth`).
    SignedIn {
        GET "/session/idle" => login::session_idle, SessionCheck;
        POST "/logout" => login::logout, Logout;
        GET "/account" => account::view, AccountView;
        POST "/account" => account::update, AccountUpdate;
        GET "/account/password" => handlers::password_form, PasswordView;
        POST "/account/password" => handlers::change_password, PasswordChange;
    }
    SuperAdmin {
        GET "/admins" => handlers::list, AdminList;
        GET "/admins/new" => handlers::new_form, AdminView;
        POST "/admins" => handlers::create, AdminCreate;
        GET "/admins/{id}/delete" => handlers::delete_form, AdminView;
        POST "/admins/{id}/delete" => handlers::delete, AdminDelete;
        GET "/admins/{id}/password" => handlers::reset_form, AdminView;
        POST "/admins/{id}/password" => handlers::reset, AdminPasswordReset;
    }
}

/// `/login`, `/logout`, `/account/password`, `/admins…`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    register(cfg);
}
