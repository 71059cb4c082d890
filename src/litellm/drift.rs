//! Changes made to a key behind mama's back are not undone blindly.
//!
//! `/key/update` replaces a key's lists, so a blind update would silently undo
//! an edit made in LiteLLM itself (LiteLLM 1.99+ rewrites every key's `models`
//! when an admin renames a model in the proxy). Before updating a key the worker
//! reads it (`/key/info`) and compares the fields mama owns with what mama last
//! sent (`key_sync_states.sent_state`) and with the last few states it sent at
//! all (`sending_state`, a JSON list: a call that timed out, or one cut by a
//! crash, may land later, and in any order). A field that matches none of them,
//! nor mama's desired state, was changed by someone else:
//! the difference is recorded in `sync_drifts`, audited
//! (`litellm.key.drift`), shown on `/sync/reconcile`, and the write is held until
//! an admin decides (overwrite with mama's state, or adopt the change in mama).
//!
//! [`owned`] is the one place that says which fields mama owns: a field added to
//! `KeySpec` and `KeyRow` is compared once it is added there. The limits of the
//! budgets work (`max_budget`, `budget_duration`, `rpm_limit`, `tpm_limit`,
//! `expires_at`, `blocked`) are not compared yet: LiteLLM reports some of them
//! in another shape than mama sends (an expiry as an absolute time, `blocked`
//! as null), and each needs its normalisation and a test against the real proxy
//! before a difference in it may hold a write.
use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, sea_query::Expr,
};
use serde_json::{Value, json};

use super::client::{KeyRow, KeySpec};
use crate::{
    audit::{self, Action, Event, Outcome},
    entities::{key_sync_state, model, sync_drift},
};

/// The fields of a key mama owns, in one canonical JSON object (sorted lists).
fn owned(
    key_alias: Option<&str>,
    models: &[String],
    user_id: Option<&str>,
    metadata: &Value,
) -> Value {
    let models: BTreeSet<&String> = models.iter().collect();
    json!({
        "key_alias": key_alias,
        "models": models,
        "user_id": user_id,
        "metadata": metadata,
    })
}

/// What mama sends for `spec`.
pub fn owned_of_spec(spec: &KeySpec) -> Value {
    owned(
        spec.key_alias.as_deref(),
        &spec.models,
        Some(&spec.user_id),
        &spec.metadata,
    )
}

/// What LiteLLM holds in `row` (LiteLLM answers `{}` for metadata it never had).
pub fn owned_of_row(row: &KeyRow) -> Value {
    let metadata = match &row.metadata {
        Value::Null => json!({}),
        m => m.clone(),
    };
    owned(
        row.key_alias.as_deref(),
        &row.models,
        row.user_id.as_deref(),
        &metadata,
    )
}

/// The top-level fields in which `a` and `b` differ.
pub fn differing_fields(a: &Value, b: &Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let (a, b) = (
        a.as_object().unwrap_or(&empty),
        b.as_object().unwrap_or(&empty),
    );
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

/// The verdict on LiteLLM's current state of a key, before a write.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Nothing mama did not cause: write.
    Clean,
    /// Changed behind mama's back in these fields: hold the write.
    Drift {
        fields: Vec<String>,
        expected: Value,
    },
}

/// Judges `current` (LiteLLM's key) against mama's record of the key, field by
/// field: a field is mama's doing when it equals what mama wants, what it last
/// sent, or what it was sending; any other value was set by someone else.
pub fn judge(state: Option<&key_sync_state::Model>, current: &Value, desired: &Value) -> Verdict {
    let Some(state) = state else {
        return Verdict::Clean; // never sent by a mama that kept records: nothing to compare
    };
    let sent = state
        .sent_state
        .as_deref()
        .and_then(|s| serde_json::from_str::<Value>(s).ok());
    let recent = recent_states(state.sending_state.as_deref());
    let Some(expected) = sent.clone().or_else(|| recent.last().cloned()) else {
        return Verdict::Clean;
    };
    let field = |v: &Value, f: &str| v.get(f).cloned();
    let fields: Vec<String> = differing_fields(&expected, current)
        .into_iter()
        .filter(|f| {
            let cur = field(current, f);
            cur != field(desired, f)
                && sent.as_ref().is_none_or(|s| cur != field(s, f))
                && recent.iter().all(|r| cur != field(r, f))
        })
        .collect();
    if fields.is_empty() {
        Verdict::Clean
    } else {
        Verdict::Drift { fields, expected }
    }
}

