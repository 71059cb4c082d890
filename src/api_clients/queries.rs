//! Queries over `api_clients`.
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, sea_query::Expr,
};

use crate::entities::api_client::{self, Column as C, Entity as ApiClient};

pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<api_client::Model>, DbErr> {
    ApiClient::find()
        .order_by_asc(C::RevokedAt.is_not_null())
        .order_by_asc(C::Name)
        .all(db)
        .await
}

pub async fn find(db: &impl ConnectionTrait, id: i32) -> Result<Option<api_client::Model>, DbErr> {
    ApiClient::find_by_id(id).one(db).await
}

pub async fn find_by_name(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<api_client::Model>, DbErr> {
    ApiClient::find().filter(C::Name.eq(name)).one(db).await
}

/// The client whose token hashes to `sha256` (revoked or not), and the read
/// generation (`read_generation.n`), in one statement: every API call resolves
/// its token, and the lookup checks its cached answers against that counter; on
/// SQLite each statement is a hand-off to a connection thread and back.
pub async fn find_by_token_hash_with_generation(
    db: &impl ConnectionTrait,
    sha256: &str,
) -> Result<Option<(api_client::Model, i64)>, DbErr> {
    use sea_orm::{FromQueryResult, QuerySelect, QueryTrait};
    let stmt = ApiClient::find()
        .filter(C::TokenSha256.eq(sha256))
        .expr_as(
            Expr::cust("(SELECT CAST(n AS BIGINT) FROM read_generation WHERE id = 1)"),
            "read_generation",
        )
        .build(db.get_database_backend());
    // No `.one()`: it would bind a LIMIT (see `db::by_key`); the token is unique.
    let Some(row) = db.query_one_raw(stmt).await? else {
        return Ok(None);
    };
    let generation: Option<i64> = row.try_get("", "read_generation")?;
    Ok(Some((
        api_client::Model::from_query_result(&row, "")?,
        generation.unwrap_or(0),
    )))
}

/// Sets `revoked_at` unless already set; true when this call revoked it.
pub async fn revoke(db: &impl ConnectionTrait, id: i32, at: DateTime<Utc>) -> Result<bool, DbErr> {
    let r = ApiClient::update_many()
        .col_expr(C::RevokedAt, Expr::value(at))
        .filter(C::Id.eq(id))
        .filter(C::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Records use, at most once per `every` per client (the hot path must not write
/// on each call): the UPDATE only matches when the stored time is older.
pub async fn touch_last_used(
    db: &impl ConnectionTrait,
    id: i32,
    now: DateTime<Utc>,
    stale_before: DateTime<Utc>,
) -> Result<(), DbErr> {
    ApiClient::update_many()
        .col_expr(C::LastUsedAt, Expr::value(now))
        .filter(C::Id.eq(id))
        .filter(
            sea_orm::Condition::any()
                .add(C::LastUsedAt.is_null())
                .add(C::LastUsedAt.lt(stale_before)),
        )
        .exec(db)
        .await?;
    Ok(())
}
