//! User queries.
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryOrder, QuerySelect};

use crate::entities::user;

pub async fn first_page(
    db: &impl ConnectionTrait,
    limit: u64,
) -> Result<(Vec<user::Model>, u64), DbErr> {
    let total = user::Entity::find().count(db).await?;
    let rows = user::Entity::find()
        .order_by_asc(user::Column::UserId)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}
