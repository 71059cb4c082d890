//! User queries. Hand-written SQL where set-based statements matter (search, sort,
//! bulk edits); `?` placeholders are rewritten to `$n` for PostgreSQL by [`stmt`].
use std::collections::{BTreeSet, HashMap};

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, Value,
};

use super::forms::{ListQuery, SortKey};
use crate::entities::{service, user, user_model, user_service};

/// Rows per chunk of an `IN (…)` list: far below SQLite's variable limit.
pub const CHUNK: usize = 500;

pub use crate::db::{exec, stmt};

/// `?, ?, ?` for `n` values.
pub fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// `%needle%` for LIKE, lower-cased, with `\`, `%` and `_` escaped.
fn like_pattern(q: &str) -> String {
    let mut p = String::from("%");
    for c in q.to_lowercase().chars() {
        if matches!(c, '\\' | '%' | '_') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// Needles this long or longer are looked up in the trigram index.
const TRIGRAM: usize = 3;

/// A search matching at most this many users is answered matches-first (fetch
/// them, then sort); a broader one walks the sort order and filters, which
/// finds a page of dense matches at once.
const MATCHES_FIRST_MAX: u64 = 10_000;

/// A search as SQL: a WHERE clause over `users`, and how to count its matches.
pub struct Search {
    pub clause: String,
    pub values: Vec<Value>,
    count: String,
}

impl Search {
    /// The search served by the `users_search` table of migration
    /// `m20261122_160000_index_users_search` and its trigram indexes
    /// (case-insensitive substring of ID or organisation). On SQLite, needles
    /// of three characters or more: a phrase `MATCH` on the FTS5 `trigram`
    /// table (a substring match, case folded in Unicode); shorter ones scan
    /// (see [`Search::scan`]). On PostgreSQL, `ILIKE` on `users_search`, which
    /// the `pg_trgm` GIN indexes serve. Either way counted on `users_search`
    /// alone.
    pub fn indexed(backend: DbBackend, q: &str) -> Search {
        match backend {
            DbBackend::Sqlite if q.chars().count() >= TRIGRAM => {
                let phrase = format!("\"{}\"", q.replace('"', "\"\""));
                Search {
                    clause:
                        "users.id IN (SELECT rowid FROM users_search WHERE users_search MATCH ?)"
                            .into(),
                    values: vec![phrase.into()],
                    count: "SELECT COUNT(*) AS n FROM users_search WHERE users_search MATCH ?"
                        .into(),
                }
            }
            DbBackend::Postgres if !q.is_empty() => {
                let p = like_pattern(q);
                let found = "FROM users_search s \
                     WHERE s.user_id ILIKE ? ESCAPE '\\' OR s.organisation ILIKE ? ESCAPE '\\'";
                Search {
                    clause: format!("users.id IN (SELECT s.id {found})"),
                    values: vec![p.clone().into(), p.into()],
                    count: format!("SELECT COUNT(*) AS n {found}"),
                }
            }
            _ => Search::scan(backend, q),
        }
    }

    /// The same search tested row by row: `LIKE` on SQLite (ASCII case only)
    /// and `ILIKE` on PostgreSQL, never `LOWER()` per row (it cost more than the
    /// scan itself). A query ordered by an indexed column can then walk that
    /// index and stop after a page.
    pub fn scan(backend: DbBackend, q: &str) -> Search {
        if q.is_empty() {
            return Search {
                clause: "1 = 1".into(),
                values: vec![],
                count: "SELECT COUNT(*) AS n FROM users".into(),
            };
        }
        let p = like_pattern(q);
        let like = if backend == DbBackend::Postgres {
            "ILIKE"
        } else {
            "LIKE"
        };
        let clause = format!(
            "(users.user_id {like} ? ESCAPE '\\' OR users.organisation {like} ? ESCAPE '\\')"
        );
        Search {
            count: format!("SELECT COUNT(*) AS n FROM users WHERE {clause}"),
            clause,
            values: vec![p.clone().into(), p.into()],
        }
    }

    /// How many users match.
    pub async fn count(&self, db: &impl ConnectionTrait) -> Result<u64, DbErr> {
        #[derive(FromQueryResult)]
        struct Count {
            n: i64,
        }
        let backend = db.get_database_backend();
        Ok(
            Count::find_by_statement(stmt(backend, &self.count, self.values.clone()))
                .one(db)
                .await?
                .map_or(0, |c| c.n as u64),
        )
    }
}

/// The sort expression of each column. Each is served by an index of
/// `(expression, user_id)`, so a page walks it (forwards or backwards) and stops:
/// spend by an expression index, the grant counts by those of
/// `user_grant_counts` (kept by triggers, migration
/// `m20261202_130000_users_sort_indexes`; see [`counts_order`]).
fn order_expr(k: SortKey) -> &'static str {
    match k {
        SortKey::Id => "users.user_id",
        SortKey::Organisation => "users.organisation",
        SortKey::Key => "users.key_hint",
        SortKey::Alias => "users.key_alias",
        SortKey::Models => "c.model_count",
        SortKey::Services => "c.service_count",
        SortKey::Spend => "COALESCE(users.spend, 0)",
        SortKey::Budget => "users.max_budget",
        SortKey::Share => {
            "(CASE WHEN users.max_budget > 0 THEN COALESCE(users.spend, 0) / users.max_budget END)"
        }
        SortKey::Sync => "users.sync_state",
        SortKey::Updated => "users.updated_at",
    }
}

/// The grant counts are read from `user_grant_counts` (`c`), which carries a
/// copy of the user ID: a page that walks the sort order joins it and walks its
/// `(count, user_id)` index, looking each user up by ID; matches fetched first
/// look their counts up by ID instead (a join there hashed all 100,000 count
/// rows: 90 ms for 400 matches). Other columns need neither.
/// (join, sort expression, tie-break)
fn counts_order(k: SortKey, walk: bool) -> (&'static str, &'static str, &'static str) {
    const JOIN: &str = " JOIN user_grant_counts c ON c.id = users.id";
    match (k, walk) {
        (SortKey::Models | SortKey::Services, true) => (JOIN, order_expr(k), "c.user_id"),
        (SortKey::Models, false) => (
            "",
            "(SELECT c.model_count FROM user_grant_counts c WHERE c.id = users.id)",
            "users.user_id",
        ),
        (SortKey::Services, false) => (
            "",
            "(SELECT c.service_count FROM user_grant_counts c WHERE c.id = users.id)",
            "users.user_id",
        ),
        _ => ("", order_expr(k), "users.user_id"),
    }
}

/// For the columns that put some users last in both directions (no alias, no
/// budget): the condition of the users sorted by the column, that of those put
/// last (sorted by ID alone), and the partial index of the latter. Each side has
/// a partial index of its own. SQLite is told the second one (`INDEXED BY`):
/// left to itself it looks `IS NULL` up in the unique index on the alias and
/// sorts every user without one (100 ms at 100,000 users).
fn last_group(k: SortKey) -> Option<(&'static str, &'static str, &'static str)> {
    match k {
        SortKey::Alias => Some((
            "users.key_alias IS NOT NULL",
            "users.key_alias IS NULL",
            "idx_users_alias_unset",
        )),
        SortKey::Budget | SortKey::Share => Some((
            "users.max_budget IS NOT NULL",
            "users.max_budget IS NULL",
            "idx_users_budget_unset",
        )),
        _ => None,
    }
}

/// A user with the models and services granted to it (the list's rows, the
/// lookup's answers).
#[derive(Debug, Clone)]
pub struct UserGrants {
    pub user: user::Model,
    pub models: Vec<String>,
    pub services: Vec<String>,
}

/// One page of the list and the number of users matching the search.
///
/// A search is counted first (an index lookup), and the count picks the plan:
/// up to `MATCHES_FIRST_MAX` matches are fetched through the index and sorted
/// (on PostgreSQL behind a `MATERIALIZED` fence, or its planner may walk the
/// sort index instead and filter tens of thousands of rows when the matches
/// cluster at the far end); more matches are dense, so walking the sort order
/// and filtering row by row fills a page at once. Without a search the page
/// walks the sort index.
pub async fn list(
    db: &impl ConnectionTrait,
    q: &ListQuery,
) -> Result<(Vec<UserGrants>, u64), DbErr> {
    let backend = db.get_database_backend();
    let mut indexed = Search::indexed(backend, &q.q);
    if let Some(days) = q.unused_days {
        // "Unused for N days": never used, or last used before the cut-off. The
        // search is then tested row by row (the filter is no index's).
        let cutoff = chrono::Utc::now() - chrono::Duration::days(days.into());
        let mut scan = Search::scan(backend, &q.q);
        scan.clause = format!(
            "{} AND (users.last_active_at IS NULL OR users.last_active_at < ?)",
            scan.clause
        );
        scan.values.push(cutoff.into());
        scan.count = format!("SELECT COUNT(*) AS n FROM users WHERE {}", scan.clause);
        indexed = scan;
    }
    let total = indexed.count(db).await?;
    let (from, clause, mut values, walk) = if q.unused_days.is_some() {
        (
            "users".to_string(),
            indexed.clause.clone(),
            indexed.values.clone(),
            true,
        )
    } else if q.q.is_empty() || total > MATCHES_FIRST_MAX {
        let scan = Search::scan(backend, &q.q);
        ("users".to_string(), scan.clause, scan.values, true)
    } else if backend == DbBackend::Postgres {
        let from = format!(
            "(WITH m AS MATERIALIZED (SELECT * FROM users WHERE {}) SELECT * FROM m) AS users",
            indexed.clause
        );
        (from, "1 = 1".to_string(), indexed.values, false)
    } else {
        // SQLite looks the matched rowids up and sorts them: its plan for
        // `id IN (…)`.
        ("users".to_string(), indexed.clause, indexed.values, false)
    };
    let dir = if q.desc { "DESC" } else { "ASC" };
    let expr = order_expr(q.sort);
    let limit = q.size as i64;
    let offset = ((q.page - 1) * q.size) as i64;
    let sql = match last_group(q.sort) {
        // Users without an alias or a budget come last in either direction, as
        // a reader expects. No index order gives that, so the page is read as
        // two index walks, each stopping after `offset + limit` rows: the users
        // with the value, then those without, by ID. The outer sort orders at
        // most twice a page's depth. Where the matches were fetched first (a
        // narrow search), they are simply sorted.
        Some((set, unset, unset_index)) if walk => {
            let first = offset + limit;
            let hint = if backend == DbBackend::Sqlite {
                format!(" INDEXED BY {unset_index}")
            } else {
                String::new()
            };
            let v = values.clone();
            values.push(first.into());
            values.extend(v);
            values.push(first.into());
            format!(
                "SELECT * FROM (\
                 SELECT * FROM (SELECT users.*, 0 AS sort_part FROM users WHERE ({clause}) AND {set} \
                 ORDER BY {expr} {dir}, users.user_id {dir} LIMIT ?) AS with_value \
                 UNION ALL \
                 SELECT * FROM (SELECT users.*, 1 AS sort_part FROM users{hint} WHERE ({clause}) AND {unset} \
                 ORDER BY users.user_id {dir} LIMIT ?) AS without_value\
                 ) AS users ORDER BY users.sort_part, {expr} {dir}, users.user_id {dir} LIMIT ? OFFSET ?"
            )
        }
        Some((_, unset, _)) => format!(
            "SELECT users.* FROM {from} WHERE {clause} \
             ORDER BY ({unset}) ASC, {expr} {dir}, users.user_id {dir} LIMIT ? OFFSET ?"
        ),
        None => {
            let (join, expr, tie) = counts_order(q.sort, walk);
            format!(
                "SELECT users.* FROM {from}{join} WHERE {clause} \
                 ORDER BY {expr} {dir}, {tie} {dir} LIMIT ? OFFSET ?"
            )
        }
    };
    values.push(limit.into());
    values.push(offset.into());
    let users = if total == 0 {
        vec![]
    } else {
        user::Entity::find()
            .from_raw_sql(stmt(backend, &sql, values))
            .all(db)
            .await?
    };
    let ids: Vec<i32> = users.iter().map(|u| u.id).collect();
    let mut models = models_of(db, &ids).await?;
    let mut services = services_of(db, &ids).await?;
    let rows = users
        .into_iter()
        .map(|u| UserGrants {
            models: models
                .remove(&u.id)
                .unwrap_or_default()
                .into_iter()
                .collect(),
            services: services
                .remove(&u.id)
                .unwrap_or_default()
                .into_iter()
                .collect(),
            user: u,
        })
        .collect();
    Ok((rows, total))
}

/// Models of these users (by internal ID).
pub async fn models_of(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> Result<HashMap<i32, BTreeSet<String>>, DbErr> {
    let mut out: HashMap<i32, BTreeSet<String>> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let rows = user_model::Entity::find()
            .filter(user_model::Column::UserId.is_in(chunk.iter().copied()))
            .all(db)
            .await?;
        for r in rows {
            out.entry(r.user_id).or_default().insert(r.model);
        }
    }
    Ok(out)
}

/// Service names of these users (by internal ID).
pub async fn services_of(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> Result<HashMap<i32, BTreeSet<String>>, DbErr> {
    Ok(service_pairs(db, ids)
        .await?
        .into_iter()
        .fold(HashMap::new(), |mut m, (u, _, n)| {
            m.entry(u).or_insert_with(BTreeSet::new).insert(n);
            m
        }))
}

/// (user, service ID, service name) of these users.
pub async fn service_pairs(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> Result<Vec<(i32, i32, String)>, DbErr> {
    use sea_orm::{JoinType, QuerySelect, RelationTrait};
    let mut out = vec![];
    for chunk in ids.chunks(CHUNK) {
        out.extend(
            user_service::Entity::find()
                .select_only()
                .column(user_service::Column::UserId)
                .column(user_service::Column::ServiceId)
                .column(service::Column::Name)
                .join(JoinType::InnerJoin, user_service::Relation::Service.def())
                .filter(user_service::Column::UserId.is_in(chunk.iter().copied()))
                .into_tuple::<(i32, i32, String)>()
                .all(db)
                .await?,
        );
    }
    Ok(out)
}

/// The user with this external ID.
pub async fn find(db: &impl ConnectionTrait, user_id: &str) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find()
        .filter(user::Column::UserId.eq(user_id))
        .one(db)
        .await
}

/// The users with these external IDs (those that exist).
pub async fn find_many(
    db: &impl ConnectionTrait,
    user_ids: &[String],
) -> Result<Vec<user::Model>, DbErr> {
    let mut out = vec![];
    for chunk in user_ids.chunks(CHUNK) {
        out.extend(
            user::Entity::find()
                .filter(user::Column::UserId.is_in(chunk.iter().cloned()))
                .all(db)
                .await?,
        );
    }
    out.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    Ok(out)
}

/// Every user matching the search, by ID.
/// Every user who holds `model`, by user ID.
pub async fn find_holding(
    db: &impl ConnectionTrait,
    model: &str,
) -> Result<Vec<user::Model>, DbErr> {
    let ids: Vec<i32> = user_model::Entity::find()
        .filter(user_model::Column::Model.eq(model))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.user_id)
        .collect();
    let mut out = vec![];
    for chunk in ids.chunks(CHUNK) {
        out.extend(
            user::Entity::find()
                .filter(user::Column::Id.is_in(chunk.iter().copied()))
                .all(db)
                .await?,
        );
    }
    out.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    Ok(out)
}

pub async fn find_matching(db: &impl ConnectionTrait, q: &str) -> Result<Vec<user::Model>, DbErr> {
    let backend = db.get_database_backend();
    let search = Search::indexed(backend, q);
    user::Entity::find()
        .from_raw_sql(stmt(
            backend,
            &format!(
                "SELECT users.* FROM users WHERE {} ORDER BY users.user_id",
                search.clause
            ),
            search.values,
        ))
        .all(db)
        .await
}

/// Which of these external IDs already exist.
pub async fn existing_ids(
    db: &impl ConnectionTrait,
    user_ids: &[String],
) -> Result<BTreeSet<String>, DbErr> {
    let backend = db.get_database_backend();
    #[derive(FromQueryResult)]
    struct Row {
        user_id: String,
    }
    let mut out = BTreeSet::new();
    for chunk in user_ids.chunks(CHUNK) {
        let rows = Row::find_by_statement(stmt(
            backend,
            &format!(
                "SELECT user_id FROM users WHERE user_id IN ({})",
                marks(chunk.len())
            ),
            chunk.iter().map(|s| s.clone().into()).collect(),
        ))
        .all(db)
        .await?;
        out.extend(rows.into_iter().map(|r| r.user_id));
    }
    Ok(out)
}

/// Every service, by name.
pub async fn services(db: &impl ConnectionTrait) -> Result<Vec<service::Model>, DbErr> {
    service::Entity::find()
        .order_by_asc(service::Column::Name)
        .all(db)
        .await
}

/// A machine filter over users (the REST API and `mama apply`): every given
/// part must hold.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Case-insensitive substring of the ID or the organisation.
    pub q: Option<String>,
    /// Exactly this organisation.
    pub organisation: Option<String>,
    /// Has this model.
    pub model: Option<String>,
    /// Has this service (by name).
    pub service: Option<String>,
    /// `synced`, `pending` or `failed`.
    pub sync_state: Option<String>,
}

