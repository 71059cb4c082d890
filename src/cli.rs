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
    /// Encryption at rest of users' keys: `reencrypt` moves every row to the
    /// current MAMA_ENCRYPTION_KEY (resumable; safe while mama serves).
    Keys {
        #[command(subcommand)]
        action: KeysAction,
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
pub enum KeysAction {
    /// Re-encrypt every stored key not yet under the current key (legacy rows
    /// included), in batches, each audited; prints progress. Interrupt and run
    /// again at will: finished rows are skipped. Exit 1 naming the users whose
    /// key cannot be decrypted with the configured keys.
    Reencrypt {
        /// Rows per transaction.
        #[arg(long, default_value_t = crate::users::reencrypt::DEFAULT_BATCH)]
        batch: u64,
        /// Pause between batches, in milliseconds (to spare a busy database).
        #[arg(long, default_value_t = 0)]
        pause_ms: u64,
    },
    /// How many rows are not on the current key, and the current key id.
    Status,
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
