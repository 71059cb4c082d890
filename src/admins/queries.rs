//! Admin accounts, sessions and login throttling in the database.
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};

use super::Role;
use crate::entities::{admin, admin_session, login_throttle};

pub async fn find_by_username(
    db: &impl ConnectionTrait,
    username: &str,
) -> Result<Option<admin::Model>, DbErr> {
    admin::Entity::find()
        .filter(admin::Column::Username.eq(username))
        .one(db)
        .await
}

pub async fn find(db: &impl ConnectionTrait, id: i32) -> Result<Option<admin::Model>, DbErr> {
    admin::Entity::find_by_id(id).one(db).await
}

pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<admin::Model>, DbErr> {
    admin::Entity::find()
        .order_by_asc(admin::Column::Username)
        .all(db)
        .await
}

pub async fn count_role(db: &impl ConnectionTrait, role: Role) -> Result<u64, DbErr> {
    admin::Entity::find()
        .filter(admin::Column::Role.eq(role.as_str()))
        .count(db)
        .await
}

/// Counts the accounts of `role`, locking their rows (PostgreSQL `FOR UPDATE`;
/// SQLite's `BEGIN IMMEDIATE` already holds the write lock) until the transaction ends.
pub async fn lock_and_count_role(db: &impl ConnectionTrait, role: Role) -> Result<u64, DbErr> {
    let mut q = admin::Entity::find().filter(admin::Column::Role.eq(role.as_str()));
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        q = q.lock_exclusive();
    }
    Ok(q.all(db).await?.len() as u64)
}

pub async fn create(
    db: &impl ConnectionTrait,
    username: &str,
    password_hash: String,
    role: Role,
    must_change_password: bool,
) -> Result<admin::Model, DbErr> {
    let now = Utc::now();
    admin::ActiveModel {
        username: Set(username.to_string()),
        password_hash: Set(password_hash),
        role: Set(role.as_str().to_string()),
        must_change_password: Set(must_change_password),
        failed_logins: Set(0),
        locked_until: Set(None),
        last_login_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

pub async fn delete(db: &impl ConnectionTrait, id: i32) -> Result<(), DbErr> {
    end_all_sessions(db, id).await?;
    admin::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// Sets a new password hash; `must_change` forces a change at next login. Unlocks.
pub async fn set_password(
    db: &impl ConnectionTrait,
    id: i32,
    password_hash: String,
    must_change: bool,
) -> Result<(), DbErr> {
    admin::Entity::update_many()
        .col_expr(admin::Column::PasswordHash, Expr::value(password_hash))
        .col_expr(admin::Column::MustChangePassword, Expr::value(must_change))
        .col_expr(admin::Column::FailedLogins, Expr::value(0))
        .col_expr(
            admin::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(admin::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(admin::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Clears the account-wide lock columns (older lockouts lived there).
pub async fn clear_lock(db: &impl ConnectionTrait, id: i32) -> Result<(), DbErr> {
    admin::Entity::update_many()
        .col_expr(admin::Column::FailedLogins, Expr::value(0))
        .col_expr(
            admin::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(admin::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn record_success(db: &impl ConnectionTrait, a: &admin::Model) -> Result<(), DbErr> {
    let mut am: admin::ActiveModel = a.clone().into();
    am.failed_logins = Set(0);
    am.locked_until = Set(None);
    am.last_login_at = Set(Some(Utc::now()));
    am.update(db).await?;
    Ok(())
}

// ---- sessions ----

pub async fn create_session(
    db: &impl ConnectionTrait,
    id: &str,
    admin_id: i32,
    client_ip: Option<&str>,
    user_agent: Option<&str>,
) -> Result<(), DbErr> {
    let now = Utc::now();
    admin_session::ActiveModel {
        id: Set(id.to_string()),
        admin_id: Set(admin_id),
        created_at: Set(now),
        last_seen_at: Set(now),
        client_ip: Set(client_ip.map(str::to_string)),
        user_agent: Set(user_agent.map(|u| u.chars().take(256).collect())),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Deletes sessions idle longer than `idle` or older than `max_lifetime`.
pub async fn purge_sessions(
    db: &impl ConnectionTrait,
    idle: std::time::Duration,
    max_lifetime: std::time::Duration,
) -> Result<u64, DbErr> {
    let now = Utc::now();
    let ago = |d: std::time::Duration| {
        now - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(1))
    };
    use sea_orm::Condition;
    Ok(admin_session::Entity::delete_many()
        .filter(
            Condition::any()
                .add(admin_session::Column::LastSeenAt.lt(ago(idle)))
                .add(admin_session::Column::CreatedAt.lt(ago(max_lifetime))),
        )
        .exec(db)
        .await?
        .rows_affected)
}

pub async fn end_all_sessions(db: &impl ConnectionTrait, admin_id: i32) -> Result<u64, DbErr> {
    Ok(admin_session::Entity::delete_many()
        .filter(admin_session::Column::AdminId.eq(admin_id))
        .exec(db)
        .await?
        .rows_affected)
}

pub async fn end_other_sessions(
    db: &impl ConnectionTrait,
    admin_id: i32,
    keep: &str,
) -> Result<u64, DbErr> {
    Ok(admin_session::Entity::delete_many()
        .filter(admin_session::Column::AdminId.eq(admin_id))
        .filter(admin_session::Column::Id.ne(keep))
        .exec(db)
        .await?
        .rows_affected)
}

// ---- per-IP throttling ----

pub async fn ip_throttle(
    db: &impl ConnectionTrait,
    ip: &str,
) -> Result<Option<login_throttle::Model>, DbErr> {
    login_throttle::Entity::find_by_id(ip).one(db).await
}
/// Stores an admin's language and time zone (`None`: follow the browser / the default).
pub async fn set_locale(
    db: &impl ConnectionTrait,
    id: i32,
    language: Option<&str>,
    time_zone: Option<&str>,
) -> Result<(), DbErr> {
    admin::Entity::update_many()
        .col_expr(
            admin::Column::Language,
            Expr::value(language.map(str::to_string)),
        )
        .col_expr(
            admin::Column::TimeZone,
            Expr::value(time_zone.map(str::to_string)),
        )
        .col_expr(admin::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(admin::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