/// How many of the states mama sent are remembered (any of them may still land).
const RECENT: usize = 8;

/// The states in `sending_state`: a JSON list (or one object, as first written).
fn recent_states(text: Option<&str>) -> Vec<Value> {
    match text.and_then(|t| serde_json::from_str::<Value>(t).ok()) {
        Some(Value::Array(a)) => a,
        Some(v @ Value::Object(_)) => vec![v],
        _ => vec![],
    }
}

/// Mama's record of `user_ref`'s key, when it is for `key_sha256`.
pub async fn state_of(
    conn: &impl ConnectionTrait,
    user_ref: &str,
    key_sha256: &str,
) -> Result<Option<key_sync_state::Model>, DbErr> {
    Ok(key_sync_state::Entity::find_by_id(user_ref.to_string())
        .one(conn)
        .await?
        .filter(|s| s.key_sha256 == key_sha256))
}

async fn upsert_state(
    conn: &impl ConnectionTrait,
    user_ref: &str,
    key_sha256: &str,
    sent: Option<&Value>,
    sending: Option<&Value>,
) -> Result<(), DbErr> {
    let now = Utc::now();
    let existing = key_sync_state::Entity::find_by_id(user_ref.to_string())
        .one(conn)
        .await?;
    let same_key = existing
        .as_ref()
        .is_some_and(|e| e.key_sha256 == key_sha256);
    let mut recent = if same_key {
        recent_states(existing.as_ref().and_then(|e| e.sending_state.as_deref()))
    } else {
        vec![]
    };
    if let Some(v) = sending {
        recent.retain(|r| r != v);
        recent.push(v.clone());
        if recent.len() > RECENT {
            recent.drain(..recent.len() - RECENT);
        }
    }
    let recent_text = (!recent.is_empty()).then(|| Value::Array(recent).to_string());
    match existing {
        Some(e) => {
            let old_sent = e.sent_state.clone();
            let mut am: key_sync_state::ActiveModel = e.into();
            am.key_sha256 = Set(key_sha256.to_string());
            am.sent_state = Set(match sent {
                Some(s) => Some(s.to_string()),
                None if same_key => old_sent,
                None => None,
            });
            am.sending_state = Set(recent_text);
            am.updated_at = Set(now);
            am.update(conn).await?;
        }
        None => {
            key_sync_state::ActiveModel {
                user_ref: Set(user_ref.to_string()),
                key_sha256: Set(key_sha256.to_string()),
                sent_state: Set(sent.map(Value::to_string)),
                sending_state: Set(recent_text),
                updated_at: Set(now),
            }
            .insert(conn)
            .await?;
        }
    }
    Ok(())
}

/// Before a call: mama is about to send `state` (kept until the call is confirmed).
pub async fn mark_sending(
    conn: &impl ConnectionTrait,
    user_ref: &str,
    key_sha256: &str,
    state: &Value,
) -> Result<(), DbErr> {
    upsert_state(conn, user_ref, key_sha256, None, Some(state)).await
}

/// After a confirmed call: LiteLLM holds `state`.
pub async fn mark_sent(
    conn: &impl ConnectionTrait,
    user_ref: &str,
    key_sha256: &str,
    state: &Value,
) -> Result<(), DbErr> {
    upsert_state(conn, user_ref, key_sha256, Some(state), None).await
}

