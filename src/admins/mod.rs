//! Admin accounts: login and logout, password changes, and the super admin's
//! management of admins and auditors.
mod account;
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

/// Every `MAMA_PURGE_INTERVAL_SECS`: deletes expired sessions and throttle rows
/// whose window and block are over. Safe on several instances (plain deletes).
pub async fn purge_once(
    db: &sea_orm::DatabaseConnection,
    settings: &crate::config::Settings,
) -> Result<(u64, u64), sea_orm::DbErr> {
    let sessions = queries::purge_sessions(
        db,
        settings.session_idle_timeout,
        settings.session_max_lifetime,
    )
    .await?;
    let throttles = throttle::purge(db, settings.login_lockout).await?;
    Ok((sessions, throttles))
}

/// Starts the periodic [`purge_once`]; it ends between passes once `stop` is raised.
pub fn spawn_purger(
    db: sea_orm::DatabaseConnection,
    settings: std::sync::Arc<crate::config::Settings>,
    mut stop: crate::shutdown::Stop,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(settings.security.purge_interval);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.stopped() => return,
            }
            match purge_once(&db, &settings).await {
                Ok((s, t)) if s + t > 0 => {
                    tracing::info!(sessions = s, throttle_rows = t, "purged expired rows")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "purge of expired sessions failed"),
            }
        }
    })
}

/// `/login`, `/logout`, `/account/password`, `/admins…`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    register(cfg);
}
