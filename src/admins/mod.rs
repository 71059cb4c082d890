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

/// Roles are checked by the web guards, so they live in `crate::web`.
pub use crate::web::Role;

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

/// Starts the periodic [`purge_once`].
pub fn spawn_purger(
    db: sea_orm::DatabaseConnection,
    settings: std::sync::Arc<crate::config::Settings>,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(settings.security.purge_interval);
        loop {
            tick.tick().await;
            match purge_once(&db, &settings).await {
                Ok((s, t)) if s + t > 0 => {
                    tracing::info!(sessions = s, throttle_rows = t, "purged expired rows")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "purge of expired sessions failed"),
            }
        }
    });
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