/// Records a drift (or refreshes the open one of this user) and audits it.
pub async fn record(
    conn: &impl ConnectionTrait,
    user_ref: &str,
    key_sha256: &str,
    fields: &[String],
    expected: &Value,
    actual: &Value,
    job_id: Option<i64>,
) -> Result<(), DbErr> {
    let now = Utc::now();
    let open = sync_drift::Entity::find()
        .filter(sync_drift::Column::UserRef.eq(user_ref))
        .filter(sync_drift::Column::ResolvedAt.is_null())
        .one(conn)
        .await?;
    let fields_text = fields.join(",");
    let repeated = open.as_ref().is_some_and(|o| {
        o.fields == fields_text
            && serde_json::from_str::<Value>(&o.actual).is_ok_and(|a| &a == actual)
    });
    match open {
        Some(o) => {
            let mut am: sync_drift::ActiveModel = o.into();
            am.fields = Set(fields_text.clone());
            am.expected = Set(expected.to_string());
            am.actual = Set(actual.to_string());
            am.job_id = Set(job_id);
            am.update(conn).await?;
        }
        None => {
            sync_drift::ActiveModel {
                user_ref: Set(user_ref.to_string()),
                key_sha256: Set(key_sha256.to_string()),
                fields: Set(fields_text.clone()),
                expected: Set(expected.to_string()),
                actual: Set(actual.to_string()),
                job_id: Set(job_id),
                detected_at: Set(now),
                resolved_at: Set(None),
                resolution: Set(None),
                ..Default::default()
            }
            .insert(conn)
            .await?;
        }
    }
    if !repeated {
        let mut ev = Event::system(
            super::client::ACTOR,
            Action::LitellmKeyDrift,
            Outcome::Denied,
        );
        ev.targets = vec![user_ref.to_string()];
        ev.details = json!({
            "fields": fields,
            "expected": expected,
            "actual": actual,
            "job_id": job_id,
            "held": true,
        });
        audit::insert(conn, &ev).await?;
    }
    Ok(())
}

/// Closes the open drifts of these users with `resolution`; returns how many.
pub async fn resolve(
    conn: &impl ConnectionTrait,
    user_refs: &[String],
    resolution: &str,
) -> Result<u64, DbErr> {
    let mut n = 0;
    for chunk in user_refs.chunks(500) {
        n += sync_drift::Entity::update_many()
            .col_expr(sync_drift::Column::ResolvedAt, Expr::value(Utc::now()))
            .col_expr(sync_drift::Column::Resolution, Expr::value(resolution))
            .filter(sync_drift::Column::UserRef.is_in(chunk.iter().cloned()))
            .filter(sync_drift::Column::ResolvedAt.is_null())
            .exec(conn)
            .await?
            .rows_affected;
    }
    Ok(n)
}

/// The drifts no one has resolved yet, oldest first.
pub async fn open(conn: &impl ConnectionTrait) -> Result<Vec<sync_drift::Model>, DbErr> {
    sync_drift::Entity::find()
        .filter(sync_drift::Column::ResolvedAt.is_null())
        .order_by_asc(sync_drift::Column::Id)
        .all(conn)
        .await
}

/// A model LiteLLM renamed, as seen on the drifted keys: `from` left the
/// catalogue, `to` is in it, and on `users` keys `from` was replaced by `to`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rename {
    pub from: String,
    pub to: String,
    pub users: Vec<String>,
}

