//! `mama litellm reconcile [--repair]` and `mama litellm bench`.
use std::{sync::Arc, time::Instant};

use clap::Subcommand;
use sea_orm::EntityTrait;

use super::{LiteLlm, client::CallCtx, reconcile, worker};
use crate::{
    audit::{self, Action, Event, Outcome},
    config::{DatabaseUrl, Settings},
    crypto::KeyCipher,
    db,
    entities::user,
    state::SystemNotices,
    users::service::{self, NewUser},
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
    /// Benchmark: sync N new users to LiteLLM at each concurrency, print keys/s, then
    /// delete the keys it made. Uses a throwaway SQLite database.
    Bench {
        #[arg(long, default_value_t = 1000)]
        users: usize,
        /// Concurrency levels to measure (default: 1 and the configured default).
        #[arg(long, value_delimiter = ',')]
        concurrency: Vec<usize>,
    },
}

fn client_of(settings: &Settings, conn: sea_orm::DatabaseConnection) -> anyhow::Result<LiteLlm> {
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
        LitellmCommand::Bench { users, concurrency } => bench(settings, users, concurrency).await,
    }
}

async fn bench(settings: Settings, n: usize, levels: Vec<usize>) -> anyhow::Result<()> {
    let levels = if levels.is_empty() {
        vec![1, settings.sync.concurrency]
    } else {
        levels
    };
    let cipher = KeyCipher::new(&settings.secrets.encryption_key);
    let mut results = vec![];
    for c in levels {
        let dir = std::env::temp_dir().join("mama-bench");
        std::fs::create_dir_all(&dir)?;
        let tag = crate::crypto::random_base62(8).to_lowercase();
        let url = DatabaseUrl::new(format!("sqlite://{}/{tag}.db?mode=rwc", dir.display()));
        db::migrate_up(&url).await?;
        let conn = db::connect(&url, 16).await?;
        let client = client_of(&settings, conn.clone())?;
        let txn = crate::db::begin_write(&conn).await?;
        for i in 0..n {
            service::create_user(
                &txn,
                &cipher,
                NewUser {
                    user_id: format!("bench-{tag}-{i}"),
                    organisation: "Bench".into(),
                    key_alias: Some(format!("bench-{tag}-{i}")),
                    models: vec!["gpt-4o".into(), "fast-chat".into()],
                    ..Default::default()
                },
                Some(&format!("bench-{tag}")),
            )
            .await?;
        }
        txn.commit().await?;
        let mut sync = settings.sync.clone();
        sync.concurrency = c;
        sync.poll_interval = std::time::Duration::from_millis(10);
        let w = Arc::new(worker::Worker::new(
            conn.clone(),
            client.clone(),
            cipher.clone(),
            sync,
            Arc::new(SystemNotices::default()),
            Arc::new(tokio::sync::Notify::new()),
        ));
        let started = Instant::now();
        let task = tokio::spawn(w.run());
        let ok = worker::wait_until_idle(&conn, std::time::Duration::from_secs(3600)).await;
        let secs = started.elapsed().as_secs_f64();
        task.abort();
        let all = user::Entity::find().all(&conn).await?;
        let synced = all
            .iter()
            .filter(|u| u.sync_state == super::sync_state::SyncState::Synced.as_str())
            .count();
        let rate = synced as f64 / secs;
        println!("concurrency {c:>3}: {synced}/{n} keys synced in {secs:.1} s = {rate:.1} keys/s");
        results.push((c, rate));
        if !ok || synced != n {
            println!("  warning: not every key was synced");
        }
        // Leave the proxy as we found it.
        let hashes: Vec<String> = all.iter().map(|u| u.key_sha256.clone()).collect();
        for chunk in hashes.chunks(100) {
            client.delete(chunk, &CallCtx::default()).await?;
        }
        conn.close().await?;
        let _ = std::fs::remove_file(dir.join(format!("{tag}.db")));
    }
    if let (Some((_, base)), Some((c, best))) = (results.first(), results.last()) {
        println!("speed-up at concurrency {c}: {:.2}x", best / base);
    }
    Ok(())
}
