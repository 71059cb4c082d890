//! Service queries.
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder,
};

use crate::{
    db::{exec, stmt},
    entities::{service, user, user_service},
};

/// A service and how many users have it.
#[derive(Debug, Clone, FromQueryResult)]
pub struct WithCount {
    pub id: i32,
    pub name: String,
    pub description: String,
    pub users: i64,
}

pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<WithCount>, DbErr> {
    WithCount::find_by_statement(stmt(
        db.get_database_backend(),
        "SELECT s.id AS id, s.name AS name, s.description AS description, \
         (SELECT COUNT(*) FROM user_services us WHERE us.service_id = s.id) AS users \
         FROM services s ORDER BY s.name",
        vec![],
    ))
    .all(db)
    .await
}

pub async fn find(db: &impl ConnectionTrait, id: i32) -> Result<Option<service::Model>, DbErr> {
    service::Entity::find_by_id(id).one(db).await
}

pub async fn find_by_name(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<service::Model>, DbErr> {
    service::Entity::find()
        .filter(service::Column::Name.eq(name))
        .one(db)
        .await
}

pub async fn create(
    db: &impl ConnectionTrait,
    name: &str,
    description: &str,
) -> Result<service::Model, DbErr> {
    let now = Utc::now();
    service::ActiveModel {
        name: Set(name.to_string()),
        description: Set(description.to_string()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

pub async fn rename(
    db: &impl ConnectionTrait,
    id: i32,
    name: &str,
    description: &str,
) -> Result<(), DbErr> {
    exec(
        db,
        "UPDATE services SET name = ?, description = ?, updated_at = ? WHERE id = ?",
        vec![
            name.to_string().into(),
            description.to_string().into(),
            Utc::now().into(),
            id.into(),
        ],
    )
    .await
    .map(|_| ())
}

/// The external IDs of the users who have this service.
pub async fn users_of(db: &impl ConnectionTrait, id: i32) -> Result<Vec<String>, DbErr> {
    use sea_orm::{JoinType, QuerySelect, RelationTrait};
    user::Entity::find()
        .select_only()
        .column(user::Column::UserId)
        .join(JoinType::InnerJoin, user::Relation::Services.def())
        .filter(user_service::Column::ServiceId.eq(id))
        .order_by_asc(user::Column::UserId)
        .into_tuple::<String>()
        .all(db)
        .await
}

pub async fn delete(db: &impl ConnectionTrait, id: i32) -> Result<(), DbErr> {
    service::Entity::delete_by_id(id).exec(db).await.map(|_| ())
}

pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<service::Model>, DbErr> {
    service::Entity::find()
        .order_by_asc(service::Column::Name)
        .all(db)
        .await
}
