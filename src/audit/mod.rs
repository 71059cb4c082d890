//! The audit trail: the action vocabulary, the recorder every request goes
//! through, the auditor pages and their queries.
mod action;
mod event;
pub mod handlers;
pub mod queries;
mod recorder;

pub use action::{Action, Outcome};
pub use event::{Actor, Event, insert};
pub use recorder::{AuditCtx, audit_middleware, is_exempt};

/// The `/audit` pages.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(handlers::list);
}
