//! The lookup's reads: one query for the users, one for their models, one for
//! their services (joined to the catalogue for names), each IN-list chunked so
//! SQLite's bound-variable limit is never reached.
use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, JoinType, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::entities::{model, service, user, user_model, user_service};

/// Bound variables per IN-list (SQLite allows 32,766; PostgreSQL 65,535).
const CHUNK: usize = 1000;

/// A found user with its permissions.
#[derive(Debug, Clone)]
pub struct Found {
    pub user: user::Model,
    pub models: Vec<String>,
    pub services: Vec<String>,
}

/// The users among `ids` (external IDs), keyed by external ID.
pub async fn lookup(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<HashMap<String, Found>, DbErr> {
    let mut users = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        users.extend(
            user::Entity::find()
                .filter(user::Column::UserId.is_in(chunk.iter().cloned()))
                .all(db)
                .await?,
        );
    }
    let pks: Vec<i32> = users.iter().map(|u| u.id).collect();
    let mut models: HashMap<i32, Vec<String>> = HashMap::new();
    let mut services: HashMap<i32, Vec<String>> = HashMap::new();
    for chunk in pks.chunks(CHUNK) {
        let rows: Vec<(i32, String)> = user_model::Entity::find()
            .select_only()
            .column(user_model::Column::UserId)
            .column(user_model::Column::Model)
            .filter(user_model::Column::UserId.is_in(chunk.iter().copied()))
            .order_by_asc(user_model::Column::Model)
            .into_tuple()
            .all(db)
            .await?;
        for (u, m) in rows {
            models.entry(u).or_default().push(m);
        }
        let rows: Vec<(i32, String)> = user_service::Entity::find()
            .select_only()
            .column(user_service::Column::UserId)
            .column(service::Column::Name)
            .join(JoinType::InnerJoin, service_relation())
            .filter(user_service::Column::UserId.is_in(chunk.iter().copied()))
            .order_by_asc(service::Column::Name)
            .into_tuple()
            .all(db)
            .await?;
        for (u, s) in rows {
            services.entry(u).or_default().push(s);
        }
    }
    Ok(users
        .into_iter()
        .map(|u| {
            let found = Found {
                models: models.remove(&u.id).unwrap_or_default(),
                services: services.remove(&u.id).unwrap_or_default(),
                user: u,
            };
            (found.user.user_id.clone(), found)
        })
        .collect())
}

fn service_relation() -> sea_orm::RelationDef {
    user_service::Entity::belongs_to(service::Entity)
        .from(user_service::Column::ServiceId)
        .to(service::Column::Id)
        .into()
}

/// The model catalogue, by name.
pub async fn models(db: &impl ConnectionTrait) -> Result<Vec<model::Model>, DbErr> {
    model::Entity::find()
        .order_by_asc(model::Column::Name)
        .all(db)
        .await
}
