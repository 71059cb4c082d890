use clap::Parser;
use mama::{
    cli::{AuditAction, Cli, Command, LitellmAction, MigrateAction, UsersAction},
    config::Settings,
    startup::Application,
};
use migration::{Migrator, MigratorTrait};

/// jemalloc, not glibc's malloc, for Rust's allocations (C code such as SQLite
/// keeps glibc's). On the lookup bench it took mama's CPU per call from 2.13 to
/// 1.51 ms at 32 connections (README, "Lookup benchmark from outside"). Its
/// settings are built in from `JEMALLOC_SYS_WITH_MALLOC_CONF` in
/// `.cargo/config.toml`; `_RJEM_MALLOC_CONF` overrides them at run time.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's own figures for `/metrics` (`mama_allocator_bytes`); empty if
/// it cannot be read.
fn jemalloc_stats() -> Vec<(&'static str, u64)> {
    use tikv_jemalloc_ctl::{epoch, stats};
    if epoch::advance().is_err() {
        return Vec::new();
    }
    [
        ("allocated", stats::allocated::read()),
        ("active", stats::active::read()),
        ("resident", stats::resident::read()),
        ("metadata", stats::metadata::read()),
        ("retained", stats::retained::read()),
    ]
    .into_iter()
    .filter_map(|(kind, v)| Some((kind, v.ok()? as u64)))
    .collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    mama::telemetry::init();
    mama::metrics::set_allocator_probe(jemalloc_stats);
    let cli = Cli::parse();
    // Each command reads only what it needs: `migrate` and `healthcheck` must not
    // create development secrets as a side effect.
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            Application::build(Settings::from_env()?)
                .await?
                .run_until_signal()
                .await?
        }
        Command::Healthcheck => {
            let port = mama::config::bind_from_env()?.port();
            let url = format!("http://127.0.0.1:{port}/healthz");
            let ok = reqwest::Client::new()
                .get(&url)
                .timeout(std::time::Duration::from_secs(3))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            std::process::exit(if ok { 0 } else { 1 });
        }
        Command::Litellm { action } => match action {
            LitellmAction::Core(a) => mama::litellm::cli::run(Settings::from_env()?, a).await?,
            #[cfg(feature = "dev-tools")]
            LitellmAction::Dev(a) => mama::devtools::litellm::run(Settings::from_env()?, a).await?,
        },
        Command::ApiClient { action } => {
            mama::api_clients::cli::run(&Settings::from_env()?, action).await?
        }
        Command::Admin { action } => mama::admins::cli::run(&Settings::from_env()?, action).await?,
        Command::Users { action } => {
            let code = match action {
                UsersAction::Core(a) => mama::users::cli::run(Settings::from_env()?, a).await?,
                #[cfg(feature = "dev-tools")]
                UsersAction::Dev(a) => mama::devtools::users::run(Settings::from_env()?, a).await?,
            };
            std::process::exit(code);
        }
        Command::Services { action } => {
            let code = mama::services::cli::run(Settings::from_env()?, action).await?;
            std::process::exit(code);
        }
        Command::Apply {
            file,
            dry_run,
            prune,
        } => {
            let code = mama::spec::cli::apply(
                Settings::from_env()?,
                &file,
                dry_run,
                prune,
                &mut std::io::stdout().lock(),
            )
            .await?;
            std::process::exit(code);
        }
        Command::Export { format: _ } => {
            let code =
                mama::spec::cli::export(Settings::from_env()?, &mut std::io::stdout().lock())
                    .await?;
            std::process::exit(code);
        }
        Command::Migrate { action } => {
            let url = mama::config::database_url_from_env()?;
            mama::db::with_migration_lock(&url, |db| async move {
                match action {
                    MigrateAction::Up => Migrator::up(&db, None).await,
                    MigrateAction::Down { n } => Migrator::down(&db, Some(n.unwrap_or(1))).await,
                    MigrateAction::Status => Migrator::status(&db).await,
                }
            })
            .await?;
        }
        Command::Keys { action } => {
            let code = keys_command(Settings::from_env()?, action).await?;
            std::process::exit(code);
        }
        Command::Audit { action } => {
            let code = match action {
                AuditAction::Core(a) => mama::audit::cli::run(a, Settings::from_env()?).await?,
                #[cfg(feature = "dev-tools")]
                AuditAction::Dev(a) => mama::devtools::audit::run(a, Settings::from_env()?).await?,
            };
            std::process::exit(code);
        }
    }
    Ok(())
}

/// `mama keys …`.
async fn keys_command(settings: Settings, action: mama::cli::KeysAction) -> anyhow::Result<i32> {
    use mama::{cli::KeysAction, crypto::KeyCipher, users::reencrypt};
    let db = mama::db::connect(&settings.database_url, 2).await?;
    let cipher = KeyCipher::from_secrets(&settings.secrets);
    match action {
        KeysAction::Status => {
            let n = reencrypt::pending(&db, &cipher).await?;
            println!(
                "current key id {}; {n} rows not on it",
                cipher.current_key_id()
            );
            Ok(0)
        }
        KeysAction::Reencrypt { batch, pause_ms } => {
            let report = reencrypt::run(
                &db,
                &cipher,
                batch,
                std::time::Duration::from_millis(pause_ms),
                |r| {
                    println!(
                        "reencrypt: {} / {} rows moved to key {}, {} failed",
                        r.moved,
                        r.pending_at_start,
                        cipher.current_key_id(),
                        r.failed.len()
                    )
                },
            )
            .await?;
            for f in &report.failed {
                eprintln!("user {}: {} (left as it was)", f.user_id, f.code);
            }
            println!(
                "reencrypt done: {} moved, {} failed, {} left",
                report.moved,
                report.failed.len(),
                reencrypt::pending(&db, &cipher).await?
            );
            Ok(if report.failed.is_empty() { 0 } else { 1 })
        }
    }
}
