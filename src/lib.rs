//! mama: LiteLLM virtual keys for the people of an organisation.
pub mod admins;
pub mod audit;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod entities;
pub mod error;
pub mod health;
pub mod litellm;
pub mod services;
pub mod startup;
pub mod telemetry;
pub mod users;
pub mod web;
