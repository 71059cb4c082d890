//! Data generators and benchmark harnesses, for development only: compiled with
//! the `dev-tools` cargo feature (on by default, so `cargo test`, `cargo bench`
//! and the README's reproduce commands have them; the production image builds
//! with `--no-default-features`). Nothing in the app imports this module.
pub mod audit;
pub mod litellm;
pub mod users;
