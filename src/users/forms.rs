//! User inputs: the rules for user IDs, organisations and model names (defined once,
//! shared by the web pages, the REST API, `mama apply` and the CLI), the list
//! query, and the forms.
//!
//! A refused input is a [`Msg`]: pages show it in the admin's language, the API
//! and the CLI in English (`Msg`'s `Display`).
use serde::Deserialize;

use crate::i18n::Msg;
pub use crate::services::forms::check_service_name;

/// Most lines one paste, upload or import may hold.
pub const MAX_LINES: usize = 10_000;
/// Most IDs one explicit selection may hold (beyond that, select by search).
pub const MAX_SELECTED: usize = 10_000;

/// An external user ID: 1–128 characters, letters, digits and `. _ @ - +`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserId(String);

impl UserId {
    pub const MAX: usize = 128;
    /// Why `.` and `..` are refused (a URL path segment cannot carry them).
    pub const RESERVED: &'static str = "err-user-id-reserved";

    /// `.` and `..`: refused by the same rule in the UI, the CLI and the API.
    pub fn is_reserved(s: &str) -> bool {
        matches!(s.trim(), "." | "..")
    }

    pub fn parse(raw: &str) -> Result<UserId, Msg> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(Msg::new("err-user-id-empty"));
        }
        if s.chars().count() > Self::MAX {
            return Err(Msg::new("err-user-id-long").num("max", Self::MAX));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-' | '+'))
        {
            return Err(Msg::new("err-user-id-chars"));
        }
        if Self::is_reserved(s) {
            return Err(Msg::new(Self::RESERVED));
        }
        Ok(UserId(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// An organisation: up to 128 characters, any script, no control characters
/// (may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation(String);

impl Organisation {
    pub const MAX: usize = 128;

    pub fn parse(raw: &str) -> Result<Organisation, Msg> {
        let s = raw.trim();
        if s.chars().count() > Self::MAX {
            return Err(Msg::new("err-organisation-long").num("max", Self::MAX));
        }
        if s.chars().any(char::is_control) {
            return Err(Msg::new("err-organisation-control"));
        }
        Ok(Organisation(s.to_string()))
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A model name as LiteLLM names them (`gpt-4o`, `openai/gpt-4o`,
/// `bedrock/anthropic.claude-3:0`): 1–256 letters, digits and `. _ - : / @ +`.
pub fn check_model_name(raw: &str) -> Result<String, Msg> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(Msg::new("err-model-empty"));
    }
    if s.chars().count() > 256 {
        return Err(Msg::new("err-model-long").num("max", 256));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/' | '@' | '+'))
    {
        return Err(Msg::new("err-model-chars"));
    }
    Ok(s.to_string())
}

/// Service names from a comma-separated list or a multi-select, checked and deduplicated.
pub fn parse_services(items: &[String]) -> Result<Vec<String>, Msg> {
    let names = parse_names(items);
    for n in &names {
        check_service_name(n)?;
    }
    Ok(names)
}

/// Free text (extra information): at most `max` characters, no control characters
/// other than line breaks and tabs.
pub fn check_text(raw: &str, max: usize) -> Result<(), Msg> {
    if raw.chars().count() > max {
        return Err(Msg::new("err-text-long").num("max", max));
    }
    if raw
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Msg::new("err-text-control"));
    }
    Ok(())
}

/// A key alias: up to 256 printable characters (empty means none).
pub fn check_alias(raw: &str) -> Result<Option<String>, Msg> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if s.chars().count() > 256 {
        return Err(Msg::new("err-alias-long").num("max", 256));
    }
    if s.chars().any(char::is_control) {
        return Err(Msg::new("err-alias-control"));
    }
    Ok(Some(s.to_string()))
}

/// Model names from a comma-separated list (CLI) or a multi-select (web), deduplicated.
pub fn parse_models(items: &[String]) -> Result<Vec<String>, Msg> {
    let mut out: Vec<String> = vec![];
    for raw in items.iter().flat_map(|s| s.split(',')) {
        if raw.trim().is_empty() {
            continue;
        }
        let m = check_model_name(raw)?;
        if !out.contains(&m) {
            out.push(m);
        }
    }
    Ok(out)
}

/// Service names, trimmed and deduplicated (existence is checked against the catalogue).
pub fn parse_names(items: &[String]) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for raw in items.iter().flat_map(|s| s.split(',')) {
        let s = raw.trim();
        if !s.is_empty() && !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    out
}

/// One pasted or imported line, checked on its own and against the others.
#[derive(Debug, Clone)]
pub struct Line {
    /// 1-based line number in the input.
    pub number: usize,
    pub user_id: String,
    pub organisation: String,
    /// Why the line cannot be created (`None` when it can).
    pub error: Option<Msg>,
    /// The key alias the template gives it (see `service::assign_aliases`).
    pub key_alias: Option<String>,
}

/// Splits `user_id,organisation` lines. A first line `user_id,organisation` is a
/// header and skipped; blank lines are skipped. Checks each line's ID and
/// organisation and duplicates within the input. (Whether an ID already exists is
/// the caller's check: see `service::check_existing`.)
pub fn parse_lines(text: &str) -> Result<Vec<Line>, Msg> {
    let mut out: Vec<Line> = vec![];
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    for (i, raw) in text.lines().enumerate() {
        let number = i + 1;
        let raw = raw.trim_end_matches('\r');
        if raw.trim().is_empty() {
            continue;
        }
        let (id_raw, org_raw) = raw.split_once(',').unwrap_or((raw, ""));
        let (id_raw, org_raw) = (unquote(id_raw), unquote(org_raw));
        if number == 1
            && id_raw.eq_ignore_ascii_case("user_id")
            && (org_raw.is_empty() || org_raw.eq_ignore_ascii_case("organisation"))
        {
            continue;
        }
        if out.len() >= MAX_LINES {
            return Err(Msg::new("err-lines-max").num("max", MAX_LINES));
        }
        let mut error = None;
        let user_id = match UserId::parse(&id_raw) {
            Ok(id) => id.into_inner(),
            Err(why) => {
                error = Some(why);
                id_raw.chars().take(140).collect()
            }
        };
        let organisation = match Organisation::parse(&org_raw) {
            Ok(o) => o.into_inner(),
            Err(why) => {
                error.get_or_insert(why);
                org_raw.chars().take(140).collect()
            }
        };
        if error.is_none() {
            if let Some(first) = seen.get(&user_id) {
                error = Some(Msg::new("err-line-duplicate").num("first", *first));
            } else {
                seen.insert(user_id.clone(), number);
            }
        }
        out.push(Line {
            number,
            user_id,
            organisation,
            error,
            key_alias: None,
        });
    }
    Ok(out)
}

/// Removes the quotes of a simple CSV field (`"a b"` → `a b`) and the formula
/// guard mama's own exports put in front of `+`, `-`, `=`, `@` (`'+1` → `+1`).
fn unquote(s: &str) -> String {
    let t = s.trim();
    let t = if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        t[1..t.len() - 1].replace("\"\"", "\"")
    } else {
        t.to_string()
    };
    crate::csv::unguard(&t).to_string()
}

/// The sortable columns of `/users`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Id,
    Organisation,
    Key,
    Alias,
    Models,
    Services,
    Spend,
    Budget,
    /// Spend as a share of the budget.
    Share,
    Sync,
    Updated,
}

