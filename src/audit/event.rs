//! An audit event and the one function that stores it.
use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};
use serde_json::Value;

use super::{Action, Outcome};
use crate::entities::audit_event;

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Anonymous,
    Admin {
        id: i32,
        username: String,
    },
    ApiClient {
        id: i32,
        name: String,
    },
    /// mama itself: the sync worker, a CLI command run by an operator.
    System(String),
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Anonymous => "anonymous",
            Actor::Admin { .. } => "admin",
            Actor::ApiClient { .. } => "api_client",
            Actor::System(_) => "system",
        }
    }
    fn id(&self) -> Option<String> {
        match self {
            Actor::Admin { id, .. } | Actor::ApiClient { id, .. } => Some(id.to_string()),
            _ => None,
        }
    }
    fn name(&self) -> Option<String> {
        match self {
            Actor::Admin { username, .. } => Some(username.clone()),
            Actor::ApiClient { name, .. } => Some(name.clone()),
            Actor::System(name) => Some(name.clone()),
            Actor::Anonymous => None,
        }
    }
}

/// One audit event. Build it, then [`insert`] it; never put a secret in it.
#[derive(Debug, Clone)]
pub struct Event {
    pub occurred_at: DateTime<Utc>,
    pub request_id: String,
    pub actor: Actor,
    pub action: Action,
    pub outcome: Outcome,
    pub http_status: Option<u16>,
    pub duration_us: i64,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    /// The external user IDs read or written.
    pub targets: Vec<String>,
    pub details: Value,
}

impl Event {
    /// A bare event for work that is not an HTTP request (worker, CLI).
    pub fn system(actor: &str, action: Action, outcome: Outcome) -> Self {
        Event {
            occurred_at: Utc::now(),
            request_id: crate::crypto::random_id(),
            actor: Actor::System(actor.to_string()),
            action,
            outcome,
            http_status: None,
            duration_us: 0,
            client_ip: None,
            user_agent: None,
            method: None,
            path: None,
            targets: vec![],
            details: Value::Object(Default::default()),
        }
    }
}

/// `s` cut to fit a column of `max` bytes.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    crate::text::clip(s, max).to_string()
}

/// The row of `ev`, unsealed. Its `targets` column is the source of truth for
/// "who read user X"; the `audit_targets` index is filled later, off the request's
/// path, by [`super::indexer`].
fn row(ev: &Event) -> audit_event::ActiveModel {
    let mut targets: Vec<&str> = ev.targets.iter().map(String::as_str).collect();
    targets.sort_unstable();
    targets.dedup();
    audit_event::ActiveModel {
        occurred_at: Set(ev.occurred_at),
        request_id: Set(ev.request_id.clone()),
        actor_kind: Set(ev.actor.kind().to_string()),
        actor_id: Set(ev.actor.id()),
        actor_name: Set(ev.actor.name().map(|n| truncate(&n, 128))),
        action: Set(ev.action.as_str().to_string()),
        outcome: Set(ev.outcome.as_str().to_string()),
        http_status: Set(ev.http_status.map(i32::from)),
        duration_us: Set(ev.duration_us),
        client_ip: Set(ev.client_ip.as_deref().map(|s| truncate(s, 64))),
        user_agent: Set(ev.user_agent.as_deref().map(|s| truncate(s, 256))),
        method: Set(ev.method.clone()),
        path: Set(ev.path.as_deref().map(|s| truncate(s, 2048))),
        target_count: Set(targets.len() as i32),
        targets: Set(serde_json::to_string(&ev.targets).unwrap_or_else(|_| "[]".into())),
        details: Set(ev.details.to_string()),
        ..Default::default()
    }
}

/// The rows of `events` sealed as they are stored: with the ids `ids` (as many,
/// ascending), chain positions after `head`, each linked under the current audit
/// key (see [`super::chain::insert_sealed`]).
pub(crate) fn sealed_rows(
    events: &[&Event],
    ids: impl IntoIterator<Item = i64>,
    mut head: super::chain::Anchor,
    keys: &super::chain::AuditKeys,
) -> Result<Vec<audit_event::ActiveModel>, DbErr> {
    use sea_orm::TryIntoModel;
    let mut rows = Vec::with_capacity(events.len());
    for (ev, id) in events.iter().zip(ids) {
        let seq = head.seq + 1;
        let mut am = row(ev);
        am.id = Set(id);
        am.seq = Set(Some(seq));
        am.prev_hash = Set(None);
        am.hash = Set(None);
        am.link_key = Set(Some(keys.current_id().to_string()));
        // The link covers the stored fields, so it is made from the row itself.
        let hash = keys.current_link(&head.hash, &am.clone().try_into_model()?, seq);
        am.prev_hash = Set(Some(std::mem::replace(&mut head.hash, hash.clone())));
        am.hash = Set(Some(hash));
        head.seq = seq;
        rows.push(am);
    }
    Ok(rows)
}

/// Stores event rows (unsealed from [`row`], or built by [`sealed_rows`]) with
/// multi-row INSERTs of power-of-two lengths.
pub(crate) async fn insert_rows(
    conn: &impl ConnectionTrait,
    rows: Vec<audit_event::ActiveModel>,
) -> Result<(), DbErr> {
    let mut rows = rows.into_iter();
    for len in crate::db::pow2_lengths(rows.len(), EVENTS_PER_STATEMENT) {
        audit_event::Entity::insert_many(rows.by_ref().take(len))
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Stores the event on `conn`, which may be a transaction: a write and its event
/// then commit or roll back together.
pub async fn insert(conn: &impl ConnectionTrait, ev: &Event) -> Result<i64, DbErr> {
    Ok(audit_event::Entity::insert(row(ev))
        .exec(conn)
        .await?
        .last_insert_id)
}

/// Most events per INSERT statement (a power of two, see
/// [`crate::db::pow2_lengths`]). Every pooled SQLite connection keeps the
/// programs of the lengths it ran, 17 bound columns a row: up to 512 rows
/// they held 1.65 MB under lookup load (heaptrack, README fifteenth session);
/// up to 32 a sixth of that, and a group commit of 128 events takes four
/// statements instead of one.
const EVENTS_PER_STATEMENT: usize = 32;

/// Stores many events with multi-row INSERTs on `conn` (the group-commit writer's
/// transaction).
pub async fn insert_many(conn: &impl ConnectionTrait, events: &[&Event]) -> Result<(), DbErr> {
    insert_rows(conn, events.iter().map(|e| row(e)).collect()).await
}

/// The user IDs of a stored `targets` column.
pub fn stored_targets(targets: &str) -> Vec<String> {
    serde_json::from_str(targets).unwrap_or_default()
}