/// The users matching `filter` with a user ID after `after`, by user ID, at most
/// `limit` (keyset pages: pass the last ID of one page as `after` of the next).
pub async fn filtered(
    db: &impl ConnectionTrait,
    filter: &UserFilter,
    after: Option<&str>,
    limit: Option<u64>,
) -> Result<Vec<user::Model>, DbErr> {
    let backend = db.get_database_backend();
    let mut clauses: Vec<String> = vec![];
    let mut values: Vec<Value> = vec![];
    if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
        let s = Search::indexed(backend, q);
        clauses.push(s.clause);
        values.extend(s.values);
    }
    if let Some(o) = &filter.organisation {
        clauses.push("users.organisation = ?".into());
        values.push(o.clone().into());
    }
    if let Some(m) = &filter.model {
        clauses.push(
            "EXISTS (SELECT 1 FROM user_models um WHERE um.user_id = users.id AND um.model = ?)"
                .into(),
        );
        values.push(m.clone().into());
    }
    if let Some(s) = &filter.service {
        clauses.push(
            "EXISTS (SELECT 1 FROM user_services us JOIN services s ON s.id = us.service_id \
             WHERE us.user_id = users.id AND s.name = ?)"
                .into(),
        );
        values.push(s.clone().into());
    }
    if let Some(st) = &filter.sync_state {
        clauses.push("users.sync_state = ?".into());
        values.push(st.clone().into());
    }
    if let Some(a) = after {
        clauses.push("users.user_id > ?".into());
        values.push(a.to_string().into());
    }
    let mut sql = String::from("SELECT users.* FROM users");
    if !clauses.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&clauses.join(" AND "));
    }
    sql.push_str(" ORDER BY users.user_id");
    if let Some(n) = limit {
        sql.push_str(" LIMIT ?");
        values.push((n as i64).into());
    }
    user::Entity::find()
        .from_raw_sql(stmt(backend, &sql, values))
        .all(db)
        .await
}

/// Alias → the user ID that has it, for those of these aliases in use.
pub async fn aliases_taken(
    db: &impl ConnectionTrait,
    aliases: &[String],
) -> Result<HashMap<String, String>, DbErr> {
    let mut out = HashMap::new();
    for chunk in aliases.chunks(CHUNK) {
        let rows = user::Entity::find()
            .filter(user::Column::KeyAlias.is_in(chunk.iter().cloned()))
            .all(db)
            .await?;
        for u in rows {
            if let Some(a) = u.key_alias {
                out.insert(a, u.user_id);
            }
        }
    }
    Ok(out)
}
