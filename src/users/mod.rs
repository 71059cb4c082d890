//! Users: the admins' main page — search, sort, page, select, bulk edits,
//! create-many, the edit dialog and the key reveal.
pub mod bulk;
pub mod cli;
pub mod forms;
mod handlers;
pub mod messages;
pub mod queries;
pub mod service;
pub mod views;

/// `/users…`. The fixed `/users/bulk/…` paths come before `/users/{user_id}`.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(handlers::list)
        .service(handlers::sync_state)
        .service(handlers::bulk_preview)
        .service(handlers::bulk_apply)
        .service(handlers::create_form)
        .service(handlers::create_preview)
        .service(handlers::create_apply)
        .service(handlers::view)
        .service(handlers::update)
        .service(handlers::reveal);
}