fn models_of(v: &Value) -> BTreeSet<String> {
    v.get("models")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|m| m.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Renames offered for adoption: drifts whose only model change is one model
/// swapped for another, where the old one is no longer offered by LiteLLM and the
/// new one is.
pub async fn renames(
    conn: &impl ConnectionTrait,
    drifts: &[sync_drift::Model],
) -> Result<Vec<Rename>, DbErr> {
    let catalogue: BTreeMap<String, bool> = model::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|m| (m.name, m.available))
        .collect();
    let mut by_pair: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for d in drifts {
        let (Ok(exp), Ok(act)) = (
            serde_json::from_str::<Value>(&d.expected),
            serde_json::from_str::<Value>(&d.actual),
        ) else {
            continue;
        };
        let (before, after) = (models_of(&exp), models_of(&act));
        let gone: Vec<&String> = before.difference(&after).collect();
        let came: Vec<&String> = after.difference(&before).collect();
        if let ([from], [to]) = (gone.as_slice(), came.as_slice()) {
            let from_offered = catalogue.get(*from).copied().unwrap_or(false);
            let to_offered = catalogue.get(*to).copied().unwrap_or(false);
            if !from_offered && to_offered {
                by_pair
                    .entry(((*from).clone(), (*to).clone()))
                    .or_default()
                    .push(d.user_ref.clone());
            }
        }
    }
    Ok(by_pair
        .into_iter()
        .map(|((from, to), users)| Rename { from, to, users })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(models: &[&str]) -> KeySpec {
        KeySpec {
            key_alias: Some("a".into()),
            models: models.iter().map(|s| s.to_string()).collect(),
            user_id: "u".into(),
            metadata: json!({"managed_by": "mama"}),
            max_budget: None,
            budget_duration: None,
            rpm_limit: None,
            tpm_limit: None,
            expires_at: None,
            blocked: false,
        }
    }

    fn state(sent: Option<&Value>, sending: Option<&Value>) -> key_sync_state::Model {
        key_sync_state::Model {
            user_ref: "u".into(),
            key_sha256: "h".into(),
            sent_state: sent.map(Value::to_string),
            sending_state: sending.map(|v| json!([v]).to_string()),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn a_key_changed_behind_mamas_back_is_drift_in_the_fields_that_changed() {
        let sent = owned_of_spec(&spec(&["a", "b"]));
        let desired = owned_of_spec(&spec(&["a", "b", "c"]));
        let theirs = owned_of_spec(&spec(&["a", "z"]));
        match judge(Some(&state(Some(&sent), None)), &theirs, &desired) {
            Verdict::Drift { fields, expected } => {
                assert_eq!(fields, ["models"]);
                assert_eq!(expected, sent);
            }
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn what_mama_sent_or_was_sending_or_wants_is_not_drift() {
        let sent = owned_of_spec(&spec(&["a"]));
        let sending = owned_of_spec(&spec(&["a", "b"]));
        let desired = owned_of_spec(&spec(&["a", "b", "c"]));
        let st = state(Some(&sent), Some(&sending));
        assert_eq!(judge(Some(&st), &sent, &desired), Verdict::Clean);
        assert_eq!(judge(Some(&st), &sending, &desired), Verdict::Clean);
        assert_eq!(judge(Some(&st), &desired, &desired), Verdict::Clean);
        // No record (a key synced before mama kept them): nothing to compare with.
        assert_eq!(
            judge(None, &owned_of_spec(&spec(&["x"])), &desired),
            Verdict::Clean
        );
    }

    #[test]
    fn a_field_mama_has_not_sent_yet_is_not_drift_beside_one_that_now_matches_mama() {
        // mama sent alias a + [x]; LiteLLM renamed x to y; mama adopted y but its
        // alias change (to b) is still held: models match mama, alias is mama's.
        let mut sent_spec = spec(&["x"]);
        let sent = owned_of_spec(&sent_spec);
        sent_spec.key_alias = Some("b".into());
        sent_spec.models = vec!["y".into()];
        let desired = owned_of_spec(&sent_spec);
        let mut theirs = desired.clone();
        theirs["key_alias"] = json!("a");
        assert_eq!(
            judge(Some(&state(Some(&sent), None)), &theirs, &desired),
            Verdict::Clean
        );
        // The alias changed by someone else, though, is drift.
        theirs["key_alias"] = json!("z");
        assert!(matches!(
            judge(Some(&state(Some(&sent), None)), &theirs, &desired),
            Verdict::Drift { fields, .. } if fields == ["key_alias"]
        ));
    }

    #[test]
    fn any_of_the_last_states_mama_sent_may_land_late_and_is_not_drift() {
        let s0 = owned_of_spec(&spec(&["a"]));
        let s1 = owned_of_spec(&spec(&["a", "b"]));
        let s2 = owned_of_spec(&spec(&["a", "b", "c"]));
        let mut st = state(Some(&s0), None);
        st.sending_state = Some(json!([s1, s2]).to_string());
        // s2 was sent last, but s1 (sent before, timed out) landed after it.
        assert_eq!(judge(Some(&st), &s1, &s2), Verdict::Clean);
        let other = owned_of_spec(&spec(&["z"]));
        assert!(matches!(
            judge(Some(&st), &other, &s2),
            Verdict::Drift { .. }
        ));
        assert_eq!(
            recent_states(Some(&s0.to_string())),
            vec![s0.clone()],
            "the first format"
        );
    }

    #[test]
    fn model_order_and_a_missing_metadata_object_are_not_differences() {
        let row = KeyRow {
            token: Some("h".into()),
            key_alias: Some("a".into()),
            models: vec!["b".into(), "a".into()],
            user_id: Some("u".into()),
            metadata: json!({"managed_by": "mama"}),
            ..Default::default()
        };
        assert_eq!(owned_of_row(&row), owned_of_spec(&spec(&["a", "b"])));
        let bare = KeyRow {
            metadata: Value::Null,
            ..row
        };
        assert_eq!(owned_of_row(&bare)["metadata"], json!({}));
    }
}
