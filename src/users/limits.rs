//! Per-user limits that travel to LiteLLM with the key, under LiteLLM's own field
//! names: `max_budget` (USD), `budget_duration` (`1d`/`7d`/`30d`), `rpm_limit`,
//! `tpm_limit`, `expires_at`, `blocked`. One rule set for the edit dialog,
//! create-many, bulk edits, the provisioning API and `mama apply`.
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::entities::user;

/// The largest budget mama accepts (USD): a typo guard, far above any real one.
pub const MAX_BUDGET_USD: f64 = 1_000_000_000.0;
/// The largest rate limit mama accepts (requests or tokens per minute).
pub const MAX_RATE: i64 = 1_000_000_000_000;

/// How often LiteLLM resets a budget: the values of its `budget_duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetDuration {
    Daily,
    Weekly,
    Monthly,
}

impl BudgetDuration {
    pub const ALL: [BudgetDuration; 3] = [
        BudgetDuration::Daily,
        BudgetDuration::Weekly,
        BudgetDuration::Monthly,
    ];
    /// LiteLLM's text.
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetDuration::Daily => "1d",
            BudgetDuration::Weekly => "7d",
            BudgetDuration::Monthly => "30d",
        }
    }
    /// The catalogue key of its name.
    pub fn label(self) -> &'static str {
        match self {
            BudgetDuration::Daily => "budget-daily",
            BudgetDuration::Weekly => "budget-weekly",
            BudgetDuration::Monthly => "budget-monthly",
        }
    }
    pub fn parse(s: &str) -> Option<BudgetDuration> {
        Self::ALL.into_iter().find(|d| d.as_str() == s.trim())
    }
}

/// A user's limits (validated).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    pub max_budget: Option<f64>,
    pub budget_duration: Option<String>,
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub blocked: bool,
}

impl Limits {
    pub fn of(u: &user::Model) -> Limits {
        Limits {
            max_budget: u.max_budget,
            budget_duration: u.budget_duration.clone(),
            rpm_limit: u.rpm_limit,
            tpm_limit: u.tpm_limit,
            expires_at: u.expires_at,
            blocked: u.blocked,
        }
    }

    /// The audit trail's before/after form (LiteLLM's names).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "max_budget": self.max_budget,
            "budget_duration": self.budget_duration,
            "rpm_limit": self.rpm_limit,
            "tpm_limit": self.tpm_limit,
            "expires_at": self.expires_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            "blocked": self.blocked,
        })
    }

    /// Field errors (field, catalogue key with its arguments) of typed values
    /// (the API and spec files): the same rules the forms apply.
    pub fn check(&self) -> Vec<(&'static str, crate::i18n::Msg)> {
        let mut errs = vec![];
        if let Some(b) = self.max_budget
            && let Err(m) = check_budget(b)
        {
            errs.push(("max_budget", m));
        }
        if let Some(d) = &self.budget_duration
            && BudgetDuration::parse(d).is_none()
        {
            errs.push((
                "budget_duration",
                crate::i18n::Msg::new("err-budget-duration"),
            ));
        }
        for (f, v) in [("rpm_limit", self.rpm_limit), ("tpm_limit", self.tpm_limit)] {
            if let Some(n) = v
                && let Err(m) = check_rate(n)
            {
                errs.push((f, m));
            }
        }
        errs
    }
}

fn check_budget(b: f64) -> Result<f64, crate::i18n::Msg> {
    use crate::i18n::Msg;
    if !b.is_finite() {
        return Err(Msg::new("err-number"));
    }
    if b < 0.0 {
        return Err(Msg::new("err-not-negative"));
    }
    if b > MAX_BUDGET_USD {
        return Err(Msg::new("err-too-large").num("max", MAX_BUDGET_USD as i64));
    }
    Ok(b)
}

fn check_rate(n: i64) -> Result<i64, crate::i18n::Msg> {
    use crate::i18n::Msg;
    if n < 1 {
        return Err(Msg::new("err-at-least-one"));
    }
    if n > MAX_RATE {
        return Err(Msg::new("err-too-large").num("max", MAX_RATE));
    }
    Ok(n)
}

