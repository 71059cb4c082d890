//! The `/audit` pages, and the before/after diff of an event's details.
use std::collections::BTreeMap;

use askama::Template;
use askama_web::WebTemplate;
use serde_json::Value;

use super::forms::FilterQuery;
use crate::audit::chain::VerifyReport;
use crate::{entities::audit_event, web::FormErrors, web::PageCtx};

#[derive(Template, WebTemplate)]
#[template(path = "audit/list.html")]
pub struct ListPage {
    pub ctx: PageCtx,
    pub q: FilterQuery,
    pub errors: FormErrors,
    pub groups: Vec<(&'static str, Vec<&'static str>)>,
    pub outcomes: &'static [&'static str],
    pub events: Vec<audit_event::Model>,
    /// The query string of the filter (no cursor), for links.
    pub qs: String,
    pub next_before: Option<i64>,
    pub verified: Option<VerifyReport>,
    /// Events the `audit_targets` index does not cover yet (searches by user read them directly).
    pub index_lag: i64,
}

impl ListPage {
    pub fn link(&self, before: Option<i64>) -> String {
        let mut s = format!("/audit?{}", self.qs);
        if let Some(b) = before {
            if !self.qs.is_empty() {
                s.push('&');
            }
            s.push_str(&format!("before={b}"));
        }
        s
    }
    pub fn export(&self, ext: &str) -> String {
        format!("/audit/export.{ext}?{}", self.qs)
    }
    /// The first three target user IDs (the row shows "+N" for the rest).
    pub fn first_targets(e: &audit_event::Model) -> Vec<String> {
        let mut t: Vec<String> = serde_json::from_str(&e.targets).unwrap_or_default();
        t.truncate(3);
        t
    }
}

/// One line of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffRow {
    pub key: String,
    pub before: Option<String>,
    pub after: Option<String>,
    /// `changed`, `added`, `removed` or `same`.
    pub change: &'static str,
}

fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// The flattened before/after of `details`, key by key; `None` when the event has
/// neither.
pub fn diff(details: &Value) -> Option<Vec<DiffRow>> {
    let before = details.get("before");
    let after = details.get("after");
    if before.is_none() && after.is_none() {
        return None;
    }
    let (mut b, mut a) = (BTreeMap::new(), BTreeMap::new());
    if let Some(v) = before {
        flatten("", v, &mut b);
    }
    if let Some(v) = after {
        flatten("", v, &mut a);
    }
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    Some(
        keys.into_iter()
            .map(|k| {
                let (x, y) = (b.get(k).cloned(), a.get(k).cloned());
                let change = match (&x, &y) {
                    (Some(x), Some(y)) if x == y => "same",
                    (Some(_), Some(_)) => "changed",
                    (None, _) => "added",
                    (_, None) => "removed",
                };
                DiffRow {
                    key: k.clone(),
                    before: x,
                    after: y,
                    change,
                }
            })
            .collect(),
    )
}

#[derive(Template, WebTemplate)]
#[template(path = "audit/view.html")]
pub struct ViewPage {
    pub ctx: PageCtx,
    pub e: audit_event::Model,
    pub targets: Vec<String>,
    pub diff: Option<Vec<DiffRow>>,
    /// The details without before/after, pretty-printed.
    pub other_details: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_diff_shows_changed_added_removed_and_unchanged_fields() {
        let d = serde_json::json!({"before": {"org": "a", "models": ["x"], "gone": 1, "same": true},
                                   "after": {"org": "b", "models": ["x", "y"], "new": "n", "same": true}});
        let rows = diff(&d).unwrap();
        let get = |k: &str| rows.iter().find(|r| r.key == k).unwrap().change;
        assert_eq!(get("org"), "changed");
        assert_eq!(get("models"), "changed");
        assert_eq!(get("gone"), "removed");
        assert_eq!(get("new"), "added");
        assert_eq!(get("same"), "same");
        assert!(diff(&serde_json::json!({"count": 3})).is_none());
    }
}
