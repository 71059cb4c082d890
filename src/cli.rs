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
    /// Encryption at rest of users' keys: `reencrypt` moves every row to the
    /// current MAMA_ENCRYPTION_KEY (resumable; safe while mama serves).
    Keys {
        #[command(subcommand)]
        action: KeysAction,
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
