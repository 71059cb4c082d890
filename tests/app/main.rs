//! mama's one integration-test binary: one module per feature.
mod helpers;
mod webdriver;

mod account;
mod admins;
mod api;
mod api_clients;
mod audit_core;
mod browser;
mod cli;
mod litellm;
mod login;
mod pages;
mod startup;
