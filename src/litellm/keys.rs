//! mama makes every key itself: `sk-` + 40 base62 characters from a CSPRNG.
//! At rest: AES-256-GCM ciphertext, its SHA-256 hex (LiteLLM's `token`), a hint.
use secrecy::{ExposeSecret, SecretString};

use crate::crypto::{KeyCipher, hint, random_base62, sha256_hex};

/// Random characters after `sk-` (≥ 32 required; 40 gives 238 bits).
pub const KEY_RANDOM_CHARS: usize = 40;

/// A new key value. It lives in memory only as long as it must.
pub fn generate() -> SecretString {
    SecretString::from(format!("sk-{}", random_base62(KEY_RANDOM_CHARS)))
}

/// What the database keeps of a key.
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub ciphertext: String,
    pub sha256: String,
    /// The last 4 characters, for display.
    pub hint: String,
}

/// Encrypts `key` for the user `user_id` (bound to it as associated data).
pub fn seal(cipher: &KeyCipher, user_id: &str, key: &SecretString) -> StoredKey {
    StoredKey {
        ciphertext: cipher.encrypt(user_id, key),
        sha256: sha256_hex(key.expose_secret()),
        hint: hint(key.expose_secret(), 4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_litellm_shape_and_never_repeat() {
        let k = generate();
        let s = k.expose_secret();
        assert!(s.starts_with("sk-") && s.len() == 3 + KEY_RANDOM_CHARS);
        assert!(s[3..].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(generate().expose_secret(), s);
    }
}
