//! Reading the audit trail: filters and keyset pagination on the event ID
//! (newest first, `id < cursor`), never OFFSET. Shared by `/audit`, the export
//! and `GET /api/v1/audit/events`.
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::entities::{audit_event, audit_target, audit_target_run};

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
/// By target user it is exact although the `audit_targets` index lags: it reads
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
    // The runs that can hold a match, newest first, RUNS_PER_QUERY at a time;
    // once the page is full, the runs left cannot change it when even their
    // ceiling (the highest event id of a run and every older one) is older than
    // the page's oldest event.
    let mut older_than = i64::MAX;
    loop {
        let runs = candidate_runs(db, older_than, before, low).await?;
        let Some(&(_, ceiling)) = runs.first() else {
            break;
        };
        let full = found.len() as u64 >= limit;
        if full && found.last().is_some_and(|e| e.id > ceiling) {
            break;
        }
        older_than = runs.last().map_or(i64::MIN, |r| r.0);
        let batch = runs.iter().map(|r| r.0);
        found.extend(
            indexed(q.clone(), user, before, low, batch)
                .limit(limit)
                .all(db)
                .await?,
        );
        sort_and_cut(&mut found, limit);
        if runs.len() < RUNS_PER_QUERY as usize {
            break;
        }
    }
    Ok(found)
}

/// Runs of `audit_targets` probed by one statement (one index seek each).
const RUNS_PER_QUERY: u64 = 256;

/// Newest first, each event once, at most `limit`.
fn sort_and_cut(found: &mut Vec<audit_event::Model>, limit: u64) {
    found.sort_unstable_by_key(|e| std::cmp::Reverse(e.id));
    found.dedup_by_key(|e| e.id);
    found.truncate(limit as usize);
}

/// The next `RUNS_PER_QUERY` runs older than `older_than` whose event-id range
/// meets `(low, before)`, newest first, with their ceilings.
async fn candidate_runs(
    db: &impl ConnectionTrait,
    older_than: i64,
    before: Option<i64>,
    low: Option<i64>,
) -> Result<Vec<(i64, i64)>, DbErr> {
    use audit_target_run::Column as R;
    let mut q = audit_target_run::Entity::find()
        .select_only()
        .column(R::Run)
        .column(R::CeilingEventId)
        .filter(R::Run.lt(older_than))
        .order_by_desc(R::Run)
        .limit(RUNS_PER_QUERY);
    if let Some(b) = before {
        q = q.filter(R::MinEventId.lt(b));
    }
    if let Some(l) = low {
        q = q.filter(R::MaxEventId.gt(l));
    }
    q.into_tuple().all(db).await
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
    use sea_orm::{Condition, sea_query::LikeExpr};
    let mark = super::indexer::indexed_seq(db).await?;
    let quoted = serde_json::to_string(user).unwrap_or_default();
    let pattern = format!(
        "%{}%",
        quoted
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let rows = q
        .filter(Condition::any().add(C::Seq.is_null()).add(C::Seq.gt(mark)))
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

/// `q` restricted to the events the index lists for `user` in `runs`: one seek of
/// the `(run, user_id, event_id)` key per run.
fn indexed(
    mut q: sea_orm::Select<audit_event::Entity>,
    user: &str,
    before: Option<i64>,
    low: Option<i64>,
    runs: impl Iterator<Item = i64>,
) -> sea_orm::Select<audit_event::Entity> {
    use sea_orm::{
        QueryTrait,
        sea_query::{Expr, ExprTrait},
    };
    let t = audit_target::Entity;
    q = q.filter(Expr::col((t, audit_target::Column::Run)).is_in(runs));
    q = q.filter(Expr::col((t, audit_target::Column::UserId)).eq(user.to_string()));
    if let Some(b) = before {
        q = q.filter(Expr::col((t, audit_target::Column::EventId)).lt(b));
    }
    if let Some(l) = low {
        q = q.filter(Expr::col((t, audit_target::Column::EventId)).gt(l));
    }
    let stmt = QueryTrait::query(&mut q);
    stmt.inner_join(
        t,
        Expr::col((t, audit_target::Column::EventId))
            .equals((audit_event::Entity, audit_event::Column::Id)),
    );
    stmt.clear_order_by();
    stmt.order_by(
        (t, audit_target::Column::EventId),
        sea_orm::sea_query::Order::Desc,
    );
    q
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
