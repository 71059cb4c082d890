//! Reading the audit trail: filters and keyset pagination on the event ID
//! (newest first, `id < cursor`), never OFFSET. Shared by `/audit`, the export
//! and `GET /api/v1/audit/events`.
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::{chunk, indexer};
use crate::entities::audit_event;

/// What an auditor filters on. Every field is optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Actor name (admin username, API client name, system actor).
    pub actor: Option<String>,
    /// Exact action texts (any of).
    pub actions: Vec<String>,
    /// An external user ID among the event's targets.
    pub target_user: Option<String>,
    pub outcome: Option<String>,
    pub request_id: Option<String>,
}

/// How far an event's `occurred_at` (its request's start, on its instance's
/// clock) may trail its insertion. Every event is stored when its request or call
/// ends; an hour is far beyond any request timeout or clock skew.
const INSERT_SLACK: chrono::Duration = chrono::Duration::hours(1);

/// Turns the time range into an exclusive id range, so that a time-bounded query
/// walking the id (or target) index stops at the window's edge instead of
/// scanning every older event. Ids grow with insertion, and an event is inserted
/// between its `occurred_at` and `occurred_at + INSERT_SLACK`; so any event that
/// occurred before `since - slack` has a smaller id than every event in the
/// window, and any event that occurred after `until + slack` a larger one. Each
/// bound is one probe of the `occurred_at` index.
async fn id_bounds(
    db: &impl ConnectionTrait,
    f: &AuditFilter,
) -> Result<(Option<i64>, Option<i64>), DbErr> {
    use audit_event::Column as C;
    let mut low = None;
    let mut high = None;
    if let Some(s) = f.since {
        low = audit_event::Entity::find()
            .select_only()
            .column(C::Id)
            .filter(C::OccurredAt.lt(s - INSERT_SLACK))
            .order_by_desc(C::OccurredAt)
            .limit(1)
            .into_tuple::<i64>()
            .one(db)
            .await?;
    }
    if let Some(u) = f.until {
        high = audit_event::Entity::find()
            .select_only()
            .column(C::Id)
            .filter(C::OccurredAt.gte(u + INSERT_SLACK))
            .order_by_asc(C::OccurredAt)
            .limit(1)
            .into_tuple::<i64>()
            .one(db)
            .await?;
    }
    Ok((low, high))
}

/// Up to `limit` events matching `f` with `id < before` (or the newest), newest first.
///
/// By target user it is exact although the target index lags: it reads
/// the unindexed tail first (one statement, a consistent snapshot), then the
/// index, and merges. Events only move forward (unsealed → sealed → indexed), so
/// reading in the opposite order never misses one that existed at the start.
pub async fn search(
    db: &impl ConnectionTrait,
    f: &AuditFilter,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<audit_event::Model>, DbErr> {
    let (low, high) = id_bounds(db, f).await?;
    let q = filtered(f, before, low, high);
    let Some(user) = &f.target_user else {
        return q.limit(limit).all(db).await;
    };
    let mut found = unindexed_tail(db, q.clone(), user).await?;
    sort_and_cut(&mut found, limit);
    // The runs newest first, a few at first (a user in many events fills a
    // page from the newest run), more each round up to `MAX_RUNS_PER_QUERY`
    // (a user in few events may be in any run). Once the page is full, a run
    // cannot change it when even its ceiling (the highest event id of it and
    // every older run) is older than the page's oldest event.
    let full = |found: &[audit_event::Model], ceiling: i64| {
        found.len() as u64 >= limit && found.last().is_some_and(|e| e.id > ceiling)
    };
    let (mut older_than, mut runs_per_query) = (i64::MAX, FIRST_RUNS_PER_QUERY);
    loop {
        let runs = indexer::user_chunks(db, user, older_than, before, low, runs_per_query).await?;
        let (mut ids, mut rest_older) = (Vec::new(), false);
        for run in &runs {
            // The runs before it in this batch are newer: their events are
            // still to be read.
            if full(&found, run.ceiling) {
                rest_older = true;
                break;
            }
            ids.extend(
                run.pairs
                    .as_deref()
                    .map(|p| chunk::events_of(p, user))
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|&id| before.is_none_or(|b| id < b) && low.is_none_or(|l| id > l)),
            );
        }
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids.dedup();
        for slice in ids.chunks(EVENTS_PER_QUERY) {
            if full(&found, slice[0]) {
                break;
            }
            found.extend(
                q.clone()
                    // Padded: a few IN shapes stay prepared (`db::pow2_padded`).
                    .filter(audit_event::Column::Id.is_in(crate::db::pow2_padded(slice)))
                    .all(db)
                    .await?,
            );
            sort_and_cut(&mut found, limit);
        }
        match runs.last() {
            _ if rest_older => break,
            Some(r) if runs.len() as u64 == runs_per_query => older_than = r.run,
            _ => break,
        }
        runs_per_query = (runs_per_query * 4).min(MAX_RUNS_PER_QUERY);
    }
    Ok(found)
}

