//! mama's one integration-test binary: one module per feature.
mod helpers;
mod webdriver;

mod account;
mod admins;
mod api;
mod api_clients;
mod audit_browser;
mod audit_chain;
mod audit_core;
mod audit_routes;
mod audit_secrets;
mod audit_trail;
mod browser;
mod browser_users;
mod cli;
mod hot_path;
mod litellm;
mod login;
mod pages;
mod security;
mod services;
mod startup;
mod users;
