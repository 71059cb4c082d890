//! The `admin_sessions` rows behind the guard: find one with its admin, touch
//! it, end it. (Creating sessions and ending all of an admin's is `admins::queries`.)
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, sea_query::Expr};

use crate::entities::{admin, admin_session};

/// The session `id` and its admin, through the declared relation (one query).
pub async fn session_with_admin(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<(admin_session::Model, admin::Model)>, DbErr> {
    let row = admin_session::Entity::find_by_id(id)
        .find_also_related(admin::Entity)
        .one(db)
        .await?;
    Ok(row.and_then(|(s, a)| a.map(|a| (s, a))))
}

pub async fn touch_session(
    db: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    admin_session::Entity::update_many()
        .col_expr(admin_session::Column::LastSeenAt, Expr::value(now))
        .filter(admin_session::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn delete_session(db: &impl ConnectionTrait, id: &str) -> Result<(), DbErr> {
    admin_session::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}