/// Runs read by a search's first statement, and at most by one (one index
/// seek each).
const FIRST_RUNS_PER_QUERY: u64 = 4;
const MAX_RUNS_PER_QUERY: u64 = 256;
/// Events fetched by id per statement.
const EVENTS_PER_QUERY: usize = 256;

/// Newest first, each event once, at most `limit`.
fn sort_and_cut(found: &mut Vec<audit_event::Model>, limit: u64) {
    found.sort_unstable_by_key(|e| std::cmp::Reverse(e.id));
    found.dedup_by_key(|e| e.id);
    found.truncate(limit as usize);
}

/// Every filter but the target user, newest first.
fn filtered(
    f: &AuditFilter,
    before: Option<i64>,
    low: Option<i64>,
    high: Option<i64>,
) -> sea_orm::Select<audit_event::Entity> {
    use audit_event::Column as C;
    let mut q = audit_event::Entity::find().order_by_desc(C::Id);
    if let Some(b) = before {
        q = q.filter(C::Id.lt(b));
    }
    if let Some(l) = low {
        q = q.filter(C::Id.gt(l));
    }
    if let Some(h) = high {
        q = q.filter(C::Id.lt(h));
    }
    if let Some(s) = f.since {
        q = q.filter(C::OccurredAt.gte(s));
    }
    if let Some(u) = f.until {
        q = q.filter(C::OccurredAt.lt(u));
    }
    if let Some(a) = &f.actor {
        q = q.filter(C::ActorName.eq(a.clone()));
    }
    if !f.actions.is_empty() {
        q = q.filter(C::Action.is_in(f.actions.clone()));
    }
    if let Some(o) = &f.outcome {
        q = q.filter(C::Outcome.eq(o.clone()));
    }
    if let Some(r) = &f.request_id {
        q = q.filter(C::RequestId.eq(r.clone()));
    }
    q
}

/// The events of `q` that name `user` and are not in the index yet. The tail is
/// as long as the indexer's lag; a LIKE on the stored JSON narrows it in the
/// database, and the exact check is done here on the parsed list.
async fn unindexed_tail(
    db: &impl ConnectionTrait,
    q: sea_orm::Select<audit_event::Entity>,
    user: &str,
) -> Result<Vec<audit_event::Model>, DbErr> {
    use audit_event::Column as C;
    use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, Query, UnionType};
    let mark = super::indexer::indexed_seq(db).await?;
    let quoted = serde_json::to_string(user).unwrap_or_default();
    let pattern = format!(
        "%{}%",
        quoted
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    // The tail by its ids, from the seq index (`seq IS NULL`, then `seq >
    // mark`): with `seq IS NULL OR seq > mark` beside an id bound (a page's
    // cursor) SQLite walked the primary key instead, 190 ms for a page 10,000
    // events deep in a trail of a million (`mama audit bench`).
    let mut tail = Query::select();
    tail.column(C::Id)
        .from(audit_event::Entity)
        .and_where(Expr::col(C::Seq).is_null());
    let mut above = Query::select();
    above
        .column(C::Id)
        .from(audit_event::Entity)
        .and_where(Expr::col(C::Seq).gt(mark));
    tail.union(UnionType::All, above);
    let rows = q
        .filter(C::Id.in_subquery(tail))
        .filter(C::Targets.like(LikeExpr::new(pattern).escape('\\')))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|e| {
            super::event::stored_targets(&e.targets)
                .iter()
                .any(|t| t == user)
        })
        .collect())
}

/// Up to `limit` events older than `before` (or the newest), newest first.
pub async fn page(
    db: &impl ConnectionTrait,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<audit_event::Model>, DbErr> {
    search(db, &AuditFilter::default(), before, limit).await
}

/// One event by id.
pub async fn find(db: &impl ConnectionTrait, id: i64) -> Result<Option<audit_event::Model>, DbErr> {
    audit_event::Entity::find_by_id(id).one(db).await
}
