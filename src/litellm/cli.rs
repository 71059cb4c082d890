//! `mama litellm reconcile [--repair]` (`mama litellm bench` is a dev tool:
//! `crate::devtools::litellm`).

use clap::Subcommand;

use super::{LiteLlm, reconcile};
use crate::{
    audit::{self, Action, Event, Outcome},
    config::Settings,
    db,
};

#[derive(Subcommand, Debug)]
pub enum LitellmCommand {
    /// Compare mama's keys with LiteLLM's (by hash) and list the drift; with
    /// `--repair`, queue a sync for every drifted user (keys mama does not own are
    /// never touched). Exits 1 when drift remains unrepaired.
    Reconcile {
        #[arg(long)]
        repair: bool,
    },
}

pub fn client_of(
    settings: &Settings,
    conn: sea_orm::DatabaseConnection,
) -> anyhow::Result<LiteLlm> {
    let s = settings
        .litellm
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("LITELLM_BASE_URL and LITELLM_MASTER_KEY must be set"))?;
    LiteLlm::new(s, conn)
}

pub async fn run(settings: Settings, cmd: LitellmCommand) -> anyhow::Result<()> {
    match cmd {
        LitellmCommand::Reconcile { repair } => {
            let conn = db::connect(&settings.database_url, 4).await?;
            let client = client_of(&settings, conn.clone())?;
            let report = reconcile::compare(&conn, &client).await?;
            println!(
                "{} users checked: {} in step, {} drifted, {} with a sync still open; {} key(s) in LiteLLM unknown to mama (left alone)",
                report.checked,
                report.in_sync,
                report.drift.len(),
                report.pending,
                report.unknown.len()
            );
            for d in &report.drift {
                println!("drift\t{}\t{}\t{}", d.user_id, d.kinds.join(","), d.detail);
            }
            if repair && !report.drift.is_empty() {
                let txn = crate::db::begin_write(&conn).await?;
                let users = reconcile::repair(&txn, &report).await?;
                let mut ev = Event::system("cli", Action::SyncReconcile, Outcome::Success);
                ev.targets = users.clone();
                ev.details = serde_json::json!({"mode": "repair", "drift": report.drift, "unknown_left_alone": report.unknown.len()});
                audit::insert(&txn, &ev).await?;
                txn.commit().await?;
                println!("{} user(s) queued for repair", users.len());
            } else if !report.drift.is_empty() {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}
