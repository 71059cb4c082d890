//! The difference between a spec and the database, and applying it.
use std::collections::{BTreeMap, BTreeSet};

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use super::{ServiceSpec, Spec, UserSpec};
use crate::{
    crypto::KeyCipher,
    entities::{service, user},
    services::{queries as service_queries, service as services},
    users::{
        queries,
        service::{self as users, Edit, NewUser},
    },
};

/// The current state, as a spec, with the rows behind it.
pub struct Current {
    pub spec: Spec,
    users: BTreeMap<String, user::Model>,
    services: BTreeMap<String, service::Model>,
}

/// Reads every service and user (never a key) as a spec.
pub async fn current(db: &impl ConnectionTrait) -> Result<Current, anyhow::Error> {
    let services: BTreeMap<String, service::Model> = service_queries::all(db)
        .await?
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect();
    let mut spec = Spec {
        services: services
            .values()
            .map(|s| ServiceSpec {
                name: s.name.clone(),
                description: s.description.clone(),
            })
            .collect(),
        users: vec![],
    };
    let mut users = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let page = queries::filtered(db, &Default::default(), after.as_deref(), Some(1000)).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.user_id.clone());
        let ids: Vec<i32> = page.iter().map(|u| u.id).collect();
        let mut models = queries::models_of(db, &ids).await?;
        let mut svcs = queries::services_of(db, &ids).await?;
        for u in page {
            spec.users.push(UserSpec {
                user_id: u.user_id.clone(),
                organisation: u.organisation.clone(),
                models: models
                    .remove(&u.id)
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
                services: svcs.remove(&u.id).unwrap_or_default().into_iter().collect(),
                extra: u.extra.clone(),
                key_alias: u.key_alias.clone(),
                max_budget: u.max_budget,
                budget_duration: u.budget_duration.clone(),
                rpm_limit: u.rpm_limit,
                tpm_limit: u.tpm_limit,
                expires_at: u.expires_at,
                blocked: u.blocked,
            });
            users.insert(u.user_id.clone(), u);
        }
    }
    Ok(Current {
        spec,
        users,
        services,
    })
}

/// What applying a spec does.
#[derive(Debug, Default)]
pub struct Plan {
    pub create_services: Vec<ServiceSpec>,
    /// (current, wanted)
    pub change_services: Vec<(ServiceSpec, ServiceSpec)>,
    pub unchanged_services: usize,
    pub delete_services: Vec<String>,
    pub create_users: Vec<UserSpec>,
    pub change_users: Vec<(UserSpec, UserSpec)>,
    pub unchanged_users: usize,
    pub delete_users: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.create_services.is_empty()
            && self.change_services.is_empty()
            && self.delete_services.is_empty()
            && self.create_users.is_empty()
            && self.change_users.is_empty()
            && self.delete_users.is_empty()
    }
}

/// The plan from `current` to `wanted`; deletes only when `prune`.
pub fn diff(current: &Spec, wanted: &Spec, prune: bool) -> Plan {
    let mut plan = Plan::default();
    let cur_s: BTreeMap<&str, &ServiceSpec> = current
        .services
        .iter()
        .map(|s| (s.name.as_str(), s))
        .collect();
    let want_s: BTreeSet<&str> = wanted.services.iter().map(|s| s.name.as_str()).collect();
    for s in &wanted.services {
        match cur_s.get(s.name.as_str()) {
            None => plan.create_services.push(s.clone()),
            Some(c) if *c != s => plan.change_services.push(((*c).clone(), s.clone())),
            Some(_) => plan.unchanged_services += 1,
        }
    }
    if prune {
        plan.delete_services = current
            .services
            .iter()
            .filter(|s| !want_s.contains(s.name.as_str()))
            .map(|s| s.name.clone())
            .collect();
    }
    let cur_u: BTreeMap<&str, &UserSpec> = current
        .users
        .iter()
        .map(|u| (u.user_id.as_str(), u))
        .collect();
    let want_u: BTreeSet<&str> = wanted.users.iter().map(|u| u.user_id.as_str()).collect();
    for u in &wanted.users {
        match cur_u.get(u.user_id.as_str()) {
            None => plan.create_users.push(u.clone()),
            Some(c) if *c != u => plan.change_users.push(((*c).clone(), u.clone())),
            Some(_) => plan.unchanged_users += 1,
        }
    }
    if prune {
        plan.delete_users = current
            .users
            .iter()
            .filter(|u| !want_u.contains(u.user_id.as_str()))
            .map(|u| u.user_id.clone())
            .collect();
    }
    plan
}

fn list(v: &[String]) -> String {
    format!("[{}]", v.join(", "))
}

fn q(s: &str) -> String {
    format!("{s:?}")
}

/// The differences of one user, field by field.
fn user_changes(c: &UserSpec, w: &UserSpec) -> Vec<String> {
    let mut out = vec![];
    if c.organisation != w.organisation {
        out.push(format!(
            "organisation {} → {}",
            q(&c.organisation),
            q(&w.organisation)
        ));
    }
    if c.models != w.models {
        out.push(format!("models {} → {}", list(&c.models), list(&w.models)));
    }
    if c.services != w.services {
        out.push(format!(
            "services {} → {}",
            list(&c.services),
            list(&w.services)
        ));
    }
    if c.extra != w.extra {
        out.push(format!("extra {} → {}", q(&c.extra), q(&w.extra)));
    }
    if c.key_alias != w.key_alias {
        let a = |x: &Option<String>| x.as_deref().map_or("none".to_string(), q);
        out.push(format!(
            "key_alias {} → {}",
            a(&c.key_alias),
            a(&w.key_alias)
        ));
    }
    out
}

