//! The outbox: every change LiteLLM must learn of is a `sync_jobs` row written in
//! the same transaction as the change (and the user is marked `pending`).
//!
//! An `upsert` job carries no state: the worker reads the user's *current* desired
//! state when it runs and sends all of it (generate, then update when the key
//! exists), so jobs are idempotent and later edits are never undone by older jobs.
//! `delete` and `rotate` carry the SHA-256 of the key LiteLLM must drop.
use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    sea_query::Expr,
};

use super::sync_state::{JobState, SyncState};
use crate::entities::{sync_job, user};

/// What a job asks of LiteLLM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Make LiteLLM's key match the user's current state (create or update).
    Upsert,
    /// Delete the key whose hash is in the payload.
    Delete,
    /// The user has a new key (already stored): upsert it, then delete the old hash.
    Rotate,
    /// `/key/block` or `/key/unblock`, whichever the user's *current* `blocked`
    /// says (no state in the payload, like an upsert).
    Block,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Upsert => "upsert",
            Op::Delete => "delete",
            Op::Rotate => "rotate",
            Op::Block => "block",
        }
    }
    pub fn parse(s: &str) -> Option<Op> {
        [Op::Upsert, Op::Delete, Op::Rotate, Op::Block]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

fn job(
    user_ref: &str,
    op: Op,
    payload: serde_json::Value,
    batch_id: Option<&str>,
) -> sync_job::ActiveModel {
    let now = Utc::now();
    sync_job::ActiveModel {
        user_ref: Set(user_ref.to_string()),
        operation: Set(op.as_str().to_string()),
        payload: Set(payload.to_string()),
        state: Set(JobState::Pending.into()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        lease_owner: Set(None),
        lease_until: Set(None),
        last_error: Set(None),
        batch_id: Set(batch_id.map(str::to_string)),
        created_at: Set(now),
        updated_at: Set(now),
        finished_at: Set(None),
        ..Default::default()
    }
}

async fn insert_jobs(
    conn: &impl ConnectionTrait,
    jobs: Vec<sync_job::ActiveModel>,
) -> Result<(), DbErr> {
    for chunk in jobs.chunks(500) {
        sync_job::Entity::insert_many(chunk.to_vec())
            .exec(conn)
            .await?;
    }
    Ok(())
}

async fn mark_pending(conn: &impl ConnectionTrait, user_refs: &[String]) -> Result<(), DbErr> {
    for chunk in user_refs.chunks(500) {
        user::Entity::update_many()
            .col_expr(user::Column::SyncState, Expr::value(SyncState::Pending))
            .col_expr(user::Column::SyncError, Expr::value(Option::<String>::None))
            .filter(user::Column::UserId.is_in(chunk.iter().cloned()))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// Queues one `op` job (with `payload`) per user (by external ID) and marks the
/// users pending.
async fn enqueue(
    conn: &impl ConnectionTrait,
    user_refs: &[String],
    op: Op,
    payload: serde_json::Value,
    batch_id: Option<&str>,
) -> Result<(), DbErr> {
    if user_refs.is_empty() {
        return Ok(());
    }
    let jobs = user_refs
        .iter()
        .map(|u| job(u, op, payload.clone(), batch_id))
        .collect();
    insert_jobs(conn, jobs).await?;
    mark_pending(conn, user_refs).await
}

/// Queues "make LiteLLM match" for these users (by external ID) and marks them pending.
pub async fn enqueue_upsert(
    conn: &impl ConnectionTrait,
    user_refs: &[String],
    batch_id: Option<&str>,
) -> Result<(), DbErr> {
    enqueue(conn, user_refs, Op::Upsert, serde_json::json!({}), batch_id).await
}

/// Queues "make LiteLLM match, even over a change made outside mama" (an admin
/// chose to overwrite a drift, or to repair after reconcile).
pub async fn enqueue_upsert_forced(
    conn: &impl ConnectionTrait,
    user_refs: &[String],
    batch_id: Option<&str>,
) -> Result<(), DbErr> {
    let force = serde_json::json!({"force": true});
    enqueue(conn, user_refs, Op::Upsert, force, batch_id).await
}

/// Queues "block or unblock as the user now says" for these users and marks them
/// pending.
pub async fn enqueue_block(
    conn: &impl ConnectionTrait,
    user_refs: &[String],
    batch_id: Option<&str>,
) -> Result<(), DbErr> {
    enqueue(conn, user_refs, Op::Block, serde_json::json!({}), batch_id).await
}

/// Queues the first sync of users just created (already marked pending, so no
/// UPDATE of the users is needed: one multi-row INSERT per chunk of jobs).
pub async fn enqueue_created(
    conn: &impl ConnectionTrait,
    user_refs: &[String],
    batch_id: Option<&str>,
) -> Result<(), DbErr> {
    let jobs = user_refs
        .iter()
        .map(|u| job(u, Op::Upsert, serde_json::json!({}), batch_id))
        .collect();
    insert_jobs(conn, jobs).await
}

/// Queues the deletion of a key from LiteLLM (the user row may already be gone).
pub async fn enqueue_delete(
    conn: &impl ConnectionTrait,
    user_ref: &str,
    key_sha256: &str,
    batch_id: Option<&str>,
) -> Result<(), DbErr> {
    insert_jobs(
        conn,
        vec![job(
            user_ref,
            Op::Delete,
            serde_json::json!({"key_sha256": key_sha256}),
            batch_id,
        )],
    )
    .await
}

/// Queues a rotation: the new key is already stored on the user; `old_key_sha256`
/// is deleted from LiteLLM once the new key is in place.
pub async fn enqueue_rotate(
    conn: &impl ConnectionTrait,
    user_ref: &str,
    old_key_sha256: &str,
    batch_id: Option<&str>,
) -> Result<(), DbErr> {
    insert_jobs(
        conn,
        vec![job(
            user_ref,
            Op::Rotate,
            serde_json::json!({"old_key_sha256": old_key_sha256}),
            batch_id,
        )],
    )
    .await?;
    mark_pending(conn, &[user_ref.to_string()]).await
}
