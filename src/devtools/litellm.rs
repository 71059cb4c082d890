//! `mama litellm bench`: sync N new users to the real proxy at each concurrency
//! (dev tool: not in the production image).
use std::{sync::Arc, time::Instant};

use clap::Subcommand;
use sea_orm::EntityTrait;

use crate::{
    config::{DatabaseUrl, Settings},
    crypto::KeyCipher,
    db,
    entities::user,
    litellm::{cli::client_of, client::CallCtx, sync_state::SyncState, worker},
    state::SystemNotices,
    users::service::{self, NewUser},
};

#[derive(Subcommand, Debug)]
pub enum LitellmDevCommand {
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

pub async fn run(settings: Settings, cmd: LitellmDevCommand) -> anyhow::Result<()> {
    match cmd {
        LitellmDevCommand::Bench { users, concurrency } => {
            bench(settings, users, concurrency).await
        }
    }
}

async fn bench(settings: Settings, n: usize, levels: Vec<usize>) -> anyhow::Result<()> {
    let levels = if levels.is_empty() {
        vec![1, settings.sync.concurrency]
    } else {
        levels
    };
    let cipher = KeyCipher::from_secrets(&settings.secrets);
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
            Arc::new(crate::metrics::Metrics::default()),
        ));
        let started = Instant::now();
        let task = tokio::spawn(w.run(crate::shutdown::Stop::never(), std::time::Duration::ZERO));
        let ok = worker::wait_until_idle(&conn, std::time::Duration::from_secs(3600)).await;
        let secs = started.elapsed().as_secs_f64();
        task.abort();
        let all = user::Entity::find().all(&conn).await?;
        let synced = all
            .iter()
            .filter(|u| u.sync_state == SyncState::Synced.as_str())
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
