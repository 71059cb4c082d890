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
//! `owned` is the one place that says which fields mama owns: a field added to
//! `KeySpec` and `KeyRow` is compared once it is added there. Since the budgets
//! work it holds the limits as well (`max_budget`, `budget_duration`,
//! `rpm_limit`, `tpm_limit`, `expires_at`, `blocked`). LiteLLM reports some of
//! them in another shape than mama sends, so both sides are normalised before
//! they are compared (measured against LiteLLM 1.83.14; each rule has a unit test
//! below and the contract tests in `tests/app/litellm.rs`):
//!
//! - **`max_budget`**: a float both ways, but LiteLLM stores what it is given
//!   through Python floats and its database (`0.30000000000000004` comes back as
//!   `0.3`): both sides are rounded to 12 significant digits.
//! - **`budget_duration`**: LiteLLM keeps the text it was given and reads it with
//!   `duration_in_seconds` (`s`, `m`, `h`, `d`, `w`, `mo`), so `24h`, `1d` and
//!   `86400s` are the same period: each side becomes whole days (`7d`) or seconds
//!   (`90s`); calendar months stay `Nmo`. A `null` sent by mama does **not**
//!   clear LiteLLM's value (`/key/update` skips a null `budget_duration`; it does
//!   clear a null `max_budget` and a null `duration`), so when mama holds no
//!   period, whatever period LiteLLM still has is mama's own leftover and is not
//!   a difference.
//! - **`rpm_limit`, `tpm_limit`**: integers both ways, compared as they are.
//! - **`expires_at`**: mama keeps an absolute time and sends `duration` (seconds
//!   from the moment of the call, whole seconds); LiteLLM turns it into an
//!   absolute `expires` (`…+00:00`, milliseconds) at the moment it receives it.
//!   The two agree within the call's latency plus a second, so times within
//!   [`EXPIRY_SLACK`] are the same; and two times both already past are the same
//!   (an expiry in the past is sent as `0s`, which LiteLLM stores as "now").
//! - **`blocked`**: LiteLLM reports `null` for a key never blocked or
//!   unblocked: `null` is `false`.
//!
//! A field absent from a state mama recorded (a state recorded before the field
//! was owned) is not compared against it: mama cannot tell what it sent then.
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

/// Two expiries closer than this are the same (see the module doc): the time
/// between computing `duration` and LiteLLM adding it to its clock, plus the
/// second `duration` loses to rounding.
pub const EXPIRY_SLACK: chrono::Duration = chrono::Duration::seconds(300);

/// The limits of a key, as mama sends them or LiteLLM reports them.
struct LimitsOf<'a> {
    max_budget: Option<f64>,
    budget_duration: Option<&'a str>,
    rpm_limit: Option<i64>,
    tpm_limit: Option<i64>,
    expires_at: Option<chrono::DateTime<Utc>>,
    blocked: bool,
}

/// The fields of a key mama owns, in one canonical JSON object (sorted lists,
/// normalised limits).
fn owned(
    key_alias: Option<&str>,
    models: &[String],
    user_id: Option<&str>,
    metadata: &Value,
    limits: LimitsOf<'_>,
) -> Value {
    let models: BTreeSet<&String> = models.iter().collect();
    json!({
        "key_alias": key_alias,
        "models": models,
        "user_id": user_id,
        "metadata": metadata,
        "max_budget": limits.max_budget.map(budget),
        "budget_duration": limits.budget_duration.map(period),
        "rpm_limit": limits.rpm_limit,
        "tpm_limit": limits.tpm_limit,
        "expires_at": limits
            .expires_at
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        "blocked": limits.blocked,
    })
}

/// A budget rounded to 12 significant digits (what survives LiteLLM's floats).
fn budget(b: f64) -> f64 {
    if !b.is_finite() || b == 0.0 {
        return b;
    }
    format!("{b:.11e}").parse().unwrap_or(b)
}

/// A `budget_duration` in one spelling: whole days (`7d`), else seconds
/// (`90s`); calendar months (`1mo`) and text LiteLLM would not read stay as they are.
fn period(p: &str) -> String {
    let t = p.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let Ok(n) = n.parse::<i64>() else {
        return t.to_string();
    };
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        "w" => n * 7 * 86_400,
        _ => return t.to_string(),
    };
    if secs % 86_400 == 0 {
        format!("{}d", secs / 86_400)
    } else {
        format!("{secs}s")
    }
}

/// What mama sends for `spec`.
pub fn owned_of_spec(spec: &KeySpec) -> Value {
    owned(
        spec.key_alias.as_deref(),
        &spec.models,
        Some(&spec.user_id),
        &spec.metadata,
        LimitsOf {
            max_budget: spec.max_budget,
            budget_duration: spec.budget_duration.as_deref(),
            rpm_limit: spec.rpm_limit,
            tpm_limit: spec.tpm_limit,
            expires_at: spec.expires_at,
            blocked: spec.blocked,
        },
    )
}

