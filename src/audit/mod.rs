//! The audit trail: the action vocabulary, the recorder every request goes
//! through, the hash chain, the queries and exports over it. The auditor's pages
//! are `crate::auditor` (they sit above `web`, which this module must not import).
mod action;
pub mod chain;
pub mod checkpoint;
pub mod chunk;
pub mod cli;
mod event;
pub mod export;
pub mod indexer;
pub mod queries;
mod recorder;
pub mod writer;

pub use crate::error::Outcome;
pub use action::Action;
pub use event::{Actor, Event, insert};
pub use recorder::{AuditCtx, QuietPolls, audit_middleware, is_exempt, redact_query};
pub use writer::AuditWriter;
