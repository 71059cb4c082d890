//! Keys as code: a declarative YAML spec of the services and users mama should
//! hold. `mama export --format yaml` writes the current state as a spec;
//! `mama apply FILE` validates a spec completely (every error with its line),
//! prints the difference grouped as create / change / unchanged (and delete,
//! with `--prune` only) and applies it in one transaction through the same
//! service functions as the UI and the API.
//!
//! ```yaml
//! services:
//!   - name: chat
//!     description: The internal chat assistant
//! users:
//!   - user_id: alice
//!     organisation: Research
//!     models: [gpt-4o]
//!     services: [chat]
//!     extra: ""
//!     key_alias: alice-laptop
//! ```
pub mod cli;
pub mod plan;

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::users::forms::{
    Organisation, UserId, check_alias, check_model_name, check_service_name, check_text,
};

/// The spec file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    #[serde(default)]
    pub services: Vec<ServiceSpec>,
    #[serde(default)]
    pub users: Vec<UserSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub user_id: String,
    #[serde(default)]
    pub organisation: String,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub extra: String,
    #[serde(default)]
    pub key_alias: Option<String>,
    /// USD (LiteLLM's `max_budget`); absent: no budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_budget: Option<f64>,
    /// `1d`, `7d` or `30d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm_limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm_limit: Option<i64>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub blocked: bool,
}

impl UserSpec {
    pub fn limits(&self) -> crate::users::limits::Limits {
        crate::users::limits::Limits {
            max_budget: self.max_budget,
            budget_duration: self.budget_duration.clone(),
            rpm_limit: self.rpm_limit,
            tpm_limit: self.tpm_limit,
            expires_at: self.expires_at,
            blocked: self.blocked,
        }
    }
}

/// One problem in a spec, at a line (1-based; 0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            write!(f, "{}", self.message)
        }
    }
}

/// The line of each item of the top-level lists `services:` and `users:` (block
/// style, as `mama export` writes them), so errors can name their line.
fn item_lines(text: &str, section: &str) -> Vec<usize> {
    let mut out = vec![];
    let mut inside = false;
    let mut indent: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let col = line.len() - trimmed.len();
        if col == 0 && !trimmed.starts_with('-') {
            inside = trimmed.starts_with(&format!("{section}:"));
            indent = None;
            continue;
        }
        if inside && trimmed.starts_with('-') {
            let at = *indent.get_or_insert(col);
            if col == at {
                out.push(i + 1);
            }
        }
    }
    out
}