/// `""` → none; else a budget in USD (`50`, `0.5`, `1,000`, `$20`).
pub fn parse_budget(raw: &str) -> Result<Option<f64>, crate::i18n::Msg> {
    let s: String = raw
        .trim()
        .trim_start_matches('$')
        .chars()
        .filter(|c| *c != ',' && *c != '_')
        .collect();
    if s.is_empty() {
        return Ok(None);
    }
    let b: f64 = s
        .trim()
        .parse()
        .map_err(|_| crate::i18n::Msg::new("err-number"))?;
    check_budget(b).map(Some)
}

/// `""` → none; else a whole number ≥ 1.
pub fn parse_rate(raw: &str) -> Result<Option<i64>, crate::i18n::Msg> {
    let s: String = raw
        .trim()
        .chars()
        .filter(|c| *c != ',' && *c != '_')
        .collect();
    if s.is_empty() {
        return Ok(None);
    }
    let n: i64 = s
        .parse()
        .map_err(|_| crate::i18n::Msg::new("err-whole-number"))?;
    check_rate(n).map(Some)
}

/// `""` → none; else `1d`, `7d` or `30d`.
pub fn parse_duration(raw: &str) -> Result<Option<String>, crate::i18n::Msg> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    BudgetDuration::parse(raw)
        .map(|d| Some(d.as_str().to_string()))
        .ok_or_else(|| crate::i18n::Msg::new("err-budget-duration"))
}

/// `""` → none; `YYYY-MM-DD` → the end of that day in `tz` (the admin's time
/// zone: "until the 31st" includes the 31st); or an RFC 3339 time.
pub fn parse_expiry(raw: &str, tz: Tz) -> Result<Option<DateTime<Utc>>, crate::i18n::Msg> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    if let Ok(local) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M") {
        return tz
            .from_local_datetime(&local)
            .earliest()
            .map(|t| Some(t.with_timezone(&Utc)))
            .ok_or_else(|| crate::i18n::Msg::new("err-date"));
    }
    let d =
        NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| crate::i18n::Msg::new("err-date"))?;
    let end = d.and_time(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or_default());
    tz.from_local_datetime(&end)
        .earliest()
        .map(|t| Some(t.with_timezone(&Utc)))
        .ok_or_else(|| crate::i18n::Msg::new("err-date"))
}

/// A checkbox or a `true`/`false` text.
pub fn parse_flag(raw: &str) -> bool {
    matches!(
        raw.trim().to_ascii_lowercase().as_str(),
        "1" | "on" | "true" | "yes"
    )
}

/// The limit fields of a web form, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LimitsForm {
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

impl LimitsForm {
    /// The limits, or every field error (field, message).
    pub fn parse(&self, tz: Tz) -> Result<Limits, Vec<(&'static str, crate::i18n::Msg)>> {
        let mut errs = vec![];
        let mut l = Limits {
            blocked: parse_flag(&self.blocked),
            ..Default::default()
        };
        match parse_budget(&self.max_budget) {
            Ok(v) => l.max_budget = v,
            Err(m) => errs.push(("max_budget", m)),
        }
        match parse_duration(&self.budget_duration) {
            Ok(v) => l.budget_duration = v,
            Err(m) => errs.push(("budget_duration", m)),
        }
        match parse_rate(&self.rpm_limit) {
            Ok(v) => l.rpm_limit = v,
            Err(m) => errs.push(("rpm_limit", m)),
        }
        match parse_rate(&self.tpm_limit) {
            Ok(v) => l.tpm_limit = v,
            Err(m) => errs.push(("tpm_limit", m)),
        }
        match parse_expiry(&self.expires_at, tz) {
            Ok(v) => l.expires_at = v,
            Err(m) => errs.push(("expires_at", m)),
        }
        if errs.is_empty() { Ok(l) } else { Err(errs) }
    }

