//! The model catalogue: LiteLLM's model groups as mama last saw them (`models`,
//! with the time each was last seen), and the two names LiteLLM understands on
//! any key. Used by the users pages (red models, pickers), the REST API and the
//! sync (`litellm::models::refresh` fills it). With LiteLLM unreachable the last
//! known catalogue stays.
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, TransactionSession,
    TransactionTrait,
    sea_query::{Expr, OnConflict},
};

use crate::entities::model;

/// Choices LiteLLM understands on any key; always offered, never "unavailable".
pub const SPECIAL: [&str; 2] = ["all-team-models", "all-proxy-models"];

pub fn is_special(name: &str) -> bool {
    SPECIAL.contains(&name)
}

/// A model as a user has it: special (badge), available, or no longer offered (red).
#[derive(Debug, Clone)]
pub struct ModelTag {
    pub name: String,
    pub special: bool,
    pub red: bool,
}

/// The catalogue, for deciding which models are red.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub available: BTreeSet<String>,
    /// Models LiteLLM offered once and no longer does.
    pub retired: BTreeSet<String>,
    /// False when LiteLLM is not configured (or never answered): nothing is red
    /// then, a banner says why instead.
    pub known: bool,
}

impl Catalogue {
    pub fn new(models: &[model::Model]) -> Self {
        Catalogue {
            available: models
                .iter()
                .filter(|m| m.available)
                .map(|m| m.name.clone())
                .collect(),
            retired: models
                .iter()
                .filter(|m| !m.available)
                .map(|m| m.name.clone())
                .collect(),
            known: !models.is_empty(),
        }
    }
    /// With LiteLLM not configured nothing can be called retired.
    pub fn configured(mut self, configured: bool) -> Self {
        self.known &= configured;
        self
    }
    pub fn tag(&self, name: &str) -> ModelTag {
        let special = SPECIAL.contains(&name);
        ModelTag {
            name: name.to_string(),
            special,
            red: self.known && !special && !self.available.contains(name),
        }
    }
    /// What an admin may pick: the specials, then every available model.
    pub fn choices(&self) -> Vec<String> {
        SPECIAL
            .iter()
            .map(|s| s.to_string())
            .chain(self.available.iter().cloned())
            .collect()
    }
}

/// The catalogue as it is stored now.
pub async fn load(conn: &impl ConnectionTrait) -> Result<Catalogue, DbErr> {
    Ok(Catalogue::new(&by_name(conn).await?))
}

/// Every model mama has seen, by name.
pub async fn by_name(conn: &impl ConnectionTrait) -> Result<Vec<model::Model>, DbErr> {
    model::Entity::find()
        .order_by_asc(model::Column::Name)
        .all(conn)
        .await
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

/// Available models first, then those LiteLLM no longer offers (the /models page).
pub async fn available_first(conn: &impl ConnectionTrait) -> Result<Vec<model::Model>, DbErr> {
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

/// How many users hold each of `models` (for /models: who still holds a retired one).
pub async fn holders(
    db: &impl ConnectionTrait,
    models: &[String],
) -> Result<std::collections::HashMap<String, u64>, DbErr> {
    use sea_orm::{
        QuerySelect,
        sea_query::{Expr, ExprTrait},
    };
    let mut out = std::collections::HashMap::new();
    for chunk in models.chunks(500) {
        let rows: Vec<(String, i64)> = crate::entities::user_model::Entity::find()
            .select_only()
            .column(crate::entities::user_model::Column::Model)
            .column_as(
                Expr::col(crate::entities::user_model::Column::UserId).count(),
                "n",
            )
            .filter(crate::entities::user_model::Column::Model.is_in(chunk.iter().cloned()))
            .group_by(crate::entities::user_model::Column::Model)
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows.into_iter().map(|(m, n)| (m, n as u64)));
    }
    Ok(out)
}
