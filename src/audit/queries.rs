//! Reading the audit trail (keyset pagination on the event ID, newest first).
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::entities::audit_event;

/// Up to `limit` events older than `before` (or the newest), newest first.
pub async fn page(db: &impl ConnectionTrait, before: Option<i64>, limit: u64) -> Result<Vec<audit_event::Model>, DbErr> {
    let mut q = audit_event::Entity::find().order_by_desc(audit_event::Column::Id).limit(limit);
    if let Some(b) = before {
        q = q.filter(audit_event::Column::Id.lt(b));
    }
    q.all(db).await
}