/// What LiteLLM holds in `row` (LiteLLM answers `{}` for metadata it never had,
/// `null` for `blocked` never set; an `expires` it cannot read is kept as text,
/// so it differs from anything mama sent).
pub fn owned_of_row(row: &KeyRow) -> Value {
    let metadata = match &row.metadata {
        Value::Null => json!({}),
        m => m.clone(),
    };
    let mut v = owned(
        row.key_alias.as_deref(),
        &row.models,
        row.user_id.as_deref(),
        &metadata,
        LimitsOf {
            max_budget: row.max_budget,
            budget_duration: row.budget_duration.as_deref(),
            rpm_limit: row.rpm_limit,
            tpm_limit: row.tpm_limit,
            expires_at: row.expires.as_deref().and_then(super::client::parse_time),
            blocked: row.blocked.unwrap_or(false),
        },
    );
    if let Some(e) = &row.expires
        && super::client::parse_time(e).is_none()
    {
        v["expires_at"] = json!(e);
    }
    v
}

/// Whether LiteLLM's value `theirs` of `field` is what mama's `ours` means, at
/// `now` (see the module doc for each rule). Both are canonical (from `owned`).
pub fn same(field: &str, ours: &Value, theirs: &Value, now: chrono::DateTime<Utc>) -> bool {
    match field {
        "budget_duration" => ours.is_null() || ours == theirs,
        "expires_at" => match (ours.as_str(), theirs.as_str()) {
            (Some(a), Some(b)) => {
                match (super::client::parse_time(a), super::client::parse_time(b)) {
                    (Some(a), Some(b)) => (a <= now && b <= now) || (a - b).abs() <= EXPIRY_SLACK,
                    _ => a == b,
                }
            }
            _ => ours == theirs,
        },
        _ => ours == theirs,
    }
}

