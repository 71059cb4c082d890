//! Password hashing (argon2id, m=19 MiB, t=2, p=1, on the blocking pool) and the
//! password policy: at least 8 characters, up to 128, not `admin`, not the
//! username, not one of the 10,000 most common passwords; no composition rules.
use std::{collections::HashSet, sync::LazyLock};

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};
use secrecy::{ExposeSecret, SecretString};

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 128;

static COMMON: LazyLock<HashSet<String>> = LazyLock::new(|| {
    include_str!("common_passwords.txt")
        .lines()
        .map(|l| l.trim().to_lowercase())
        .filter(|l| !l.is_empty())
        .collect()
});

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of a random password, verified against when the username is unknown so
/// that both paths cost the same.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking(&crate::crypto::random_token()));

fn hash_blocking(password: &str) -> String {
    argon2()
        .hash_password(password.as_bytes())
        .expect("argon2 hashing with valid parameters cannot fail")
        .to_string()
}

fn verify_blocking(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Hashes on the blocking pool.
pub async fn hash(password: SecretString) -> anyhow::Result<String> {
    Ok(tokio::task::spawn_blocking(move || hash_blocking(password.expose_secret())).await?)
}

/// Verifies on the blocking pool; `None` (unknown user) verifies against a dummy hash.
pub async fn verify(password: SecretString, phc: Option<String>) -> anyhow::Result<bool> {
    Ok(tokio::task::spawn_blocking(move || match phc {
        Some(phc) => verify_blocking(password.expose_secret(), &phc),
        None => {
            let _ = verify_blocking(password.expose_secret(), &DUMMY_HASH);
            false
        }
    })
    .await?)
}

/// Warms the dummy hash so the first unknown-user login is not slower than others.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}

/// Why a new password is refused, or `None` when it is acceptable.
pub fn policy_violation(password: &str, username: &str) -> Option<&'static str> {
    let len = password.chars().count();
    let lower = password.to_lowercase();
    if len < MIN_LEN {
        Some("err-password-min-chars")
    } else if len > MAX_LEN {
        Some("err-password-long")
    } else if lower == "admin" {
        Some("err-password-admin")
    } else if lower == username.trim().to_lowercase() {
        Some("err-password-username")
    } else if COMMON.contains(&lower) {
        Some("err-password-common")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_the_required_cost() {
        let h = hash_blocking("correct horse battery staple");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_blocking("correct horse battery staple", &h));
        assert!(!verify_blocking("wrong", &h));
        assert!(!verify_blocking("x", "not a phc string"));
    }

    #[test]
    fn the_policy_names_each_rule() {
        assert!(COMMON.len() >= 1000, "ship at least the top 1,000");
        assert_eq!(
            policy_violation("short", "bob"),
            Some("err-password-min-chars")
        );
        assert!(policy_violation(&"x".repeat(129), "bob").is_some());
        assert!(
            policy_violation(&"é".repeat(64), "bob").is_none(),
            "64 characters are allowed"
        );
        assert!(
            policy_violation("password", "bob")
                .unwrap()
                .contains("err-password-common")
        );
        assert!(
            policy_violation("12345678", "bob")
                .unwrap()
                .contains("err-password-common")
        );
        assert!(
            policy_violation("alice-the-admin", "Alice-the-Admin")
                .unwrap()
                .contains("username")
        );
        assert_eq!(policy_violation("a long enough phrase", "bob"), None);
        assert_eq!(
            policy_violation("lowercaseonly", "bob"),
            None,
            "no composition rules"
        );
    }
}
