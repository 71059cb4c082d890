//! The command line: `mama [serve]`, `mama migrate up|down [N]|status`, and each
//! feature's commands. The data generators and benchmark harnesses
//! (`crate::devtools`) are only there when the `dev-tools` feature is on (the
//! default for `cargo build`; the production image builds without it).
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "mama",
    version,
    about = "LiteLLM virtual keys for an organisation"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the web UI and API (the default).
    Serve,
    /// Exit 0 when the local server answers /healthz (for container health checks).
    Healthcheck,
    /// Manage the database schema by hand.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// LiteLLM: reconcile mama's keys with the proxy, benchmark the sync.
    Litellm {
        #[command(subcommand)]
        action: LitellmAction,
    },
    /// Manage the API clients of /api/v1 (`create` prints the token on its last line).
    ApiClient {
        #[command(subcommand)]
        action: crate::api_clients::cli::ApiClientAction,
    },
    /// The audit trail: verify, archive, generate, bench.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Admin accounts: `list`, `unlock USERNAME`, `reset-password USERNAME`.
    Admin {
        #[command(subcommand)]
        action: crate::admins::cli::AdminAction,
    },
    /// Import, export or seed users.
    Users {
        #[command(subcommand)]
        action: UsersAction,
    },
}

/// `mama users …`: the feature's commands, plus `seed` with `dev-tools`.
#[derive(Subcommand, Debug)]
pub enum UsersAction {
    #[command(flatten)]
    Core(crate::users::cli::UsersAction),
    #[cfg(feature = "dev-tools")]
    #[command(flatten)]
    Dev(crate::devtools::users::UsersDevCommand),
}

/// `mama audit …`: verify and archive, plus `generate` and `bench` with `dev-tools`.
#[derive(Subcommand, Debug)]
pub enum AuditAction {
    #[command(flatten)]
    Core(crate::audit::cli::AuditCommand),
    #[cfg(feature = "dev-tools")]
    #[command(flatten)]
    Dev(crate::devtools::audit::AuditDevCommand),
}

/// `mama litellm …`: reconcile, plus `bench` with `dev-tools`.
#[derive(Subcommand, Debug)]
pub enum LitellmAction {
    #[command(flatten)]
    Core(crate::litellm::cli::LitellmCommand),
    #[cfg(feature = "dev-tools")]
    #[command(flatten)]
    Dev(crate::devtools::litellm::LitellmDevCommand),
}

#[derive(Subcommand, Debug)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back the last N migrations (default 1).
    Down { n: Option<u32> },
    /// List migrations and whether each is applied.
    Status,
}
