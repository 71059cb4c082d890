//! mama's one integration-test binary: one module per feature.
mod helpers;
mod i18n;
mod i18n_browser;
mod webdriver;

mod account;
mod admin_day;
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
mod browser_day;
mod browser_users;
mod cli;
mod hot_path;
mod litellm;
mod login;
mod pages;
mod services;
mod startup;
mod users;
