//! The model catalogue: LiteLLM's model groups, cached in `models` with the time
//! each was last seen. With LiteLLM unreachable the last known catalogue stays.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, TransactionSession,
    TransactionTrait,
    sea_query::{Expr, OnConflict},
};

use super::{client::LiteLlm, worker::NOTICE};
use crate::{entities::model, state::SystemNotices};

/// Choices LiteLLM understands on any key; always offered, never "unavailable".
pub const SPECIAL: [&str; 2] = ["all-team-models", "all-proxy-models"];

pub fn is_special(name: &str) -> bool {
    SPECIAL.contains(&name)
}

/// Fetches LiteLLM's models and stores them: seen ones available with `last_seen_at`
/// now, the others kept but marked unavailable. Returns how many are available.
pub async fn refresh(
    client: &LiteLlm,
    db: &sea_orm::DatabaseConnection,
    notices: &Arc<SystemNotices>,
) -> anyhow::Result<usize> {
    let names = match client.models().await {
        Ok(n) => n,
        Err(e) => {
            let since = last_refresh(db).await.ok().flatten();
            let when = since
                .map(|t| format!("from {}", t.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_else(|| "(none yet)".into());
            notices.set(
                NOTICE,
                Some(format!(
                    "LiteLLM is unreachable ({e}). The model list is the last one known {when}; changes wait as pending."
                )),
            );
            return Err(e.into());
        }
    };
    notices.set(NOTICE, None);
    store(db, &names).await?;
    Ok(names.len())
}

/// Stores a fetched model list (one transaction).
pub async fn store<C>(db: &C, names: &[String]) -> Result<(), DbErr>
where
    C: TransactionTrait,
    C::Transaction: TransactionSession,
{
    let now = Utc::now();
    let txn = db.begin().await?;
    for chunk in names.chunks(200) {
        model::Entity::insert_many(chunk.iter().map(|n| model::ActiveModel {
            name: Set(n.clone()),
            available: Set(true),
            first_seen_at: Set(now),
            last_seen_at: Set(Some(now)),
            details: Set(None),
        }))
        .on_conflict(
            OnConflict::column(model::Column::Name)
                .update_columns([model::Column::Available, model::Column::LastSeenAt])
                .to_owned(),
        )
        .exec(&txn)
        .await?;
    }
    model::Entity::update_many()
        .col_expr(model::Column::Available, Expr::value(false))
        .filter(model::Column::Name.is_not_in(names.iter().cloned()))
        .exec(&txn)
        .await?;
    txn.commit().await
}

/// When the catalogue was last fetched successfully.
pub async fn last_refresh(conn: &impl ConnectionTrait) -> Result<Option<DateTime<Utc>>, DbErr> {
    Ok(model::Entity::find()
        .order_by_desc(model::Column::LastSeenAt)
        .one(conn)
        .await?
        .and_then(|m| m.last_seen_at))
}

/// The catalogue: available models first, then those LiteLLM no longer offers.
pub async fn catalogue(conn: &impl ConnectionTrait) -> Result<Vec<model::Model>, DbErr> {
    model::Entity::find()
        .order_by_desc(model::Column::Available)
        .order_by_asc(model::Column::Name)
        .all(conn)
        .await
}

/// What an admin may pick: the special values, then every available model.
pub async fn choices(conn: &impl ConnectionTrait) -> Result<Vec<String>, DbErr> {
    let mut out: Vec<String> = SPECIAL.iter().map(|s| s.to_string()).collect();
    out.extend(
        model::Entity::find()
            .filter(model::Column::Available.eq(true))
            .order_by_asc(model::Column::Name)
            .all(conn)
            .await?
            .into_iter()
            .map(|m| m.name),
    );
    Ok(out)
}

/// Which of `names` LiteLLM does not offer (shown in red). Special values never are.
pub async fn unavailable_among(
    conn: &impl ConnectionTrait,
    names: &[String],
) -> Result<Vec<String>, DbErr> {
    let wanted: Vec<String> = names.iter().filter(|n| !is_special(n)).cloned().collect();
    // No catalogue fetched yet: unknown, not unavailable.
    if wanted.is_empty() || model::Entity::find().one(conn).await?.is_none() {
        return Ok(vec![]);
    }
    let available: std::collections::HashSet<String> = model::Entity::find()
        .filter(model::Column::Name.is_in(wanted.clone()))
        .filter(model::Column::Available.eq(true))
        .all(conn)
        .await?
        .into_iter()
        .map(|m| m.name)
        .collect();
    Ok(wanted
        .into_iter()
        .filter(|n| !available.contains(n))
        .collect())
}