impl SortKey {
    pub const ALL: [SortKey; 11] = [
        SortKey::Id,
        SortKey::Organisation,
        SortKey::Key,
        SortKey::Alias,
        SortKey::Models,
        SortKey::Services,
        SortKey::Spend,
        SortKey::Budget,
        SortKey::Share,
        SortKey::Sync,
        SortKey::Updated,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Id => "id",
            SortKey::Organisation => "organisation",
            SortKey::Key => "key",
            SortKey::Alias => "alias",
            SortKey::Models => "models",
            SortKey::Services => "services",
            SortKey::Spend => "spend",
            SortKey::Budget => "budget",
            SortKey::Share => "share",
            SortKey::Sync => "sync",
            SortKey::Updated => "updated",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Id => "users-col-id",
            SortKey::Organisation => "field-organisation",
            SortKey::Key => "users-col-key",
            SortKey::Alias => "users-col-alias",
            SortKey::Models => "nav-models",
            SortKey::Services => "nav-services",
            SortKey::Spend => "users-col-spend",
            SortKey::Budget => "users-col-budget",
            SortKey::Share => "users-col-share",
            SortKey::Sync => "nav-sync",
            SortKey::Updated => "users-col-updated",
        }
    }
    pub fn parse(s: &str) -> Option<SortKey> {
        SortKey::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

pub const PAGE_SIZES: [u64; 3] = [50, 100, 500];

/// `/users?q=&sort=&dir=&page=&size=` as sent (anything unknown falls back to a default).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub dir: String,
    #[serde(default)]
    pub page: Option<String>,
    #[serde(default)]
    pub size: Option<String>,
    /// Only users whose key was not used for this many days (or never).
    #[serde(default)]
    pub unused: Option<String>,
}

