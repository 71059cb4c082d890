//! The "new API client" form.
use serde::Deserialize;

use super::{
    Scope,
    service::{NewClient, RATE_LIMIT_MAX, check_name},
};
use crate::web::FormErrors;

#[derive(Debug, Deserialize)]
pub struct NewClientForm {
    #[serde(default)]
    pub name: String,
    /// One value per ticked checkbox.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Empty: the default limit.
    #[serde(default)]
    pub rate_limit_per_minute: String,
}

impl NewClientForm {
    /// The client to create, or field messages.
    pub fn check(&self, created_by: &str) -> Result<NewClient, FormErrors> {
        let mut e = FormErrors::default();
        let name = self.name.trim().to_string();
        if let Some(why) = check_name(&name) {
            e.add("name", super::service::check_name_key(why));
        }
        let mut scopes = vec![];
        for s in &self.scopes {
            match Scope::parse(s) {
                Some(s) => scopes.push(s),
                None => e.add("scopes", "err-scope-unknown"),
            }
        }
        if self.scopes.is_empty() {
            e.add("scopes", "err-scope-none");
        }
        let rl = self.rate_limit_per_minute.trim();
        let rate_limit_per_minute = if rl.is_empty() {
            None
        } else {
            match rl.parse::<i32>() {
                Ok(n) if (1..=RATE_LIMIT_MAX).contains(&n) => Some(n),
                _ => {
                    e.add(
                        "rate_limit_per_minute",
                        crate::i18n::Msg::new("err-rate-limit").num("max", RATE_LIMIT_MAX),
                    );
                    None
                }
            }
        };
        if !e.is_empty() {
            return Err(e);
        }
        Ok(NewClient {
            name,
            scopes,
            rate_limit_per_minute,
            created_by: Some(created_by.to_string()),
        })
    }
}
