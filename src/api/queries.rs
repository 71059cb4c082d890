//! The lookup's reads: one query for the users, one for their models and services
//! together (joined to the catalogue for names), each IN-list chunked so SQLite's
//! bound-variable limit is never reached.
use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::{entities::user, users::queries::UserGrants};

/// Bound variables per IN-list (SQLite allows 32,766; PostgreSQL 65,535). Each
/// list is padded to a power of two ([`crate::db::pow2_padded`]), so the reads of
/// any number of missing users take a few prepared shapes.
const CHUNK: usize = 1024;

/// The users among `ids` (external IDs), with their grants, in no particular
/// order.
pub async fn lookup(db: &impl ConnectionTrait, ids: &[String]) -> Result<Vec<UserGrants>, DbErr> {
    let mut users = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        users.extend(
            user::Entity::find()
                .filter(user::Column::UserId.is_in(crate::db::pow2_padded(chunk)))
                .all(db)
                .await?,
        );
    }
    with_grants(db, users).await
}

/// Up to `limit` users after the primary key `after`, in key order, with their
/// grants: the lookup cache's preload reads everyone page by page.
pub async fn page_after(
    db: &impl ConnectionTrait,
    after: i32,
    limit: u64,
) -> Result<Vec<UserGrants>, DbErr> {
    let users = user::Entity::find()
        .filter(user::Column::Id.gt(after))
        .order_by_asc(user::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    with_grants(db, users).await
}

/// `users` with their models and services, read together.
async fn with_grants(
    db: &impl ConnectionTrait,
    users: Vec<user::Model>,
) -> Result<Vec<UserGrants>, DbErr> {
    let pks: Vec<i32> = users.iter().map(|u| u.id).collect();
    let mut models: HashMap<i32, Vec<String>> = HashMap::with_capacity(pks.len());
    let mut services: HashMap<i32, Vec<String>> = HashMap::with_capacity(pks.len());
    for chunk in pks.chunks(CHUNK) {
        for (u, kind, name) in permissions(db, &crate::db::pow2_padded(chunk)).await? {
            let into = if kind == 0 {
                &mut models
            } else {
                &mut services
            };
            into.entry(u).or_default().push(name);
        }
    }
    Ok(users
        .into_iter()
        .map(|u| UserGrants {
            models: models.remove(&u.id).unwrap_or_default(),
            services: services.remove(&u.id).unwrap_or_default(),
            user: u,
        })
        .collect())
}

/// The models (kind 0) and services (kind 1, by catalogue name) of the users
/// `pks`, sorted by name, in one round trip: a UNION ALL of two index scans that
/// SeaORM cannot express as one query.
async fn permissions(
    db: &impl ConnectionTrait,
    pks: &[i32],
) -> Result<Vec<(i32, i32, String)>, DbErr> {
    let marks = vec!["?"; pks.len()].join(",");
    let sql = format!(
        "SELECT user_id, 0 AS kind, model AS name FROM user_models WHERE user_id IN ({marks}) \
         UNION ALL \
         SELECT us.user_id, 1, s.name FROM user_services us JOIN services s ON s.id = us.service_id \
         WHERE us.user_id IN ({marks}) \
         ORDER BY 3"
    );
    let values: Vec<sea_orm::Value> = pks.iter().chain(pks).map(|&p| p.into()).collect();
    let rows = crate::db::query_all(db, &sql, values).await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get_by_index::<i32>(0)?,
                r.try_get_by_index::<i32>(1)?,
                r.try_get_by_index::<String>(2)?,
            ))
        })
        .collect()
}
