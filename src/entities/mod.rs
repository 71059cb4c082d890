//! SeaORM entities, one file per table; data only.
pub mod admin;
pub mod admin_session;
pub mod api_client;
pub mod app_state;
pub mod audit_event;
pub mod audit_target_chunk;
pub mod audit_target_run;
pub mod key_sync_state;
pub mod login_throttle;
pub mod model;
pub mod service;
pub mod sync_drift;
pub mod sync_job;
pub mod user;
pub mod user_model;
pub mod user_service;
