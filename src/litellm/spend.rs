//! The spend refresh: reads each key's `spend` and `last_active` from LiteLLM's
//! `/key/list` and stores them on the user (matched by the key's SHA-256, which is
//! LiteLLM's `token`).
//!
//! The cheapest call LiteLLM 1.83 offers is `/key/list` with full objects, sorted
//! by `updated_at` descending: LiteLLM writes spend through the key row, so keys
//! that spent since the last run come first. The first run after start reads
//! every page; later runs stop at the first page that reaches below the newest
//! `updated_at` seen last time (minus a margin for LiteLLM's batched writes), so
//! a quiet proxy costs one call per interval, however many keys it holds. The
//! first run also stops as soon as it has seen every key mama holds (a proxy
//! shared with other key owners is not read to its end).
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
};

use super::client::{KeyRow, LiteLlm, parse_time};
use crate::{
    audit::{self, Action, Event, Outcome},
    entities::user,
};

/// Keys per `/key/list` page (LiteLLM's maximum).
pub const PAGE_SIZE: u64 = 100;
/// Rows updated this long before the newest one seen last time are read again:
/// LiteLLM's writes land in batches, not in `updated_at` order.
const OVERLAP: chrono::Duration = chrono::Duration::minutes(2);
/// The audit actor of the refresh.
pub const ACTOR: &str = "spend-refresh";

/// What one run did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub pages: u64,
    pub keys_read: usize,
    pub users_changed: usize,
}

/// The refresher's memory between runs: the newest `updated_at` seen.
#[derive(Debug, Default)]
pub struct Refresher {
    watermark: Option<DateTime<Utc>>,
}

impl Refresher {
    /// One run. A failed call stops the run (the next one starts over from the
    /// same watermark, so nothing is skipped).
    pub async fn run(
        &mut self,
        client: &LiteLlm,
        db: &DatabaseConnection,
    ) -> anyhow::Result<Stats> {
        let cutoff = self.watermark.map(|w| w - OVERLAP);
        // First run: the keys still to see, to stop early — those LiteLLM has
        // had (synced at least once; a key still waiting for its first sync is
        // not there to be seen).
        let mut unseen: Option<std::collections::HashSet<String>> = if cutoff.is_none() {
            Some(
                user::Entity::find()
                    .select_only()
                    .column(user::Column::KeySha256)
                    .filter(user::Column::SyncedAt.is_not_null())
                    .into_tuple::<String>()
                    .all(db)
                    .await?
                    .into_iter()
                    .collect(),
            )
        } else {
            None
        };
        let mut stats = Stats::default();
        let mut newest = self.watermark;
        let mut page = 1;
        loop {
            let (rows, more) = client.list_page_by_update(page, PAGE_SIZE).await?;
            stats.pages += 1;
            stats.keys_read += rows.len();
            let oldest = rows
                .iter()
                .filter_map(|r| r.updated_at.as_deref().and_then(parse_time))
                .min();
            // The next run reads back to the newest row of *this* run's first
            // page (less the overlap): rows written while this run paged on
            // are newer than it, wherever they were when paged past.
            if page == 1
                && let Some(t) = rows
                    .iter()
                    .filter_map(|r| r.updated_at.as_deref().and_then(parse_time))
                    .max()
            {
                newest = Some(newest.map_or(t, |n| n.max(t)));
            }
            stats.users_changed += store(db, &rows).await?;
            if let Some(u) = unseen.as_mut() {
                for r in &rows {
                    if let Some(t) = &r.token {
                        u.remove(t);
                    }
                }
            }
            let all_seen = unseen.as_ref().is_some_and(|u| u.is_empty());
            let reached = all_seen || matches!((cutoff, oldest), (Some(c), Some(o)) if o < c);
            if !more || reached || rows.is_empty() {
                break;
            }
            page += 1;
        }
        self.watermark = newest;
        Ok(stats)
    }
}

/// Stores the spend and last activity of the rows mama knows; returns how many
/// users changed. One transaction per page, with one `spend.refresh` audit
/// event naming the users whose spend changed (none when nothing changed).
async fn store(db: &DatabaseConnection, rows: &[KeyRow]) -> anyhow::Result<usize> {
    let seen: HashMap<&str, &KeyRow> = rows
        .iter()
        .filter_map(|r| r.token.as_deref().map(|t| (t, r)))
        .collect();
    if seen.is_empty() {
        return Ok(0);
    }
    let users = user::Entity::find()
        .filter(user::Column::KeySha256.is_in(seen.keys().map(|s| s.to_string())))
        .all(db)
        .await?;
    let now = Utc::now();
    let mut changed = vec![];
    for u in &users {
        let Some(r) = seen.get(u.key_sha256.as_str()) else {
            continue;
        };
        let spend = r.spend.or(u.spend);
        let last = r
            .last_active
            .as_deref()
            .and_then(parse_time)
            .or(u.last_active_at);
        if spend != u.spend || last != u.last_active_at {
            changed.push((u, spend, last));
        }
    }
    if changed.is_empty() {
        return Ok(0);
    }
    let txn = crate::db::begin_write(db).await?;
    let backend = txn.get_database_backend();
    for (u, spend, last) in &changed {
        txn.execute_raw(crate::db::stmt(
            backend,
            "UPDATE users SET spend = ?, last_active_at = ?, spend_refreshed_at = ? WHERE id = ?",
            vec![(*spend).into(), (*last).into(), now.into(), u.id.into()],
        ))
        .await?;
    }
    let mut ev = Event::system(ACTOR, Action::SpendRefresh, Outcome::Success);
    ev.targets = changed.iter().map(|(u, _, _)| u.user_id.clone()).collect();
    ev.details = serde_json::json!({
        "users": changed.len(),
        "spend": changed.iter().map(|(u, s, _)| serde_json::json!({
            "user_id": u.user_id, "before": u.spend, "after": s,
        })).collect::<Vec<_>>(),
    });
    audit::insert(&txn, &ev).await?;
    txn.commit().await?;
    Ok(changed.len())
}

/// Runs the refresh every `interval`, for ever (started by `litellm::start`).
pub async fn run_until_stopped(
    client: LiteLlm,
    db: DatabaseConnection,
    interval: std::time::Duration,
    mut stop: crate::shutdown::Stop,
) {
    let mut r = Refresher::default();
    let mut tick = tokio::time::interval(interval.max(std::time::Duration::from_millis(200)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.stopped() => return,
        }
        // A pass waiting on LiteLLM (up to its timeout) is cut at the stop:
        // spend is LiteLLM's, each page is stored on its own, and the next
        // pass (of any instance) reads it again.
        let pass = tokio::select! {
            r = r.run(&client, &db) => r,
            _ = stop.stopped() => return,
        };
        match pass {
            Ok(s) => {
                tracing::debug!(
                    pages = s.pages,
                    keys = s.keys_read,
                    changed = s.users_changed,
                    "spend refreshed"
                )
            }
            Err(e) => {
                tracing::warn!(error = %e, "spend refresh failed; keeping the last known spend")
            }
        }
    }
}