/// A parsed spec, normalised (trimmed, lists sorted and deduplicated), or every
/// problem found in it. Whether a service a user names exists is checked
/// against the spec's own `services` and `known_services` (those in the database
/// that stay).
pub fn parse(text: &str, known_services: &BTreeSet<String>) -> Result<Spec, Vec<SpecError>> {
    let mut spec: Spec = match serde_yaml_ng::from_str::<Option<Spec>>(text) {
        Ok(s) => s.unwrap_or_default(),
        Err(e) => {
            return Err(vec![SpecError {
                line: e.location().map_or(0, |l| l.line()),
                message: e.to_string(),
            }]);
        }
    };
    let user_lines = item_lines(text, "users");
    let service_lines = item_lines(text, "services");
    let uline = |i: usize| user_lines.get(i).copied().unwrap_or(0);
    let sline = |i: usize| service_lines.get(i).copied().unwrap_or(0);
    let mut errors = vec![];
    let mut err = |line: usize, message: String| errors.push(SpecError { line, message });

    let mut service_names: HashMap<String, usize> = HashMap::new();
    for (i, s) in spec.services.iter_mut().enumerate() {
        match crate::services::service::check(&s.name, &s.description) {
            Ok((name, description)) => {
                if let Some(first) = service_names.get(&name) {
                    err(
                        sline(i),
                        format!("service `{name}` is listed twice (first at line {first})"),
                    );
                } else {
                    service_names.insert(name.clone(), sline(i));
                }
                s.name = name;
                s.description = description;
            }
            Err(e) => {
                for (f, m) in e.fields() {
                    err(sline(i), format!("services[{i}].{f}: {m}"));
                }
            }
        }
    }
    let mut user_ids: HashMap<String, usize> = HashMap::new();
    let mut aliases: HashMap<String, String> = HashMap::new();
    for (i, u) in spec.users.iter_mut().enumerate() {
        let line = uline(i);
        let who = format!("users[{i}]");
        match UserId::parse(&u.user_id) {
            Ok(id) => {
                let id = id.into_inner();
                if let Some(first) = user_ids.get(&id) {
                    err(
                        line,
                        format!("user `{id}` is listed twice (first at line {first})"),
                    );
                } else {
                    user_ids.insert(id.clone(), line);
                }
                u.user_id = id;
            }
            Err(e) => err(line, format!("{who}.user_id: {e}")),
        }
        match Organisation::parse(&u.organisation) {
            Ok(o) => u.organisation = o.into_inner(),
            Err(e) => err(line, format!("{who}.organisation: {e}")),
        }
        for (field, m) in u.limits().check() {
            err(
                line,
                format!(
                    "{who}.{field}: {}",
                    m.field(field).render(crate::i18n::Lang::En)
                ),
            );
        }
        let mut models = BTreeSet::new();
        for m in &u.models {
            match check_model_name(m) {
                Ok(m) => {
                    models.insert(m);
                }
                Err(e) => err(line, format!("{who}.models: {e}: {m:.64}")),
            }
        }
        u.models = models.into_iter().collect();
        let mut services = BTreeSet::new();
        for s in &u.services {
            match check_service_name(s) {
                Ok(s) => {
                    if !service_names.contains_key(&s) && !known_services.contains(&s) {
                        err(
                            line,
                            format!(
                                "{who}.services: unknown service `{s}`: add it under `services:`"
                            ),
                        );
                    }
                    services.insert(s);
                }
                Err(e) => err(line, format!("{who}.services: {s:.64}: {e}")),
            }
        }
        u.services = services.into_iter().collect();
        if let Err(e) = check_text(&u.extra, crate::api::users::EXTRA_MAX) {
            err(line, format!("{who}.extra: {e}"));
        }
        match check_alias(u.key_alias.as_deref().unwrap_or("")) {
            Ok(a) => {
                if let Some(a) = &a {
                    if let Some(other) = aliases.get(a) {
                        err(
                            line,
                            format!("{who}.key_alias: `{a}` is also the alias of `{other}`"),
                        );
                    } else {
                        aliases.insert(a.clone(), u.user_id.clone());
                    }
                }
                u.key_alias = a;
            }
            Err(e) => err(line, format!("{who}.key_alias: {e}")),
        }
    }
    if errors.is_empty() {
        spec.services.sort_by(|a, b| a.name.cmp(&b.name));
        spec.users.sort_by(|a, b| a.user_id.cmp(&b.user_id));
        Ok(spec)
    } else {
        Err(errors)
    }
}

/// The spec as YAML text, with a header saying what it is.
pub fn to_yaml(spec: &Spec) -> Result<String, serde_yaml_ng::Error> {
    let body = serde_yaml_ng::to_string(spec)?;
    Ok(format!(
        "# mama state: services and users (never keys).\n\
         # `mama apply FILE --dry-run` shows what differs; `mama apply FILE` makes it so.\n{body}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_of_a_spec_is_reported_with_its_line() {
        let text = "services:\n  - name: chat\nusers:\n  - user_id: alice\n    services: [chat]\n  - user_id: bad id\n    models: [gpt-4o]\n  - user_id: alice\n    services: [nope]\n";
        let errs = parse(text, &BTreeSet::new()).unwrap_err();
        let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(errs.len(), 3, "{shown:?}");
        assert!(
            shown[0].starts_with("line 6: users[1].user_id"),
            "{shown:?}"
        );
        assert!(
            shown[1].starts_with("line 8: user `alice` is listed twice (first at line 4)"),
            "{shown:?}"
        );
        assert!(
            shown[2].starts_with("line 8: users[2].services: unknown service `nope`"),
            "{shown:?}"
        );
    }

    #[test]
    fn an_unknown_field_is_refused_with_its_line() {
        let errs = parse(
            "users:\n  - user_id: a\n    modles: [x]\n",
            &BTreeSet::new(),
        )
        .unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, 3, "{}", errs[0]);
        assert!(errs[0].message.contains("modles"), "{}", errs[0]);
    }

    #[test]
    fn an_exported_spec_parses_back_to_itself() {
        let spec = Spec {
            services: vec![ServiceSpec {
                name: "chat".into(),
                description: "Chat: the \"assistant\"".into(),
            }],
            users: vec![UserSpec {
                user_id: "alice".into(),
                organisation: "연구소".into(),
                models: vec!["gpt-4o".into()],
                services: vec!["chat".into()],
                extra: "line 1\nline 2".into(),
                key_alias: None,
                max_budget: Some(50.0),
                budget_duration: Some("30d".into()),
                rpm_limit: None,
                tpm_limit: Some(10_000),
                expires_at: None,
                blocked: true,
            }],
        };
        let text = to_yaml(&spec).unwrap();
        assert_eq!(parse(&text, &BTreeSet::new()).unwrap(), spec);
    }
}