/// The list query, normalised.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// The search (trimmed, at most 128 characters).
    pub q: String,
    pub sort: SortKey,
    pub desc: bool,
    /// 1-based.
    pub page: u64,
    pub size: u64,
    /// "Unused for N days" (1 to 3650), or no such filter.
    pub unused_days: Option<u32>,
}

impl ListQuery {
    pub fn from_params(p: &ListParams) -> ListQuery {
        ListQuery {
            q: p.q
                .trim()
                .chars()
                .filter(|c| !c.is_control())
                .take(128)
                .collect(),
            sort: SortKey::parse(&p.sort).unwrap_or(SortKey::Id),
            desc: p.dir == "desc",
            page: p
                .page
                .as_deref()
                .and_then(|s| s.parse().ok())
                .filter(|&n| (1..=1_000_000).contains(&n))
                .unwrap_or(1),
            size: p
                .size
                .as_deref()
                .and_then(|s| s.parse().ok())
                .filter(|n| PAGE_SIZES.contains(n))
                .unwrap_or(50),
            unused_days: p
                .unused
                .as_deref()
                .and_then(|s| s.trim().parse().ok())
                .filter(|n| (1..=3650).contains(n)),
        }
    }

    /// The query string of this view with some parts changed.
    pub fn url(&self, sort: SortKey, desc: bool, page: u64, size: u64) -> String {
        let mut parts = vec![];
        if !self.q.is_empty() {
            parts.push(format!("q={}", urlencode(&self.q)));
        }
        parts.push(format!("sort={}", sort.as_str()));
        parts.push(format!("dir={}", if desc { "desc" } else { "asc" }));
        if let Some(d) = self.unused_days {
            parts.push(format!("unused={d}"));
        }
        if page > 1 {
            parts.push(format!("page={page}"));
        }
        parts.push(format!("size={size}"));
        format!("/users?{}", parts.join("&"))
    }
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Which users a bulk action applies to: explicit IDs, or every user matching a search.
#[derive(Debug, Clone)]
pub enum Selection {
    Ids(Vec<String>),
    Matching(String),
    /// Every user who holds this model (/models: "remove from all of them").
    Holding(String),
}

/// The bulk-action form (`/users/bulk`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BulkForm {
    /// Selected external IDs (checkboxes named `ids`).
    #[serde(default)]
    pub ids: Vec<String>,
    /// "1" when the selection is "every user matching `q`".
    #[serde(default)]
    pub all_matching: String,
    #[serde(default)]
    pub q: String,
    /// Set: the selection is every user holding this model.
    #[serde(default)]
    pub holding_model: String,
    /// `models.replace|models.add|models.remove|services.…|organisation|rotate|delete`.
    #[serde(default)]
    pub op: String,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub organisation: String,
    /// The value of a `<limit>.set` action (a budget, a period, a rate, a date).
    #[serde(default)]
    pub limit_value: String,
    /// `preview` (default) or `apply`.
    #[serde(default)]
    pub step: String,
    /// The count the admin confirmed (deletions must name it).
    #[serde(default)]
    pub confirm_count: String,
}

impl BulkForm {
    pub fn selection(&self) -> Selection {
        if !self.holding_model.trim().is_empty() {
            return Selection::Holding(self.holding_model.trim().chars().take(256).collect());
        }
        if self.all_matching == "1" {
            Selection::Matching(
                self.q
                    .trim()
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(128)
                    .collect(),
            )
        } else {
            // An ID that breaks the rules cannot exist: it is dropped here (and the
            // selection may end up empty, which is reported).
            let mut ids: Vec<String> = self
                .ids
                .iter()
                .filter_map(|s| UserId::parse(s).ok())
                .map(UserId::into_inner)
                .collect();
            ids.sort();
            ids.dedup();
            Selection::Ids(ids)
        }
    }
}

