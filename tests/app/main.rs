//! mama's one integration-test binary: one module per feature.
mod helpers;
mod webdriver;

mod account;
mod admins;
mod audit_browser;
mod audit_chain;
mod audit_core;
mod audit_routes;
mod audit_secrets;
mod audit_trail;
mod browser;
mod login;
mod pages;
mod startup;
