//! `mama keys reencrypt`: moves every stored key to the current encryption key
//! (and the legacy format to the current one), in small batches while mama serves.
//!
//! Resumable by construction: each batch is one transaction that rewrites a row
//! only if its ciphertext is still the one read (so a concurrent rotation wins),
//! together with the batch's audit event; the next run simply finds the rows not
//! yet on the current key. A row that cannot be decrypted is left untouched and
//! named; it never stops the others.
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};

use crate::{
    audit::{self, Action, Event, Outcome},
    crypto::KeyCipher,
    entities::user,
};

/// Rows per transaction unless asked otherwise: short enough that the write lock
/// (SQLite) or the row locks (PostgreSQL) never hold up the service noticeably.
pub const DEFAULT_BATCH: u64 = 200;

/// One row left behind, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub user_id: String,
    pub code: &'static str,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Rows not on the current key when the run started.
    pub pending_at_start: u64,
    pub moved: u64,
    pub failed: Vec<Failed>,
}

/// Rows whose ciphertext does not name the current key (legacy rows included).
fn not_current(cipher: &KeyCipher) -> sea_orm::Condition {
    // Key ids are hex, so the pattern has no LIKE wildcards of its own.
    sea_orm::Condition::all()
        .add(user::Column::KeyCiphertext.not_like(format!("v2:{}:%", cipher.current_key_id())))
}

/// How many rows still need re-encrypting.
pub async fn pending(db: &impl ConnectionTrait, cipher: &KeyCipher) -> Result<u64, DbErr> {
    user::Entity::find()
        .filter(not_current(cipher))
        .count(db)
        .await
}

/// Re-encrypts every row not on the current key, `batch` rows per transaction,
/// sleeping `pause` between batches; `progress(done, total)` after each batch.
pub async fn run(
    db: &DatabaseConnection,
    cipher: &KeyCipher,
    batch: u64,
    pause: std::time::Duration,
    mut progress: impl FnMut(&Report),
) -> Result<Report, DbErr> {
    let mut report = Report {
        pending_at_start: pending(db, cipher).await?,
        ..Default::default()
    };
    let mut after_id = 0;
    loop {
        let rows: Vec<(i32, String, String, String)> = user::Entity::find()
            .select_only()
            .columns([
                user::Column::Id,
                user::Column::UserId,
                user::Column::KeyCiphertext,
                user::Column::KeySha256,
            ])
            .filter(user::Column::Id.gt(after_id))
            .filter(not_current(cipher))
            .order_by_asc(user::Column::Id)
            .limit(batch.max(1))
            .into_tuple()
            .all(db)
            .await?;
        let Some(last) = rows.last() else { break };
        after_id = last.0;
        let mut moved = vec![];
        let mut from: std::collections::BTreeMap<String, u64> = Default::default();
        let mut failed = vec![];
        let txn = crate::db::begin_write(db).await?;
        for (id, user_id, stored, sha) in rows {
            match cipher.decrypt(&user_id, &stored, &sha) {
                Ok(key) => {
                    let fresh = cipher.encrypt(&user_id, &key);
                    let n = user::Entity::update_many()
                        .col_expr(user::Column::KeyCiphertext, Expr::value(fresh))
                        .filter(user::Column::Id.eq(id))
                        .filter(user::Column::KeyCiphertext.eq(stored.as_str()))
                        .exec(&txn)
                        .await?
                        .rows_affected;
                    if n == 1 {
                        *from
                            .entry(
                                KeyCipher::key_id_of(&stored)
                                    .unwrap_or("legacy")
                                    .to_string(),
                            )
                            .or_default() += 1;
                        moved.push(user_id);
                    }
                }
                Err(e) => failed.push(Failed {
                    user_id,
                    code: e.code(),
                }),
            }
        }
        let mut ev = Event::system(
            "cli",
            Action::KeysReencrypt,
            if failed.is_empty() {
                Outcome::Success
            } else {
                Outcome::Error
            },
        );
        ev.targets = moved.clone();
        ev.details = serde_json::json!({
            "to_key_id": cipher.current_key_id(),
            "moved": moved.len(),
            "from_key_ids": from,
            "failed": failed.iter().map(|f| serde_json::json!({"user_id": f.user_id, "code": f.code})).collect::<Vec<_>>(),
        });
        audit::insert(&txn, &ev).await?;
        txn.commit().await?;
        report.moved += moved.len() as u64;
        report.failed.extend(failed);
        progress(&report);
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
    Ok(report)
}
