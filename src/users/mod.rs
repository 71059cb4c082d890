//! Users: the admins' main page. (The full bulk-editing UI builds on this.)
mod handlers;
pub mod queries;
pub mod service;

/// `/users…`.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(handlers::list);
}
