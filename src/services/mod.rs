//! Services: the catalogue of internal services admins grant to users
//! (create, rename, delete when unused).
pub mod cli;
mod handlers;
pub mod queries;
pub mod service;

/// `/services…`.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(handlers::list)
        .service(handlers::create)
        .service(handlers::rename)
        .service(handlers::delete);
}
