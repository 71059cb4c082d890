//! Reconcile: compares mama's keys with LiteLLM's (matched by SHA-256 = LiteLLM's
//! `token`), lists the drift, and repairs what mama owns by queueing upserts.
//! Keys in LiteLLM that mama does not know are listed, never deleted. The limits
//! (`max_budget` … `blocked`) are compared after the normalisations of [`drift`].
use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DbErr, EntityTrait};
use serde::Serialize;

use super::{client::LiteLlm, client::LlmError, drift, outbox, queries};
use crate::entities::user;

/// One difference between mama and LiteLLM.
#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    pub user_id: String,
    /// `missing`, `models`, `alias`, `metadata`, `user_id`, `limits` (any of
    /// [`LIMIT_FIELDS`]; the detail names which).
    pub kinds: Vec<&'static str>,
    pub detail: String,
}

/// A key LiteLLM holds that mama does not.
#[derive(Debug, Clone, Serialize)]
pub struct Unknown {
    pub token_prefix: String,
    pub key_alias: Option<String>,
    pub user_id: Option<String>,
    pub managed_by_mama: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub checked: usize,
    pub in_sync: usize,
    /// Users with a sync job still open are not judged (LiteLLM is about to change).
    pub pending: usize,
    pub drift: Vec<Drift>,
    pub unknown: Vec<Unknown>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The limits reconcile compares (LiteLLM's names; normalised as in [`drift`]).
pub const LIMIT_FIELDS: [&str; 6] = [
    "max_budget",
    "budget_duration",
    "rpm_limit",
    "tpm_limit",
    "expires_at",
    "blocked",
];

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// Compares every mama user with LiteLLM's keys.
pub async fn compare(
    conn: &impl ConnectionTrait,
    client: &LiteLlm,
) -> Result<Report, ReconcileError> {
    let remote = client.list_all().await?;
    let mut by_token: HashMap<String, super::client::KeyRow> = remote
        .into_iter()
        .filter_map(|r| r.token.clone().map(|t| (t, r)))
        .collect();
    let users = user::Entity::find().all(conn).await?;
    let mut report = Report::default();
    for u in users {
        report.checked += 1;
        let theirs = by_token.remove(&u.key_sha256);
        if !queries::open_jobs_of(conn, &u.user_id).await?.is_empty() {
            report.pending += 1;
            continue;
        }
        let Some(theirs) = theirs else {
            report.drift.push(Drift {
                user_id: u.user_id.clone(),
                kinds: vec!["missing"],
                detail: "the key is not in LiteLLM".into(),
            });
            continue;
        };
        let want = queries::spec_of(conn, &u).await?;
        let mut kinds = vec![];
        let mut detail = vec![];
        if sorted(theirs.models.clone()) != sorted(want.models.clone()) {
            kinds.push("models");
            detail.push(format!(
                "models: LiteLLM {:?}, mama {:?}",
                theirs.models, want.models
            ));
        }
        if theirs.key_alias != want.key_alias {
            kinds.push("alias");
            detail.push(format!(
                "alias: LiteLLM {:?}, mama {:?}",
                theirs.key_alias, want.key_alias
            ));
        }
        if theirs.metadata != want.metadata {
            kinds.push("metadata");
            detail.push("metadata differs".into());
        }
        if theirs.user_id.as_deref() != Some(want.user_id.as_str()) {
            kinds.push("user_id");
            detail.push(format!("user_id: LiteLLM {:?}", theirs.user_id));
        }
        // The limits, normalised and compared as the worker's drift check does.
        let (ours, remote) = (drift::owned_of_spec(&want), drift::owned_of_row(&theirs));
        let limits: Vec<String> = drift::differing_fields(&ours, &remote)
            .into_iter()
            .filter(|f| LIMIT_FIELDS.contains(&f.as_str()))
            .collect();
        if !limits.is_empty() {
            kinds.push("limits");
            for f in limits {
                detail.push(format!("{f}: LiteLLM {}, mama {}", remote[&f], ours[&f]));
            }
        }
        if kinds.is_empty() {
            report.in_sync += 1;
        } else {
            report.drift.push(Drift {
                user_id: u.user_id.clone(),
                kinds,
                detail: detail.join("; "),
            });
        }
    }
    let mut unknown: Vec<Unknown> = by_token
        .into_iter()
        .map(|(t, r)| Unknown {
            token_prefix: t.chars().take(12).collect(),
            managed_by_mama: r.metadata.get("managed_by").and_then(|v| v.as_str()) == Some("mama"),
            key_alias: r.key_alias,
            user_id: r.user_id,
        })
        .collect();
    unknown.sort_by(|a, b| a.token_prefix.cmp(&b.token_prefix));
    report.unknown = unknown;
    Ok(report)
}

/// Queues an upsert for every drifted user (on the caller's transaction): an
/// admin asked for mama's state, so it overwrites changes made outside mama.
pub async fn repair(conn: &impl ConnectionTrait, report: &Report) -> Result<Vec<String>, DbErr> {
    let users: Vec<String> = report.drift.iter().map(|d| d.user_id.clone()).collect();
    outbox::enqueue_upsert_forced(
        conn,
        &users,
        Some(&format!("reconcile-{}", &crate::crypto::random_id()[..8])),
    )
    .await?;
    Ok(users)
}
