//! `mama users seed`: synthetic users for benchmarks and demos (dev tool: not in
//! the production image).
use std::io::Write;

use chrono::Utc;
use clap::Subcommand;
use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait};

use crate::{
    audit::{Action, Event, Outcome, insert},
    config::Settings,
    crypto::KeyCipher,
    entities::{user, user_model},
    litellm::{keys, sync_state::SyncState},
    users::queries::{self, CHUNK},
};

#[derive(Subcommand, Debug)]
pub enum UsersDevCommand {
    /// Insert COUNT synthetic users (for benchmarks and demos; not sent to LiteLLM).
    Seed {
        #[arg(long, default_value_t = 100_000)]
        count: usize,
        #[arg(long, default_value = "seed")]
        prefix: String,
    },
}

/// Runs a `mama users seed`; returns the process exit code.
pub async fn run(settings: Settings, action: UsersDevCommand) -> anyhow::Result<i32> {
    if settings.migrate_on_start {
        crate::db::migrate_up(&settings.database_url).await?;
    }
    let db = crate::db::connect(&settings.database_url, 4).await?;
    let cipher = KeyCipher::new(&settings.secrets.encryption_key);
    let mut out = std::io::stdout().lock();
    match action {
        UsersDevCommand::Seed { count, prefix } => {
            let started = std::time::Instant::now();
            seed(&db, &cipher, &prefix, count).await?;
            writeln!(
                out,
                "seeded {count} users ({prefix}-000000…) in {:.1} s",
                started.elapsed().as_secs_f64()
            )?;
            Ok(0)
        }
    }
}

/// Inserts `count` synthetic users `PREFIX-000000…` with one to two models each,
/// in batches (for benchmarks and demos: no sync jobs, marked `synced`).
pub async fn seed(
    db: &DatabaseConnection,
    cipher: &KeyCipher,
    prefix: &str,
    count: usize,
) -> Result<(), DbErr> {
    const MODELS: [&str; 4] = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "llama-3-70b"];
    let now = Utc::now();
    let mut done = 0;
    while done < count {
        let n = CHUNK.min(count - done);
        let txn = crate::db::begin_write(db).await?;
        let rows: Vec<user::ActiveModel> = (done..done + n)
            .map(|i| {
                let stored = keys::seal(cipher, &keys::generate());
                user::ActiveModel {
                    user_id: Set(format!("{prefix}-{i:06}")),
                    organisation: Set(format!("Org {:03}", i % 250)),
                    key_ciphertext: Set(stored.ciphertext),
                    key_sha256: Set(stored.sha256),
                    key_hint: Set(stored.hint),
                    key_alias: Set(None),
                    extra: Set(String::new()),
                    sync_state: Set(SyncState::Synced.into()),
                    sync_error: Set(None),
                    synced_at: Set(Some(now)),
                    version: Set(1),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
            })
            .collect();
        user::Entity::insert_many(rows).exec(&txn).await?;
        let names: Vec<String> = (done..done + n)
            .map(|i| format!("{prefix}-{i:06}"))
            .collect();
        let users = queries::find_many(&txn, &names).await?;
        let pairs: Vec<user_model::ActiveModel> = users
            .iter()
            .enumerate()
            .flat_map(|(k, u)| {
                let i = done + k;
                let mut v = vec![MODELS[i % 4]];
                if i % 3 == 0 {
                    v.push(MODELS[(i + 1) % 4]);
                }
                v.into_iter().map(move |m| user_model::ActiveModel {
                    user_id: Set(u.id),
                    model: Set(m.to_string()),
                })
            })
            .collect();
        user_model::Entity::insert_many(pairs).exec(&txn).await?;
        txn.commit().await?;
        done += n;
    }
    let mut ev = Event::system("cli", Action::UsersImport, Outcome::Success);
    ev.details = serde_json::json!({"seed": true, "count": count, "prefix": prefix});
    insert(db, &ev).await?;
    Ok(())
}
