//! mama's one integration-test binary: one module per feature.
mod helpers;

mod startup;
mod webdriver;
