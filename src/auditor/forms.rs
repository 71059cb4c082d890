//! The `/audit` filter as it travels in the URL, turned into an [`AuditFilter`].
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::audit::{Action, queries::AuditFilter};
use crate::web::FormErrors;

/// Query parameters of `/audit` and the exports; every field optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct FilterQuery {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub since: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub until: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub actor: String,
    /// An action text, or a group `prefix.*`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub action: String,
    /// A target user ID.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub outcome: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub request_id: String,
    /// Keyset cursor: events with a smaller id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<i64>,
}

pub const OUTCOMES: &[&str] = &["success", "denied", "invalid", "error"];

/// `2026-11-22`, `2026-11-22T13:45` (a datetime-local input) or RFC 3339.
/// A bare date as an upper bound means "through the end of that day".
fn parse_time(s: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let t = d.and_hms_opt(0, 0, 0)?.and_utc();
    Some(if end_of_day { t + Duration::days(1) } else { t })
}

/// Every action whose text starts with `group.` (for `group.*`).
pub fn actions_in_group(group: &str) -> Vec<String> {
    Action::ALL
        .iter()
        .map(|a| a.as_str())
        .filter(|a| a.split('.').next() == Some(group))
        .map(str::to_string)
        .collect()
}

/// The action groups, in declaration order: (prefix, actions).
pub fn action_groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = vec![];
    for a in Action::ALL {
        let text = a.as_str();
        let group = text.split('.').next().unwrap_or(text);
        match out.iter_mut().find(|(g, _)| *g == group) {
            Some((_, list)) => list.push(text),
            None => out.push((group, vec![text])),
        }
    }
    out
}

impl FilterQuery {
    /// The filter, or field-named messages.
    pub fn to_filter(&self) -> Result<AuditFilter, FormErrors> {
        let mut errors = FormErrors::default();
        let mut f = AuditFilter::default();
        let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        if let Some(s) = opt(&self.since) {
            match parse_time(&s, false) {
                Some(t) => f.since = Some(t),
                None => errors.add("since", "Use a date like 2026-11-22 or 2026-11-22T13:45."),
            }
        }
        if let Some(s) = opt(&self.until) {
            match parse_time(&s, true) {
                Some(t) => f.until = Some(t),
                None => errors.add("until", "Use a date like 2026-11-22 or 2026-11-22T13:45."),
            }
        }
        if let (Some(a), Some(b)) = (f.since, f.until)
            && b <= a
        {
            errors.add("until", "The end must be after the start.");
        }
        f.actor = opt(&self.actor);
        if let Some(a) = opt(&self.action) {
            if let Some(group) = a.strip_suffix(".*") {
                f.actions = actions_in_group(group);
                if f.actions.is_empty() {
                    errors.add("action", "No action belongs to this group.");
                }
            } else if Action::parse(&a).is_some() {
                f.actions = vec![a];
            } else {
                errors.add("action", "Unknown action; pick one from the list.");
            }
        }
        f.target_user = opt(&self.user);
        if let Some(o) = opt(&self.outcome) {
            if OUTCOMES.contains(&o.as_str()) {
                f.outcome = Some(o);
            } else {
                errors.add("outcome", "Pick success, denied, invalid or error.");
            }
        }
        f.request_id = opt(&self.request_id);
        if errors.is_empty() {
            Ok(f)
        } else {
            Err(errors)
        }
    }

    /// The query string of this filter without the cursor (for links).
    pub fn query_string(&self) -> String {
        let mut q = self.clone();
        q.before = None;
        serde_html_form::to_string(&q).unwrap_or_default()
    }

    /// The filter as a JSON object, for audit details.
    pub fn to_json(&self) -> serde_json::Value {
        let mut q = self.clone();
        q.before = None;
        serde_json::to_value(&q).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_only_upper_bound_includes_the_whole_day() {
        let q = FilterQuery {
            since: "2026-11-01".into(),
            until: "2026-11-01".into(),
            ..Default::default()
        };
        let f = q.to_filter().unwrap();
        assert_eq!((f.until.unwrap() - f.since.unwrap()).num_hours(), 24);
    }

    #[test]
    fn an_action_group_expands_to_its_actions_and_bad_input_names_its_field() {
        let q = FilterQuery {
            action: "admin.*".into(),
            ..Default::default()
        };
        let f = q.to_filter().unwrap();
        assert!(f.actions.contains(&"admin.create".to_string()));
        assert!(f.actions.iter().all(|a| a.starts_with("admin.")));
        let bad = FilterQuery {
            since: "yesterday".into(),
            action: "nope".into(),
            outcome: "meh".into(),
            ..Default::default()
        };
        let e = bad.to_filter().unwrap_err();
        assert_eq!(e.fields(), vec!["action", "outcome", "since"]);
    }
}
