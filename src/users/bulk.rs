//! Bulk edits: a plan (what would change, per user) computed from the database,
//! shown as a preview, then applied set-based in the caller's transaction with one
//! sync job per changed user under one batch ID.
//!
//! Add and remove are idempotent: a user who already has (or lacks) the value is
//! not changed, gets no version bump and no sync job.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::Utc;
use sea_orm::{ConnectionTrait, DbErr, Value};
use serde_json::json;

use super::{
    forms::{BulkOp, MAX_SELECTED, Selection, SetOp},
    messages::Effect,
    queries::{self, CHUNK, exec, marks},
    service,
};
use crate::{crypto::KeyCipher, entities::user, i18n::Msg};

#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    #[error("{1}")]
    Field(&'static str, Msg),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// What a bulk action would do.
#[derive(Debug, Clone)]
pub struct Plan {
    pub op: BulkOp,
    /// The selected users that exist.
    pub users: Vec<user::Model>,
    /// Selected IDs that do not exist (any more).
    pub not_found: Vec<String>,
    /// Indexes into `users` of the users that change.
    pub changed: Vec<usize>,
    /// One sentence per effect, e.g. "Add gpt-4o to 312 users. 17 users already have it."
    pub summary: Vec<String>,
    /// The effects, with their counts (the flash says them in the past tense).
    pub effects: Vec<Effect>,
    /// Rows to insert / delete (models by name, services by ID as text).
    inserts: Vec<(i32, String)>,
    deletes: Vec<(i32, String)>,
    before: serde_json::Value,
    after: serde_json::Value,
    service_ids: HashMap<String, i32>,
    /// For `Alias`: (user row ID, new alias) of the users that get one.
    aliases: Vec<(i32, String)>,
}

impl Plan {
    pub fn changed_ids(&self) -> Vec<String> {
        self.changed
            .iter()
            .map(|&i| self.users[i].user_id.clone())
            .collect()
    }
    pub fn unchanged(&self) -> usize {
        self.users.len() - self.changed.len()
    }
    /// The audit details: what was asked, and a before/after summary.
    pub fn details(&self) -> serde_json::Value {
        json!({
            "op": self.op.name(),
            "values": match &self.op {
                BulkOp::Models(_, v) | BulkOp::Services(_, v) => json!(v),
                BulkOp::Organisation(o) | BulkOp::Alias(o) => json!(o),
                BulkOp::Limit(_, Some(v)) => json!(v.display()),
                _ => json!(null),
            },
            "selected": self.users.len(),
            "changed": self.changed.len(),
            "unchanged": self.unchanged(),
            "not_found": self.not_found.len(),
            "summary": self.summary,
            "before": self.before,
            "after": self.after,
        })
    }
}

/// The selected users, and the selected IDs that were not found.
pub async fn resolve(
    db: &impl ConnectionTrait,
    sel: &Selection,
) -> Result<(Vec<user::Model>, Vec<String>), BulkError> {
    match sel {
        Selection::Matching(q) => Ok((queries::find_matching(db, q).await?, vec![])),
        Selection::Holding(m) => Ok((queries::find_holding(db, m).await?, vec![])),
        Selection::Ids(ids) => {
            if ids.is_empty() {
                return Err(BulkError::Field("ids", Msg::new("err-select-user")));
            }
            if ids.len() > MAX_SELECTED {
                return Err(BulkError::Field(
                    "ids",
                    Msg::new("err-select-max").num("max", MAX_SELECTED),
                ));
            }
            let users = queries::find_many(db, ids).await?;
            let found: BTreeSet<&str> = users.iter().map(|u| u.user_id.as_str()).collect();
            let missing = ids
                .iter()
                .filter(|i| !found.contains(i.as_str()))
                .cloned()
                .collect();
            Ok((users, missing))
        }
    }
}

/// Computes what `op` would change for the selected users.
pub async fn plan(
    db: &impl ConnectionTrait,
    sel: &Selection,
    op: BulkOp,
) -> Result<Plan, BulkError> {
    let (users, not_found) = resolve(db, sel).await?;
    if users.is_empty() {
        return Err(BulkError::Field("ids", Msg::new("err-select-gone")));
    }
    let ids: Vec<i32> = users.iter().map(|u| u.id).collect();
    let mut plan = Plan {
        op: op.clone(),
        users,
        not_found,
        changed: vec![],
        summary: vec![],
        effects: vec![],
        inserts: vec![],
        deletes: vec![],
        before: json!(null),
        after: json!(null),
        service_ids: HashMap::new(),
        aliases: vec![],
    };
    match &op {
        BulkOp::Models(how, values) | BulkOp::Services(how, values) => {
            let is_models = matches!(op, BulkOp::Models(..));
            // Current sets, by user; services are keyed by name.
            let current: HashMap<i32, BTreeSet<String>> = if is_models {
                queries::models_of(db, &ids).await?
            } else {
                let svc = service::service_ids_by_name(db, values)
                    .await
                    .map_err(|e| BulkError::Field("services", e))?;
                plan.service_ids = svc;
                let mut m: HashMap<i32, BTreeSet<String>> = HashMap::new();
                for (u, sid, name) in queries::service_pairs(db, &ids).await? {
                    plan.service_ids.entry(name.clone()).or_insert(sid);
                    m.entry(u).or_default().insert(name);
                }
                m
            };
            let wanted: BTreeSet<String> = values.iter().cloned().collect();
            let mut added: BTreeMap<String, usize> = BTreeMap::new();
            let mut already: BTreeMap<String, usize> = BTreeMap::new();
            let mut removed: BTreeMap<String, usize> = BTreeMap::new();
            let mut absent: BTreeMap<String, usize> = BTreeMap::new();
            let mut before_counts: BTreeMap<String, usize> = BTreeMap::new();
            let mut after_counts: BTreeMap<String, usize> = BTreeMap::new();
            let empty = BTreeSet::new();
            for (i, u) in plan.users.iter().enumerate() {
                let cur = current.get(&u.id).unwrap_or(&empty);
                let next: BTreeSet<String> = match how {
                    SetOp::Add => cur.union(&wanted).cloned().collect(),
                    SetOp::Remove => cur.difference(&wanted).cloned().collect(),
                    SetOp::Replace => wanted.clone(),
                };
                for v in &wanted {
                    let has = cur.contains(v);
                    match (how, has) {
                        (SetOp::Remove, true) => *removed.entry(v.clone()).or_default() += 1,
                        (SetOp::Remove, false) => *absent.entry(v.clone()).or_default() += 1,
                        (_, true) => *already.entry(v.clone()).or_default() += 1,
                        (_, false) => *added.entry(v.clone()).or_default() += 1,
                    }
                }
                if *how == SetOp::Replace {
                    for v in cur.difference(&wanted) {
                        *removed.entry(v.clone()).or_default() += 1;
                    }
                }
                for v in cur {
                    *before_counts.entry(v.clone()).or_default() += 1;
                }
                for v in &next {
                    *after_counts.entry(v.clone()).or_default() += 1;
                }
                if &next != cur {
                    plan.changed.push(i);
                    for v in next.difference(cur) {
                        plan.inserts.push((u.id, v.clone()));
                    }
                    for v in cur.difference(&next) {
                        plan.deletes.push((u.id, v.clone()));
                    }
                }
            }
            let what = if is_models { "model" } else { "service" };
            for (v, n) in &added {
                let had = already.get(v).copied().unwrap_or(0);
                plan.effects.push(Effect::Added {
                    value: v.clone(),
                    n: *n,
                    had,
                });
            }
            for (v, n) in &already {
                if !added.contains_key(v) {
                    plan.effects.push(Effect::Added {
                        value: v.clone(),
                        n: 0,
                        had: *n,
                    });
                }
            }
            for (v, n) in &removed {
                let lacking = if *how == SetOp::Remove {
                    absent.get(v).copied().unwrap_or(0)
                } else {
                    0
                };
                plan.effects.push(Effect::Removed {
                    value: v.clone(),
                    n: *n,
                    lacking,
                });
            }
            for (v, n) in &absent {
                if !removed.contains_key(v) {
                    plan.effects.push(Effect::Removed {
                        value: v.clone(),
                        n: 0,
                        lacking: *n,
                    });
                }
            }
            if *how == SetOp::Replace && wanted.is_empty() && removed.is_empty() {
                plan.effects.push(Effect::NothingToRemove { what });
            }
            plan.before = json!({ format!("{what}_counts"): before_counts });
            plan.after = json!({ format!("{what}_counts"): after_counts });
        }
        BulkOp::Organisation(org) => {
            let mut before: BTreeMap<String, usize> = BTreeMap::new();
            for (i, u) in plan.users.iter().enumerate() {
                *before.entry(u.organisation.clone()).or_default() += 1;
                if &u.organisation != org {
                    plan.changed.push(i);
                }
            }
            plan.effects.push(Effect::Organisation {
                org: org.clone(),
                n: plan.changed.len(),
                already: plan.users.len() - plan.changed.len(),
            });
            plan.before = json!({ "organisation_counts": before });
            plan.after = json!({ "organisation_counts": { org.clone(): plan.users.len() } });
        }
        BulkOp::Alias(template) => {
            let mut wanted: Vec<(usize, String)> = vec![];
            let mut invalid = 0;
            for (i, u) in plan.users.iter().enumerate() {
                if u.key_alias.is_some() {
                    continue;
                }
                match service::render_alias(template, &u.user_id, &u.organisation) {
                    Some(a) => wanted.push((i, a)),
                    None => invalid += 1,
                }
            }
            let names: Vec<String> = wanted.iter().map(|(_, a)| a.clone()).collect();
            let mut taken = service::taken_aliases(db, &names).await?;
            let mut clashes = invalid;
            for (i, a) in wanted {
                if taken.insert(a.clone()) {
                    plan.changed.push(i);
                    plan.aliases.push((plan.users[i].id, a));
                } else {
                    clashes += 1;
                }
            }
            let already = plan.users.iter().filter(|u| u.key_alias.is_some()).count();
            plan.effects.push(Effect::Alias {
                n: plan.changed.len(),
                already,
                taken: clashes,
            });
            plan.before = json!({ "without_alias": plan.users.len() - already });
            plan.after = json!({ "aliases": plan.aliases.iter().take(1000).map(|(_, a)| a).collect::<Vec<_>>() });
        }
        BulkOp::Limit(field, value) => {
            let mut before: BTreeMap<String, usize> = BTreeMap::new();
            for (i, u) in plan.users.iter().enumerate() {
                let cur = super::limits::LimitValue::current(field, u);
                *before.entry(cur.to_string()).or_default() += 1;
                if !super::limits::LimitValue::held_by(value, field, u) {
                    plan.changed.push(i);
                }
            }
            plan.effects.push(Effect::Limit {
                field,
                value: value.as_ref().map(|v| v.display()),
                n: plan.changed.len(),
                already: plan.users.len() - plan.changed.len(),
            });
            plan.before = json!({ format!("{field}_counts"): before });
            plan.after = json!({ format!("{field}_counts"): {
                value.as_ref().map_or("null".to_string(), |v| json!(v.display()).to_string()): plan.users.len()
            } });
        }
        BulkOp::Blocked(b) => {
            for (i, u) in plan.users.iter().enumerate() {
                if u.blocked != *b {
                    plan.changed.push(i);
                }
            }
            plan.effects.push(Effect::Blocked {
                blocked: *b,
                n: plan.changed.len(),
                already: plan.users.len() - plan.changed.len(),
            });
            let was = plan.users.iter().filter(|u| u.blocked).count();
            plan.before = json!({ "blocked": was, "unblocked": plan.users.len() - was });
            plan.after = json!({ "blocked": if *b { plan.users.len() } else { 0 }, "unblocked": if *b { 0 } else { plan.users.len() } });
        }
        BulkOp::Rotate => {
            plan.changed = (0..plan.users.len()).collect();
            plan.effects.push(Effect::Rotated {
                n: plan.users.len(),
            });
            plan.before = json!({ "key_hints": plan.users.iter().take(100).map(|u| &u.key_hint).collect::<Vec<_>>() });
        }
        BulkOp::Delete => {
            plan.changed = (0..plan.users.len()).collect();
            plan.effects.push(Effect::Deleted {
                n: plan.users.len(),
            });
            plan.before = json!({ "user_ids": plan.users.iter().take(1000).map(|u| &u.user_id).collect::<Vec<_>>() });
            plan.after = json!({ "user_ids": [] });
        }
    }
    if !plan.not_found.is_empty() {
        plan.effects.push(Effect::NotFound {
            n: plan.not_found.len(),
        });
    }
    plan.summary = plan.effects.iter().map(Effect::preview).collect();
    Ok(plan)
}

/// Applies the plan on `conn` (a transaction): set-based writes, a version bump
/// for each changed user, and one sync job per changed user under `batch_id`.
pub async fn apply(
    conn: &impl ConnectionTrait,
    cipher: &KeyCipher,
    plan: &Plan,
    batch_id: &str,
) -> Result<(), DbErr> {
    let changed_ids: Vec<i32> = plan.changed.iter().map(|&i| plan.users[i].id).collect();
    let now = Utc::now();
    // Users first, in id order, as a single edit locks them (its UPDATE of the
    // user before its grants): the grant-count triggers lock `user_grant_counts`
    // rows when grants change, and a bulk edit that changed grants before
    // updating its users deadlocked with a concurrent edit of one of them on
    // PostgreSQL (found by the fault suite: a PATCH answered 500).
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        for chunk in changed_ids.chunks(CHUNK) {
            exec(
                conn,
                &format!(
                    "SELECT id FROM users WHERE id IN ({}) ORDER BY id FOR NO KEY UPDATE",
                    marks(chunk.len())
                ),
                chunk.iter().map(|&i| Value::from(i)).collect(),
            )
            .await?;
        }
    }
    match &plan.op {
        BulkOp::Models(..) => {
            delete_pairs(conn, "user_models", "model", &plan.deletes, |s| {
                s.clone().into()
            })
            .await?;
            insert_pairs(conn, "user_models", "model", &plan.inserts, |s| {
                s.clone().into()
            })
            .await?;
        }
        BulkOp::Services(..) => {
            let ids = &plan.service_ids;
            let to_id = |s: &String| -> Value { ids.get(s).copied().unwrap_or(-1).into() };
            delete_pairs(conn, "user_services", "service_id", &plan.deletes, to_id).await?;
            insert_pairs(conn, "user_services", "service_id", &plan.inserts, to_id).await?;
        }
        BulkOp::Organisation(org) => {
            for chunk in changed_ids.chunks(CHUNK) {
                let mut v: Vec<Value> = vec![org.clone().into()];
                v.extend(chunk.iter().map(|&i| Value::from(i)));
                exec(
                    conn,
                    &format!(
                        "UPDATE users SET organisation = ? WHERE id IN ({})",
                        marks(chunk.len())
                    ),
                    v,
                )
                .await?;
            }
        }
        BulkOp::Limit(field, value) => {
            // `field` is one of `limits::LIMIT_FIELDS`: never user text.
            let v = value
                .as_ref()
                .map(|v| v.to_db())
                .unwrap_or_else(|| null_of(field));
            set_column(conn, field, v, &changed_ids, now).await?;
            return crate::litellm::outbox::enqueue_upsert(
                conn,
                &plan.changed_ids(),
                Some(batch_id),
            )
            .await;
        }
        BulkOp::Blocked(b) => {
            set_column(conn, "blocked", (*b).into(), &changed_ids, now).await?;
            // `/key/block` or `/key/unblock` per key: the upsert is not needed,
            // since nothing else changed.
            return crate::litellm::outbox::enqueue_block(
                conn,
                &plan.changed_ids(),
                Some(batch_id),
            )
            .await;
        }
        BulkOp::Alias(_) => {
            for (id, alias) in &plan.aliases {
                exec(
                    conn,
                    "UPDATE users SET key_alias = ? WHERE id = ?",
                    vec![alias.clone().into(), (*id).into()],
                )
                .await?;
            }
        }
        BulkOp::Rotate => {
            for &i in &plan.changed {
                service::rotate_key(conn, cipher, &plan.users[i], Some(batch_id)).await?;
            }
            return Ok(());
        }
        BulkOp::Delete => {
            for &i in &plan.changed {
                service::delete_user(conn, &plan.users[i], Some(batch_id)).await?;
            }
            return Ok(());
        }
    }
    for chunk in changed_ids.chunks(CHUNK) {
        let mut v: Vec<Value> = vec![now.into()];
        v.extend(chunk.iter().map(|&i| Value::from(i)));
        exec(
            conn,
            &format!(
                "UPDATE users SET version = version + 1, updated_at = ? WHERE id IN ({})",
                marks(chunk.len())
            ),
            v,
        )
        .await?;
    }
    crate::litellm::outbox::enqueue_upsert(conn, &plan.changed_ids(), Some(batch_id)).await
}

