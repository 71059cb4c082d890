//! Service inputs: the form of `/services` and the rule for a service's name
//! (shared by the page, the REST API, `mama apply` and the CLI).
use serde::Deserialize;

use crate::i18n::Msg;

/// A service (`/services`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ServiceForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// Longest name.
pub const NAME_MAX: usize = 128;

/// A service name: 1–128 characters, letters, digits and `. _ - :`.
pub fn check_service_name(raw: &str) -> Result<String, Msg> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(Msg::new("err-enter-name"));
    }
    if s.chars().count() > NAME_MAX {
        return Err(Msg::new("err-service-name-long"));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'))
    {
        return Err(Msg::new("err-service-name-chars"));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_follow_one_rule() {
        assert_eq!(check_service_name(" wiki ").unwrap(), "wiki");
        assert_eq!(check_service_name("").unwrap_err().key, "err-enter-name");
        assert_eq!(
            check_service_name(&"s".repeat(129)).unwrap_err().key,
            "err-service-name-long"
        );
        assert_eq!(
            check_service_name("a b").unwrap_err().key,
            "err-service-name-chars"
        );
    }
}
