//! Admin-side forms, validated into field-level messages.
use serde::Deserialize;
use validator::Validate;

use super::{Role, password};
use crate::web::FormErrors;

/// Usernames are stored trimmed and lower-case.
pub fn normalise_username(raw: &str) -> String {
    raw.trim().to_lowercase()
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    /// The page to return to (see [`safe_next`]).
    #[serde(default)]
    pub next: String,
}

/// `next` if it is a path on this site worth returning to, else `None`. Only
/// `/x…` paths: never `//host` or `/\\host` (which browsers treat as another
/// origin), never a scheme, control characters, or the login/logout pages.
pub fn safe_next(next: &str) -> Option<String> {
    let n = next.trim();
    let ok = n.len() <= 1024
        && n.starts_with('/')
        && !n.starts_with("//")
        && !n.starts_with("/\\")
        && !n.chars().any(|c| c.is_control() || c == '\\')
        && !n.starts_with("/login")
        && !n.starts_with("/logout")
        && !n.starts_with("/static/");
    ok.then(|| n.to_string())
}

impl LoginForm {
    pub fn check(&self) -> FormErrors {
        let mut e = FormErrors::default();
        if self.username.trim().is_empty() {
            e.add("username", "err-enter-username");
        } else if self.username.chars().count() > 64 {
            e.add("username", "err-username-long");
        }
        if self.password.is_empty() {
            e.add("password", "err-enter-password");
        } else if self.password.chars().count() > 1024 {
            e.add("password", "err-password-too-long");
        }
        e
    }
}

#[derive(Debug, Deserialize, Validate)]
pub struct ChangePasswordForm {
    #[serde(default)]
    #[validate(length(min = 1, message = "err-enter-current-password"))]
    pub current_password: String,
    #[serde(default)]
    pub new_password: String,
    #[serde(default)]
    pub confirm_password: String,
}

/// Checks a new password and its confirmation against the policy.
pub fn check_new_password(
    e: &mut FormErrors,
    field: &str,
    new: &str,
    confirm: &str,
    username: &str,
) {
    if new.is_empty() {
        e.add(field, "err-enter-new-password");
    } else if let Some(why) = password::policy_violation(new, username) {
        e.add(field, why);
    }
    if new != confirm {
        e.add("confirm_password", "err-passwords-differ");
    }
}

impl ChangePasswordForm {
    pub fn check(&self, username: &str) -> FormErrors {
        let mut e = match self.validate() {
            Ok(()) => FormErrors::default(),
            Err(errs) => FormErrors::from_validator(&errs),
        };
        check_new_password(
            &mut e,
            "new_password",
            &self.new_password,
            &self.confirm_password,
            username,
        );
        if e.is_empty() && self.new_password == self.current_password {
            e.add("new_password", "err-password-unchanged");
        }
        e
    }
}

#[derive(Debug, Default, Deserialize, Validate)]
pub struct NewAdminForm {
    #[serde(default)]
    #[validate(
        length(min = 1, max = 64, message = "err-username-length"),
        custom(function = "username_chars", message = "err-username-chars")
    )]
    pub username: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub confirm_password: String,
}

fn username_chars(u: &str) -> Result<(), validator::ValidationError> {
    let ok = u
        .trim()
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'));
    if ok {
        Ok(())
    } else {
        Err(validator::ValidationError::new("chars"))
    }
}

impl NewAdminForm {
    pub fn check(&self) -> (FormErrors, Option<Role>) {
        let mut e = match self.validate() {
            Ok(()) => FormErrors::default(),
            Err(errs) => FormErrors::from_validator(&errs),
        };
        let role = Role::parse(&self.role);
        if role.is_none() {
            e.add("role", "err-choose-role");
        }
        check_new_password(
            &mut e,
            "password",
            &self.password,
            &self.confirm_password,
            &self.username,
        );
        (e, role)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ResetPasswordForm {
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub confirm_password: String,
}