/// A typed NULL for a limit column (PostgreSQL wants the type).
fn null_of(field: &str) -> Value {
    match field {
        "max_budget" => Value::Double(None),
        "budget_duration" => Value::String(None),
        "expires_at" => Value::ChronoDateTimeUtc(None),
        _ => Value::BigInt(None),
    }
}

/// `UPDATE users SET <col> = ?, version = version + 1, updated_at = ?` for these
/// users, one statement per chunk.
async fn set_column(
    conn: &impl ConnectionTrait,
    col: &str,
    value: Value,
    ids: &[i32],
    now: chrono::DateTime<Utc>,
) -> Result<(), DbErr> {
    for chunk in ids.chunks(CHUNK) {
        let mut v: Vec<Value> = vec![value.clone(), now.into()];
        v.extend(chunk.iter().map(|&i| Value::from(i)));
        exec(
            conn,
            &format!(
                "UPDATE users SET {col} = ?, version = version + 1, updated_at = ? WHERE id IN ({})",
                marks(chunk.len())
            ),
            v,
        )
        .await?;
    }
    Ok(())
}

async fn insert_pairs(
    conn: &impl ConnectionTrait,
    table: &str,
    col: &str,
    pairs: &[(i32, String)],
    val: impl Fn(&String) -> Value,
) -> Result<(), DbErr> {
    for chunk in pairs.chunks(CHUNK) {
        let rows = vec!["(?, ?)"; chunk.len()].join(", ");
        let mut v = Vec::with_capacity(chunk.len() * 2);
        for (u, s) in chunk {
            v.push(Value::from(*u));
            v.push(val(s));
        }
        exec(
            conn,
            &format!("INSERT INTO {table} (user_id, {col}) VALUES {rows}"),
            v,
        )
        .await?;
    }
    Ok(())
}

async fn delete_pairs(
    conn: &impl ConnectionTrait,
    table: &str,
    col: &str,
    pairs: &[(i32, String)],
    val: impl Fn(&String) -> Value,
) -> Result<(), DbErr> {
    // Group by value: one `DELETE … WHERE col = ? AND user_id IN (…)` per value and chunk.
    let mut by_value: BTreeMap<&String, Vec<i32>> = BTreeMap::new();
    for (u, s) in pairs {
        by_value.entry(s).or_default().push(*u);
    }
    for (s, users) in by_value {
        for chunk in users.chunks(CHUNK) {
            let mut v = vec![val(s)];
            v.extend(chunk.iter().map(|&i| Value::from(i)));
            exec(
                conn,
                &format!(
                    "DELETE FROM {table} WHERE {col} = ? AND user_id IN ({})",
                    marks(chunk.len())
                ),
                v,
            )
            .await?;
        }
    }
    Ok(())
}