    /// The form showing `l` (the expiry as a date in `tz`, for `<input type=date>`).
    pub fn show(l: &Limits, tz: Tz) -> LimitsForm {
        LimitsForm {
            max_budget: l.max_budget.map(fmt_usd_plain).unwrap_or_default(),
            budget_duration: l.budget_duration.clone().unwrap_or_default(),
            rpm_limit: l.rpm_limit.map(|n| n.to_string()).unwrap_or_default(),
            tpm_limit: l.tpm_limit.map(|n| n.to_string()).unwrap_or_default(),
            expires_at: l
                .expires_at
                .map(|t| t.with_timezone(&tz).format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            blocked: if l.blocked { "1".into() } else { String::new() },
        }
    }
}

/// A budget as typed into a form: every digit it has (the shortest text that
/// reads back as the same number, so saving the dialog unchanged keeps it), no
/// grouping, never an exponent.
pub fn fmt_usd_plain(b: f64) -> String {
    b.to_string()
}

/// A dollar amount for people: `$12.34`, small amounts with more digits.
pub fn fmt_usd(v: f64) -> String {
    if v != 0.0 && v.abs() < 0.01 {
        format!("${v:.6}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        let cents = (v * 100.0).round() as i64;
        format!(
            "${}.{:02}",
            crate::i18n::number(cents / 100),
            (cents % 100).abs()
        )
    }
}

/// Share of the budget spent, in percent (`None` without budget or spend).
pub fn share_used(spend: Option<f64>, max_budget: Option<f64>) -> Option<f64> {
    match (spend, max_budget) {
        (Some(s), Some(b)) if b > 0.0 => Some(s / b * 100.0),
        (Some(s), Some(_)) if s > 0.0 => Some(100.0),
        (_, Some(_)) => Some(0.0),
        _ => None,
    }
}

/// A value a bulk action sets.
#[derive(Debug, Clone, PartialEq)]
pub enum LimitValue {
    Usd(f64),
    Period(String),
    Rate(i64),
    Time(DateTime<Utc>),
}

impl LimitValue {
    pub fn to_db(&self) -> sea_orm::Value {
        match self {
            LimitValue::Usd(v) => (*v).into(),
            LimitValue::Period(p) => p.clone().into(),
            LimitValue::Rate(n) => (*n).into(),
            LimitValue::Time(t) => (*t).into(),
        }
    }
    /// As people and the audit trail read it.
    pub fn display(&self) -> String {
        match self {
            LimitValue::Usd(v) => fmt_usd(*v),
            LimitValue::Period(p) => p.clone(),
            LimitValue::Rate(n) => crate::i18n::number(*n),
            LimitValue::Time(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }
    /// Whether `u` already holds this value (`None`: holds no value).
    pub fn held_by(v: &Option<LimitValue>, field: &str, u: &user::Model) -> bool {
        match (field, v) {
            ("max_budget", Some(LimitValue::Usd(b))) => u.max_budget == Some(*b),
            ("max_budget", None) => u.max_budget.is_none(),
            ("budget_duration", Some(LimitValue::Period(p))) => {
                u.budget_duration.as_deref() == Some(p.as_str())
            }
            ("budget_duration", None) => u.budget_duration.is_none(),
            ("rpm_limit", Some(LimitValue::Rate(n))) => u.rpm_limit == Some(*n),
            ("rpm_limit", None) => u.rpm_limit.is_none(),
            ("tpm_limit", Some(LimitValue::Rate(n))) => u.tpm_limit == Some(*n),
            ("tpm_limit", None) => u.tpm_limit.is_none(),
            ("expires_at", Some(LimitValue::Time(t))) => u.expires_at == Some(*t),
            ("expires_at", None) => u.expires_at.is_none(),
            _ => false,
        }
    }
    /// The current value of `field` on `u`, for the audit trail.
    pub fn current(field: &str, u: &user::Model) -> serde_json::Value {
        let l = Limits::of(u).to_json();
        l.get(field).cloned().unwrap_or(serde_json::Value::Null)
    }
}

/// The limit columns a bulk action may set or clear (LiteLLM's names).
pub const LIMIT_FIELDS: [&str; 5] = [
    "max_budget",
    "budget_duration",
    "rpm_limit",
    "tpm_limit",
    "expires_at",
];

/// `max_budget.set` with `raw`, `rpm_limit.clear`, `block`, `unblock` … as a bulk
/// operation; `Ok(None)` when `op` is not a limit action.
pub fn bulk_op(
    op: &str,
    raw: &str,
    tz: Tz,
) -> Result<Option<super::forms::BulkOp>, (&'static str, crate::i18n::Msg)> {
    use super::forms::BulkOp;
    match op {
        "block" => return Ok(Some(BulkOp::Blocked(true))),
        "unblock" => return Ok(Some(BulkOp::Blocked(false))),
        _ => {}
    }
    let Some((field, how)) = op.split_once('.') else {
        return Ok(None);
    };
    let Some(field) = LIMIT_FIELDS.iter().copied().find(|f| *f == field) else {
        return Ok(None);
    };
    let at = "limit_value";
    let with_field = |m: crate::i18n::Msg| (at, m.field(field));
    let value = match how {
        "clear" => None,
        "set" => {
            let v = match field {
                "max_budget" => parse_budget(raw).map_err(with_field)?.map(LimitValue::Usd),
                "budget_duration" => parse_duration(raw)
                    .map_err(with_field)?
                    .map(LimitValue::Period),
                "expires_at" => parse_expiry(raw, tz)
                    .map_err(with_field)?
                    .map(LimitValue::Time),
                _ => parse_rate(raw).map_err(with_field)?.map(LimitValue::Rate),
            };
            match v {
                Some(v) => Some(v),
                None => return Err(with_field(crate::i18n::Msg::new("err-limit-value"))),
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(BulkOp::Limit(field, value)))
}

/// At or above this share of its budget a user is marked on `/users`.
pub const WARN_SHARE: f64 = 80.0;

/// The `duration` LiteLLM should be sent for an expiry: seconds from now
/// (`0s` when already past: LiteLLM then expires the key at once), `None` when
/// the key never expires (sent as JSON null, which clears LiteLLM's expiry).
pub fn duration_for(expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<String> {
    expires_at.map(|t| format!("{}s", (t - now).num_seconds().max(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_become_limits_or_name_each_bad_field() {
        let f = LimitsForm {
            max_budget: "$1,000.5".into(),
            budget_duration: "30d".into(),
            rpm_limit: "60".into(),
            tpm_limit: "".into(),
            expires_at: "2027-01-31".into(),
            blocked: "on".into(),
        };
        let l = f.parse(chrono_tz::Asia::Seoul).unwrap();
        assert_eq!(l.max_budget, Some(1000.5));
        assert_eq!(l.budget_duration.as_deref(), Some("30d"));
        assert_eq!(l.rpm_limit, Some(60));
        assert_eq!(l.tpm_limit, None);
        assert!(l.blocked);
        assert_eq!(
            l.expires_at.unwrap().to_rfc3339(),
            "2027-01-31T14:59:59+00:00"
        );
        let bad = LimitsForm {
            max_budget: "-1".into(),
            budget_duration: "2d".into(),
            rpm_limit: "1.5".into(),
            tpm_limit: "0".into(),
            expires_at: "31/01/2027".into(),
            blocked: String::new(),
        };
        let errs = bad.parse(chrono_tz::UTC).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|(f, _)| *f).collect();
        assert_eq!(
            fields,
            [
                "max_budget",
                "budget_duration",
                "rpm_limit",
                "tpm_limit",
                "expires_at"
            ]
        );
    }

    #[test]
    fn the_share_used_and_the_expiry_duration_follow_the_numbers() {
        assert_eq!(share_used(Some(8.0), Some(10.0)), Some(80.0));
        assert_eq!(share_used(Some(1.0), None), None);
        assert_eq!(share_used(None, Some(10.0)), Some(0.0));
        let now = Utc::now();
        assert_eq!(
            duration_for(Some(now + chrono::Duration::seconds(90)), now).as_deref(),
            Some("90s")
        );
        assert_eq!(
            duration_for(Some(now - chrono::Duration::days(1)), now).as_deref(),
            Some("0s")
        );
        assert_eq!(duration_for(None, now), None);
        assert_eq!(fmt_usd(1234.5), "$1,234.50");
        assert_eq!(fmt_usd(0.000225), "$0.000225");
        for b in [50.0, 0.5, 0.000001, 0.00003176, 1234.5678] {
            assert_eq!(parse_budget(&fmt_usd_plain(b)).unwrap(), Some(b));
        }
        assert_eq!(fmt_usd_plain(0.00003176), "0.00003176");
    }
}