/// What a bulk action does.
#[derive(Debug, Clone, PartialEq)]
pub enum BulkOp {
    Models(SetOp, Vec<String>),
    Services(SetOp, Vec<String>),
    Organisation(String),
    /// Give users without a key alias the one this template makes (`{user_id}` …).
    Alias(String),
    Rotate,
    Delete,
    /// Set (`Some`) or clear (`None`) one limit column (LiteLLM's name).
    Limit(&'static str, Option<super::limits::LimitValue>),
    /// Block (`true`) or unblock the keys.
    Blocked(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    Replace,
    Add,
    Remove,
}

impl SetOp {
    pub fn as_str(self) -> &'static str {
        match self {
            SetOp::Replace => "replace",
            SetOp::Add => "add",
            SetOp::Remove => "remove",
        }
    }
}

impl BulkOp {
    pub fn name(&self) -> String {
        match self {
            BulkOp::Models(s, _) => format!("models.{}", s.as_str()),
            BulkOp::Services(s, _) => format!("services.{}", s.as_str()),
            BulkOp::Organisation(_) => "organisation".into(),
            BulkOp::Alias(_) => "alias".into(),
            BulkOp::Rotate => "rotate".into(),
            BulkOp::Delete => "delete".into(),
            BulkOp::Limit(f, Some(_)) => format!("{f}.set"),
            BulkOp::Limit(f, None) => format!("{f}.clear"),
            BulkOp::Blocked(true) => "block".into(),
            BulkOp::Blocked(false) => "unblock".into(),
        }
    }
}

pub const BULK_OPS: [(&str, &str); 22] = [
    ("models.add", "bulk-op-models-add"),
    ("models.remove", "bulk-op-models-remove"),
    ("models.replace", "bulk-op-models-replace"),
    ("services.add", "bulk-op-services-add"),
    ("services.remove", "bulk-op-services-remove"),
    ("services.replace", "bulk-op-services-replace"),
    ("organisation", "bulk-op-organisation"),
    ("alias", "bulk-op-alias"),
    ("rotate", "bulk-op-rotate"),
    ("max_budget.set", "bulk-op-max-budget-set"),
    ("max_budget.clear", "bulk-op-max-budget-clear"),
    ("budget_duration.set", "bulk-op-budget-duration-set"),
    ("budget_duration.clear", "bulk-op-budget-duration-clear"),
    ("rpm_limit.set", "bulk-op-rpm-limit-set"),
    ("rpm_limit.clear", "bulk-op-rpm-limit-clear"),
    ("tpm_limit.set", "bulk-op-tpm-limit-set"),
    ("tpm_limit.clear", "bulk-op-tpm-limit-clear"),
    ("expires_at.set", "bulk-op-expires-at-set"),
    ("expires_at.clear", "bulk-op-expires-at-clear"),
    ("block", "bulk-op-block"),
    ("unblock", "bulk-op-unblock"),
    ("delete", "action-delete"),
];

impl BulkForm {
    /// The operation, or the field and message that say what is wrong. `tz`
    /// reads an expiry date (the end of that day there).
    pub fn op_in(&self, tz: chrono_tz::Tz) -> Result<BulkOp, (&'static str, crate::i18n::Msg)> {
        if let Some(op) = super::limits::bulk_op(&self.op, &self.limit_value, tz)? {
            return Ok(op);
        }
        self.op()
    }

