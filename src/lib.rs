//! mama: LiteLLM virtual keys for the people of an organisation.
pub mod admins;
pub mod api;
pub mod api_clients;
pub mod audit;
pub mod auditor;
pub mod cli;
pub mod client_ip;
pub mod config;
pub mod crypto;
pub mod csv;
pub mod db;
/// Data generators and benchmark harnesses: only with the `dev-tools` feature.
#[cfg(feature = "dev-tools")]
pub mod devtools;
pub mod entities;
pub mod error;
pub mod health;
pub mod i18n;
pub mod litellm;
pub mod metrics;
pub mod services;
pub mod spec;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod users;
pub mod web;
