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

#[derive(Subcommand, Debug)]
pub enum UsersAction {
    /// Create the users of a `user_id,organisation` CSV (header optional). Nothing is
    /// written when any line is bad; per-line errors are printed.
    Import {
        file: std::path::PathBuf,
        /// Models for every new user, comma-separated.
        #[arg(long, default_value = "")]
        models: String,
        /// Services (names from the catalogue) for every new user, comma-separated.
        #[arg(long, default_value = "")]
        services: String,
        /// Only validate; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write every user (never the key) as CSV to standard output.
    Export,
    /// Insert COUNT synthetic users (for benchmarks and demos; not sent to LiteLLM).
    Seed {
        #[arg(long, default_value_t = 100_000)]
        count: usize,
        #[arg(long, default_value = "seed")]
        prefix: String,
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
