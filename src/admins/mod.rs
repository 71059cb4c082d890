//! Admin accounts: login and logout, password changes, and the super admin's
//! management of admins and auditors.
pub mod cli;
mod forms;
mod handlers;
mod login;
pub mod password;
pub mod queries;
pub mod seed;
pub mod throttle;
mod views;

use actix_web::web;
use serde::{Deserialize, Serialize};

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages admin accounts, and everything an admin does.
    SuperAdmin,
    /// Manages users, services, models and API clients.
    Admin,
    /// Reads the audit trail; changes nothing.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::SuperAdmin, Role::Admin, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::SuperAdmin => "super_admin",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            Role::SuperAdmin => "Super admin",
            Role::Admin => "Admin",
            Role::Auditor => "Auditor",
        }
    }
}

/// `/login`, `/logout`, `/account/password`, `/admins…`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(login::login_form)
        .service(login::login)
        .service(login::logout)
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
