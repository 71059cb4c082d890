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
    /// Import, export or seed users.
    Users {
        #[command(subcommand)]
        action: UsersAction,
    },
    /// The service catalogue: list, add, rename, remove.
    Services {
        #[command(subcommand)]
        action: crate::services::cli::ServicesAction,
    },
    /// Apply a YAML spec of services and users (keys as code). Prints the plan;
    /// `--dry-run` exits 2 when the state differs from the spec, 0 when not.
    Apply {
        file: std::path::PathBuf,
        /// Print the plan only; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also delete the users and services the spec does not list.
        #[arg(long)]
        prune: bool,
    },
    /// Write the current services and users (never keys) as a spec for `mama apply`.
    Export {
        #[arg(long, value_parser = ["yaml"], default_value = "yaml")]
        format: String,
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
        /// Add the services named in --services that the catalogue lacks (in the
        /// same transaction as the users).
        #[arg(long)]
        create_services: bool,
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