/// The plan as text, grouped: create, change, unchanged, delete.
pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line("services:".into());
    for s in &plan.create_services {
        line(format!(
            "  + create {} (description {})",
            s.name,
            q(&s.description)
        ));
    }
    for (c, w) in &plan.change_services {
        line(format!(
            "  ~ change {}: description {} → {}",
            w.name,
            q(&c.description),
            q(&w.description)
        ));
    }
    line(format!("  = unchanged: {}", plan.unchanged_services));
    for s in &plan.delete_services {
        line(format!("  - delete {s}"));
    }
    line("users:".into());
    for u in &plan.create_users {
        line(format!(
            "  + create {}: organisation {}, models {}, services {}{}",
            u.user_id,
            q(&u.organisation),
            list(&u.models),
            list(&u.services),
            u.key_alias
                .as_deref()
                .map(|a| format!(", key_alias {}", q(a)))
                .unwrap_or_default()
        ));
    }
    for (c, w) in &plan.change_users {
        line(format!(
            "  ~ change {}: {}",
            w.user_id,
            user_changes(c, w).join("; ")
        ));
    }
    line(format!("  = unchanged: {}", plan.unchanged_users));
    for u in &plan.delete_users {
        line(format!("  - delete {u}"));
    }
    line(format!(
        "plan: {} to create, {} to change, {} unchanged, {} to delete",
        plan.create_services.len() + plan.create_users.len(),
        plan.change_services.len() + plan.change_users.len(),
        plan.unchanged_services + plan.unchanged_users,
        plan.delete_services.len() + plan.delete_users.len(),
    ));
    out
}

/// Applies `plan` on `conn` (one transaction), every LiteLLM sync under
/// `batch_id`. Returns the audit details: before and after of what changed.
pub async fn apply(
    conn: &impl ConnectionTrait,
    cipher: &KeyCipher,
    current: &Current,
    plan: &Plan,
    batch_id: &str,
) -> Result<Value, anyhow::Error> {
    for s in &plan.create_services {
        services::create(conn, &s.name, &s.description).await?;
    }
    for (_, w) in &plan.change_services {
        let row = current
            .services
            .get(&w.name)
            .ok_or_else(|| anyhow::anyhow!("service {} vanished", w.name))?;
        services::update(conn, row, &w.name, &w.description, batch_id).await?;
    }
    let new: Vec<NewUser> = plan
        .create_users
        .iter()
        .map(|u| NewUser {
            user_id: u.user_id.clone(),
            organisation: u.organisation.clone(),
            key_alias: u.key_alias.clone(),
            models: u.models.clone(),
            services: u.services.clone(),
            extra: u.extra.clone(),
            limits: u.limits(),
        })
        .collect();
    users::create_users(conn, cipher, new, Some(batch_id))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for (_, w) in &plan.change_users {
        let row = current
            .users
            .get(&w.user_id)
            .ok_or_else(|| anyhow::anyhow!("user {} vanished", w.user_id))?;
        users::update_user(
            conn,
            row,
            Edit {
                organisation: w.organisation.clone(),
                key_alias: w.key_alias.clone(),
                models: w.models.clone(),
                services: w.services.clone(),
                extra: w.extra.clone(),
                limits: w.limits(),
                version: row.version,
            },
            Some(batch_id),
        )
        .await
        .map_err(|e| match e {
            users::EditError::Stale => {
                anyhow::anyhow!(
                    "user {} changed while applying; nothing was written: run again",
                    w.user_id
                )
            }
            users::EditError::AliasTaken => {
                anyhow::anyhow!("user {}: another user's key has this alias", w.user_id)
            }
            other => anyhow::anyhow!("user {}: {other}", w.user_id),
        })?;
    }
    for id in &plan.delete_users {
        if let Some(row) = current.users.get(id) {
            users::delete_user(conn, row, Some(batch_id)).await?;
        }
    }
    for name in &plan.delete_services {
        if let Some(row) = current.services.get(name) {
            services::delete(conn, row)
                .await
                .map_err(|e| anyhow::anyhow!("service {name}: {e}"))?;
        }
    }
    let snap = |u: &UserSpec| json!(u);
    Ok(json!({
        "batch_id": batch_id,
        "services": {
            "created": plan.create_services,
            "changed": plan.change_services.iter().map(|(c, w)| json!({"before": c, "after": w})).collect::<Vec<_>>(),
            "deleted": plan.delete_services,
        },
        "users": {
            "created": plan.create_users.iter().map(snap).collect::<Vec<_>>(),
            "changed": plan.change_users.iter().map(|(c, w)| json!({"before": c, "after": w})).collect::<Vec<_>>(),
            "deleted": plan.delete_users,
            "unchanged": plan.unchanged_users,
        },
    }))
}