/// The top-level fields in which mama's `ours` and LiteLLM's `theirs` differ,
/// by [`same`]; a field `ours` does not hold (an older record) is not compared.
pub fn differing_fields(ours: &Value, theirs: &Value) -> Vec<String> {
    let now = Utc::now();
    let empty = serde_json::Map::new();
    let (a, b) = (
        ours.as_object().unwrap_or(&empty),
        theirs.as_object().unwrap_or(&empty),
    );
    a.iter()
        .filter(|(k, v)| !same(k, v, b.get(*k).unwrap_or(&Value::Null), now))
        .map(|(k, _)| k.clone())
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
    let now = Utc::now();
    // Whether `state` (one of mama's) says what LiteLLM holds in field `f`; a
    // state that does not hold the field says nothing either way.
    let explains = |state: &Value, f: &str| {
        state
            .get(f)
            .is_some_and(|ours| same(f, ours, current.get(f).unwrap_or(&Value::Null), now))
    };
    let fields: Vec<String> = differing_fields(&expected, current)
        .into_iter()
        .filter(|f| {
            !explains(desired, f)
                && sent.as_ref().is_none_or(|s| !explains(s, f))
                && recent.iter().all(|r| !explains(r, f))
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

/// The state LiteLLM holds after `/key/block` or `/key/unblock` succeeds on a
/// key whose last sent state is in `record`: that state with only `blocked`
/// changed (the call changes nothing else). `None` without a sent state.
pub fn with_blocked(record: Option<&key_sync_state::Model>, blocked: bool) -> Option<Value> {
    let mut v: Value = serde_json::from_str(record?.sent_state.as_deref()?).ok()?;
    v.as_object_mut()?.insert("blocked".into(), json!(blocked));
    Some(v)
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

    fn limited() -> KeySpec {
        KeySpec {
            max_budget: Some(0.1 + 0.2),
            budget_duration: Some("30d".into()),
            rpm_limit: Some(60),
            tpm_limit: Some(1000),
            expires_at: Some("2027-01-31T14:59:59Z".parse().unwrap()),
            blocked: false,
            ..spec(&["a"])
        }
    }

    /// LiteLLM's report of `limited()` as 1.83.14 answers /key/info.
    fn reported() -> KeyRow {
        KeyRow {
            token: Some("h".into()),
            key_alias: Some("a".into()),
            models: vec!["a".into()],
            user_id: Some("u".into()),
            metadata: json!({"managed_by": "mama"}),
            max_budget: Some(0.3),
            budget_duration: Some("30d".into()),
            rpm_limit: Some(60),
            tpm_limit: Some(1000),
            // `duration` computed a moment before the expiry's whole second,
            // received 0.4 s later.
            expires: Some("2027-01-31T14:59:58.612000+00:00".into()),
            blocked: None,
            ..Default::default()
        }
    }

    #[test]
    fn the_limits_as_litellm_reports_them_are_the_limits_mama_sent() {
        let ours = owned_of_spec(&limited());
        let theirs = owned_of_row(&reported());
        assert_eq!(differing_fields(&ours, &theirs), Vec::<String>::new());
        assert_eq!(theirs["blocked"], json!(false), "null is not blocked");
        assert_eq!(theirs["max_budget"], json!(0.3));
        assert_eq!(ours["max_budget"], json!(0.3), "0.1 + 0.2 is rounded");
    }

    #[test]
    fn a_limit_changed_in_litellm_is_a_difference_in_that_field_only() {
        let ours = owned_of_spec(&limited());
        let mut row = reported();
        row.max_budget = Some(5.0);
        row.rpm_limit = Some(9);
        row.blocked = Some(true);
        assert_eq!(
            differing_fields(&ours, &owned_of_row(&row)),
            ["blocked", "max_budget", "rpm_limit"]
        );
        let mut row = reported();
        row.expires = Some("2027-01-31T15:10:00+00:00".into());
        row.tpm_limit = None;
        row.budget_duration = Some("7d".into());
        assert_eq!(
            differing_fields(&ours, &owned_of_row(&row)),
            ["budget_duration", "expires_at", "tpm_limit"]
        );
        // An expiry LiteLLM reports in a shape mama cannot read is a difference.
        let mut row = reported();
        row.expires = Some("soon".into());
        assert_eq!(differing_fields(&ours, &owned_of_row(&row)), ["expires_at"]);
    }

    #[test]
    fn budget_periods_are_compared_by_length_and_a_period_mama_cleared_is_not_a_difference() {
        assert_eq!(period("24h"), "1d");
        assert_eq!(period("1w"), "7d");
        assert_eq!(period("86400s"), "1d");
        assert_eq!(period("90m"), "5400s");
        assert_eq!(period("1mo"), "1mo");
        let mut s = limited();
        s.budget_duration = Some("7d".into());
        let mut row = reported();
        row.budget_duration = Some("1w".into());
        assert!(differing_fields(&owned_of_spec(&s), &owned_of_row(&row)).is_empty());
        // mama cleared the period: LiteLLM ignores a null budget_duration and
        // keeps the old one.
        s.budget_duration = None;
        s.max_budget = None;
        row.max_budget = None;
        assert!(differing_fields(&owned_of_spec(&s), &owned_of_row(&row)).is_empty());
    }

    #[test]
    fn two_expiries_both_past_are_the_same_and_no_expiry_is_not_an_expiry() {
        let now = Utc::now();
        let mut s = limited();
        s.expires_at = Some(now - chrono::Duration::days(3));
        let mut row = reported();
        // Sent as `0s` an hour ago: LiteLLM stored the moment of the call.
        row.expires = Some(
            (now - chrono::Duration::hours(1))
                .naive_utc()
                .format("%Y-%m-%dT%H:%M:%S%.6f")
                .to_string(),
        );
        assert!(differing_fields(&owned_of_spec(&s), &owned_of_row(&row)).is_empty());
        // One past, one ahead: different.
        s.expires_at = Some(now + chrono::Duration::days(3));
        assert_eq!(
            differing_fields(&owned_of_spec(&s), &owned_of_row(&row)),
            ["expires_at"]
        );
        row.expires = None;
        assert_eq!(
            differing_fields(&owned_of_spec(&s), &owned_of_row(&row)),
            ["expires_at"]
        );
        s.expires_at = None;
        assert!(differing_fields(&owned_of_spec(&s), &owned_of_row(&row)).is_empty());
    }

    #[test]
    fn a_record_from_before_the_limits_were_owned_does_not_judge_them() {
        // What mama recorded before this change: no limit fields at all.
        let old = json!({
            "key_alias": "a", "models": ["a"], "user_id": "u",
            "metadata": {"managed_by": "mama"},
        });
        // mama now wants a new budget; LiteLLM still holds the one sent before
        // the upgrade: not drift (mama cannot tell what it sent then).
        let mut desired = limited();
        desired.max_budget = Some(99.0);
        let current = owned_of_row(&reported());
        assert_eq!(
            judge(
                Some(&state(Some(&old), None)),
                &current,
                &owned_of_spec(&desired)
            ),
            Verdict::Clean
        );
        // Once mama records the limits, a change behind its back is drift.
        let sent = owned_of_spec(&limited());
        let mut row = reported();
        row.rpm_limit = Some(1);
        assert!(matches!(
            judge(Some(&state(Some(&sent), None)), &owned_of_row(&row), &owned_of_spec(&desired)),
            Verdict::Drift { fields, .. } if fields == ["rpm_limit"]
        ));
    }

    #[test]
    fn a_block_changes_only_blocked_in_mamas_record() {
        let sent = owned_of_spec(&limited());
        let st = state(Some(&sent), None);
        let b = with_blocked(Some(&st), true).unwrap();
        assert_eq!(differing_fields(&sent, &b), ["blocked"]);
        assert_eq!(with_blocked(None, true), None);
    }
}
