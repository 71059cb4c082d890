//! mama's one integration-test binary: one module per feature.
mod helpers;
mod webdriver;

mod account;
mod admins;
mod audit_core;
mod browser;
mod browser_users;
mod login;
mod pages;
mod services;
mod startup;
mod users;
