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
        Command::Serve => Application::build(settings).await?.run_until_stopped().await?,
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
