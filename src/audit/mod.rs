//! The audit trail: the action vocabulary, the recorder every request goes
//! through, the hash chain, the auditor pages, their queries and exports.
mod action;
pub mod chain;
pub mod cli;
mod event;
pub mod export;
pub mod forms;
pub mod handlers;
pub mod queries;
mod recorder;
pub mod views;

pub use crate::error::Outcome;
pub use action::Action;
pub use event::{Actor, Event, insert};
pub use recorder::{AuditCtx, QuietPolls, audit_middleware, is_exempt};

/// The `/audit` pages. The exports come before `/audit/{id}`, which would
/// otherwise claim their paths.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(handlers::export_csv)
        .service(handlers::export_jsonl)
        .service(handlers::verify)
        .service(handlers::list)
        .service(handlers::view);
}