    /// The operation, or the field and message that say what is wrong.
    pub fn op(&self) -> Result<BulkOp, (&'static str, Msg)> {
        let set = |s: &str| match s {
            "replace" => Some(SetOp::Replace),
            "add" => Some(SetOp::Add),
            "remove" => Some(SetOp::Remove),
            _ => None,
        };
        let (kind, how) = self.op.split_once('.').unwrap_or((self.op.as_str(), ""));
        match (kind, set(how)) {
            ("models", Some(s)) => {
                let models = parse_models(&self.models).map_err(|e| ("models", e))?;
                if models.is_empty() && s != SetOp::Replace {
                    return Err(("models", "err-choose-model".into()));
                }
                Ok(BulkOp::Models(s, models))
            }
            ("services", Some(s)) => {
                let names = parse_services(&self.services).map_err(|e| ("services", e))?;
                if names.is_empty() && s != SetOp::Replace {
                    return Err(("services", "err-choose-service".into()));
                }
                Ok(BulkOp::Services(s, names))
            }
            ("organisation", _) => Organisation::parse(&self.organisation)
                .map(|o| BulkOp::Organisation(o.into_inner()))
                .map_err(|e| ("organisation", e)),
            // The template is the server's (MAMA_KEY_ALIAS_TEMPLATE), filled in by the caller.
            ("alias", _) => Ok(BulkOp::Alias(String::new())),
            ("rotate", _) => Ok(BulkOp::Rotate),
            ("delete", _) => Ok(BulkOp::Delete),
            _ => Err(("op", "err-choose-action".into())),
        }
    }
}

/// The create-many form (`/users/new`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CreateManyForm {
    #[serde(default)]
    pub lines: String,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub services: Vec<String>,
    /// `all` (create all or none) or `valid` (skip bad lines).
    #[serde(default)]
    pub mode: String,
    /// `preview` (default) or `apply`.
    #[serde(default)]
    pub step: String,
    #[serde(default)]
    pub max_budget: String,
    #[serde(default)]
    pub budget_duration: String,
    #[serde(default)]
    pub rpm_limit: String,
    #[serde(default)]
    pub tpm_limit: String,
    #[serde(default)]
    pub expires_at: String,
    #[serde(default)]
    pub blocked: String,
}

impl CreateManyForm {
    /// The limit fields as sent (given to every created user).
    pub fn limits(&self) -> super::limits::LimitsForm {
        super::limits::LimitsForm {
            max_budget: self.max_budget.clone(),
            budget_duration: self.budget_duration.clone(),
            rpm_limit: self.rpm_limit.clone(),
            tpm_limit: self.tpm_limit.clone(),
            expires_at: self.expires_at.clone(),
            blocked: self.blocked.clone(),
        }
    }
}

/// The edit form (`/users/{id}`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EditForm {
    #[serde(default)]
    pub organisation: String,
    #[serde(default)]
    pub key_alias: String,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub extra: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub max_budget: String,
    #[serde(default)]
    pub budget_duration: String,
    #[serde(default)]
    pub rpm_limit: String,
    #[serde(default)]
    pub tpm_limit: String,
    #[serde(default)]
    pub expires_at: String,
    #[serde(default)]
    pub blocked: String,
}

impl EditForm {
    /// The limit fields as sent.
    pub fn limits(&self) -> super::limits::LimitsForm {
        super::limits::LimitsForm {
            max_budget: self.max_budget.clone(),
            budget_duration: self.budget_duration.clone(),
            rpm_limit: self.rpm_limit.clone(),
            tpm_limit: self.tpm_limit.clone(),
            expires_at: self.expires_at.clone(),
            blocked: self.blocked.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_follow_one_rule() {
        assert!(UserId::parse("alice.smith+x@corp-1_a").is_ok());
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse("a b").is_err());
        assert!(UserId::parse("<script>").is_err());
        assert!(UserId::parse("é").is_err());
        assert!(UserId::parse(&"a".repeat(129)).is_err());
        assert!(UserId::parse(&"a".repeat(128)).is_ok());
        assert_eq!(UserId::parse(".").unwrap_err().key, UserId::RESERVED);
        assert_eq!(UserId::parse(" .. ").unwrap_err().key, UserId::RESERVED);
        assert!(UserId::parse("...").is_ok());
    }

    #[test]
    fn an_exported_formula_like_id_imports_as_it_was() {
        let lines = parse_lines("'+4912,'=Org\n\"'-x\",Org\n").unwrap();
        assert_eq!(lines[0].user_id, "+4912");
        assert_eq!(lines[0].organisation, "=Org");
        assert_eq!(lines[1].user_id, "-x");
        assert!(lines.iter().all(|l| l.error.is_none()));
    }

    #[test]
    fn pasted_lines_report_each_problem_with_its_line_number() {
        let lines =
            parse_lines("user_id,organisation\nalice,Org A\n,Org B\n\nbad id,X\nalice,Org C\n")
                .unwrap();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].number, 2);
        assert!(lines[0].error.is_none());
        assert_eq!(lines[1].number, 3);
        assert_eq!(lines[1].error.as_ref().unwrap().key, "err-user-id-empty");
        assert_eq!(lines[2].number, 5);
        assert_eq!(lines[2].error.as_ref().unwrap().key, "err-user-id-chars");
        assert_eq!(
            lines[3].error.as_ref().unwrap().to_string(),
            "Duplicate of line 2."
        );
    }
}
