//! Reading the audit trail: filters and keyset pagination on the event ID
//! (newest first, `id < cursor`), never OFFSET. Shared by `/audit`, the export
//! and `GET /api/v1/audit/events`.
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::entities::{audit_event, audit_target};

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
pub async fn search(
    db: &impl ConnectionTrait,
    f: &AuditFilter,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<audit_event::Model>, DbErr> {
    use audit_event::Column as C;
    let (low, high) = id_bounds(db, f).await?;
    let mut q = audit_event::Entity::find()
        .order_by_desc(C::Id)
        .limit(limit);
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
    if let Some(user) = &f.target_user {
        // Walk the (user_id, event_id) primary key of audit_targets backwards:
        // an index range scan, however many events the table holds.
        use sea_orm::{
            QueryTrait,
            sea_query::{Expr, ExprTrait},
        };
        let t = audit_target::Entity;
        q = q.filter(Expr::col((t, audit_target::Column::UserId)).eq(user.clone()));
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
    }
    q.all(db).await
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
