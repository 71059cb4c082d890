//! The command line: `mama [serve]`, `mama migrate up|down [N]|status`.
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
        action: crate::litellm::cli::LitellmCommand,
    },
    /// Manage the API clients of /api/v1 (`create` prints the token on its last line).
    ApiClient {
        #[command(subcommand)]
        action: crate::api_clients::cli::ApiClientAction,
    },
    /// The audit trail: verify, archive, generate, bench.
    Audit {
        #[command(subcommand)]
        action: crate::audit::cli::AuditCommand,
    },
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
