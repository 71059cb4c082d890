use clap::Parser;
use mama::{
    cli::{Cli, Command, MigrateAction},
    config::Settings,
    startup::Application,
};
use migration::{Migrator, MigratorTrait};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    mama::telemetry::init();
    let cli = Cli::parse();
    let settings = Settings::from_env()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            Application::build(settings)
                .await?
                .run_until_stopped()
                .await?
        }
        Command::Healthcheck => {
            let port = settings.bind.port();
            let url = format!("http://127.0.0.1:{port}/healthz");
            let ok = reqwest::Client::new()
                .get(&url)
                .timeout(std::time::Duration::from_secs(3))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            std::process::exit(if ok { 0 } else { 1 });
        }
        Command::Users { action } => {
            let code = mama::users::cli::run(settings, action).await?;
            std::process::exit(code);
        }
        Command::Migrate { action } => {
            let url = settings.database_url;
            mama::db::with_migration_lock(&url, |db| async move {
                match action {
                    MigrateAction::Up => Migrator::up(&db, None).await,
                    MigrateAction::Down { n } => Migrator::down(&db, Some(n.unwrap_or(1))).await,
                    MigrateAction::Status => Migrator::status(&db).await,
                }
            })
            .await?;
        }
    }
    Ok(())
}
