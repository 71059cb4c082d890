//! The `/audit` filter as it travels in the URL, turned into an [`AuditFilter`].
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
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

/// `2026-11-22`, `2026-11-22T13:45` (a datetime-local input), both local times in
/// `tz` (the admin's zone, which the form names), or RFC 3339 with its own offset.
/// A bare date as an upper bound means "through the end of that local day".
fn parse_time(s: &str, end_of_day: bool, tz: Tz) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            // In a DST fold the earlier instant; in a gap, none (an error).
            return tz
                .from_local_datetime(&t)
                .earliest()
                .map(|t| t.with_timezone(&Utc));
        }
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let d = if end_of_day { d + Duration::days(1) } else { d };
    Some(crate::i18n::local_day_start(d, tz))
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
    /// Dates without an offset are local times in `tz`.
    pub fn to_filter(&self, tz: Tz) -> Result<AuditFilter, FormErrors> {
        let mut errors = FormErrors::default();
        let mut f = AuditFilter::default();
        let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        if let Some(s) = opt(&self.since) {
            match parse_time(&s, false, tz) {
                Some(t) => f.since = Some(t),
                None => errors.add("since", "err-date"),
            }
        }
        if let Some(s) = opt(&self.until) {
            match parse_time(&s, true, tz) {
                Some(t) => f.until = Some(t),
                None => errors.add("until", "err-date"),
            }
        }
        if let (Some(a), Some(b)) = (f.since, f.until)
            && b <= a
        {
            errors.add("until", "err-end-before-start");
        }
        f.actor = opt(&self.actor);
        if let Some(a) = opt(&self.action) {
            if let Some(group) = a.strip_suffix(".*") {
                f.actions = actions_in_group(group);
                if f.actions.is_empty() {
                    errors.add("action", "err-action-group");
                }
            } else if Action::parse(&a).is_some() {
                f.actions = vec![a];
            } else {
                errors.add("action", "err-action-unknown");
            }
        }
        f.target_user = opt(&self.user);
        if let Some(o) = opt(&self.outcome) {
            if OUTCOMES.contains(&o.as_str()) {
                f.outcome = Some(o);
            } else {
                errors.add("outcome", "err-outcome");
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
        let f = q.to_filter(chrono_tz::UTC).unwrap();
        assert_eq!((f.until.unwrap() - f.since.unwrap()).num_hours(), 24);
        // The same local day in Seoul starts at 15:00 UTC the day before.
        let f = q.to_filter(chrono_tz::Asia::Seoul).unwrap();
        assert_eq!(f.since.unwrap().to_rfc3339(), "2026-10-31T15:00:00+00:00");
        assert_eq!(f.until.unwrap().to_rfc3339(), "2026-11-01T15:00:00+00:00");
        // An explicit offset is taken as written.
        let q = FilterQuery {
            since: "2026-11-01T00:00:00Z".into(),
            ..Default::default()
        };
        let f = q.to_filter(chrono_tz::Asia::Seoul).unwrap();
        assert_eq!(f.since.unwrap().to_rfc3339(), "2026-11-01T00:00:00+00:00");
    }

    #[test]
    fn an_action_group_expands_to_its_actions_and_bad_input_names_its_field() {
        let q = FilterQuery {
            action: "admin.*".into(),
            ..Default::default()
        };
        let f = q.to_filter(chrono_tz::UTC).unwrap();
        assert!(f.actions.contains(&"admin.create".to_string()));
        assert!(f.actions.iter().all(|a| a.starts_with("admin.")));
        let bad = FilterQuery {
            since: "yesterday".into(),
            action: "nope".into(),
            outcome: "meh".into(),
            ..Default::default()
        };
        let e = bad.to_filter(chrono_tz::UTC).unwrap_err();
        assert_eq!(e.fields(), vec!["action", "outcome", "since"]);
    }
}
