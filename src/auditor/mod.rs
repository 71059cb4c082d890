//! The auditor's pages: `/audit` (the filtered list), one event, the streamed
//! exports and the chain verification. The trail itself (recorder, queries,
//! exports, chain) is `crate::audit`.
mod forms;
mod handlers;
mod views;

/// The `/audit` pages. The exports come before `/audit/{id}`, which would
/// otherwise claim their paths.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(handlers::export_csv)
        .service(handlers::export_jsonl)
        .service(handlers::verify)
        .service(handlers::list)
        .service(handlers::view);
}
