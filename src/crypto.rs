//! Randomness, hashing and encryption at rest. Every secret mama makes comes from here.
use aes_gcm::{
    Aes256Gcm, Nonce,
    aead::{Aead, Generate, KeyInit, Payload},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest, Sha256};

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `len` characters drawn uniformly from base62 by a CSPRNG (rejection sampling, no bias).
pub fn random_base62(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        rand::fill(&mut buf);
        for b in buf {
            // 248 = 4 * 62: bytes at or above it would bias the first characters.
            if b < 248 && out.len() < len {
                out.push(BASE62[(b % 62) as usize] as char);
            }
        }
    }
    out
}

/// 32 random bytes as URL-safe base64: session IDs, CSRF tokens.
pub fn random_token() -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut b = [0u8; 32];
    rand::fill(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// 16 random bytes as hex: request IDs.
pub fn random_id() -> String {
    let mut b = [0u8; 16];
    rand::fill(&mut b);
    hex::encode(b)
}

/// Lower-case hex SHA-256 (equals LiteLLM's `token` for a key).
pub fn sha256_hex(data: &str) -> String {
    hex::encode(Sha256::digest(data.as_bytes()))
}

/// Constant-time string comparison for tokens.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The last `n` characters, for display: `…a1B2`.
pub fn hint(secret: &str, n: usize) -> String {
    let chars: Vec<char> = secret.chars().collect();
    chars[chars.len().saturating_sub(n)..].iter().collect()
}

/// Prefix of the current ciphertext format: `v2:<key id>:base64(nonce ‖ ciphertext)`.
/// The legacy format (`base64(nonce ‖ ciphertext)`, no key id, no associated data)
/// is still read, and `mama keys reencrypt` moves such rows to the current one.
const V2: &str = "v2";

/// Encryption at rest of users' keys: AES-256-GCM with a fresh random nonce per
/// value, under one *current* key (new writes) and any number of older keys
/// (reads only), each named by a key id derived from the key itself. The user's
/// stable ID (`user_id`, which mama never renames) is the associated data, so a
/// ciphertext copied onto another user's row does not decrypt; after decrypting,
/// the value must hash to the row's `key_sha256`.
#[derive(Clone)]
pub struct KeyCipher(std::sync::Arc<Ring>);

struct Ring {
    current: String,
    keys: Vec<(String, Aes256Gcm)>,
}

/// Why one stored key could not be read. No variant carries secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    #[error(
        "the stored key was encrypted under key id {0}, which is not configured (MAMA_ENCRYPTION_KEY / MAMA_ENCRYPTION_KEYS_OLD)"
    )]
    UnknownKeyId(String),
    #[error("the stored key is malformed (corrupt data)")]
    Malformed,
    #[error(
        "the stored key does not decrypt for this user (wrong key, corrupt, or copied from another user)"
    )]
    Refused,
    #[error(
        "the stored key decrypts but does not match the user's key_sha256 (swapped or corrupt)"
    )]
    HashMismatch,
}

impl DecryptError {
    /// A stable machine code for API error lists.
    pub fn code(&self) -> &'static str {
        match self {
            DecryptError::UnknownKeyId(_) => "UNKNOWN_KEY_ID",
            DecryptError::Malformed => "MALFORMED_CIPHERTEXT",
            DecryptError::Refused => "DECRYPTION_FAILED",
            DecryptError::HashMismatch => "KEY_HASH_MISMATCH",
        }
    }
}

/// The key id of an encryption key: the first 8 hex digits of
/// SHA-256("mama.encryption-key-id\0" ‖ key). Public, stable, and reveals nothing
/// useful about the key.
pub fn encryption_key_id(key: &[u8; 32]) -> String {
    let mut h = Sha256::new();
    h.update(b"mama.encryption-key-id\0");
    h.update(key);
    hex::encode(h.finalize())[..8].to_string()
}

fn aad(user_id: &str) -> Vec<u8> {
    let mut a = b"mama.user-key.v2\0".to_vec();
    a.extend_from_slice(user_id.as_bytes());
    a
}

impl KeyCipher {
    /// One key, current for writing and reading.
    pub fn new(key: &SecretBox<[u8; 32]>) -> Self {
        Self::with_old(key, &[])
    }

    /// The current key and older, read-only ones (duplicates are ignored).
    pub fn with_old(current: &SecretBox<[u8; 32]>, old: &[SecretBox<[u8; 32]>]) -> Self {
        let mut keys: Vec<(String, Aes256Gcm)> = vec![];
        for k in std::iter::once(current).chain(old) {
            let id = encryption_key_id(k.expose_secret());
            if keys.iter().any(|(i, _)| *i == id) {
                continue;
            }
            let c = Aes256Gcm::new_from_slice(k.expose_secret()).expect("32-byte key");
            keys.push((id, c));
        }
        let current = keys[0].0.clone();
        Self(std::sync::Arc::new(Ring { current, keys }))
    }

    /// From the settings' secrets.
    pub fn from_secrets(s: &crate::config::Secrets) -> Self {
        Self::with_old(&s.encryption_key, &s.old_encryption_keys)
    }

    /// The id of the key new values are encrypted under.
    pub fn current_key_id(&self) -> &str {
        &self.0.current
    }

    /// The key id a stored value names; `None` for the legacy format.
    pub fn key_id_of(stored: &str) -> Option<&str> {
        let rest = stored.strip_prefix(V2)?.strip_prefix(':')?;
        rest.split_once(':').map(|(id, _)| id)
    }

    /// Whether the stored value is in the current format under the current key.
    pub fn is_current(&self, stored: &str) -> bool {
        Self::key_id_of(stored) == Some(self.current_key_id())
    }

    /// Encrypts `plain` for the user `user_id` under the current key.
    pub fn encrypt(&self, user_id: &str, plain: &SecretString) -> String {
        let (id, cipher) = &self.0.keys[0];
        let nonce = Nonce::generate();
        let ct = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain.expose_secret().as_bytes(),
                    aad: &aad(user_id),
                },
            )
            .expect("AES-GCM encryption of a short value cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!("{V2}:{id}:{}", STANDARD.encode(out))
    }

    /// Decrypts the user's stored key and checks it against `key_sha256`.
    pub fn decrypt(
        &self,
        user_id: &str,
        stored: &str,
        key_sha256: &str,
    ) -> Result<SecretString, DecryptError> {
        let plain =
            match stored.strip_prefix(V2).and_then(|r| r.strip_prefix(':')) {
                Some(rest) => {
                    let (id, body) = rest.split_once(':').ok_or(DecryptError::Malformed)?;
                    let (_, cipher) =
                        self.0.keys.iter().find(|(i, _)| i == id).ok_or_else(|| {
                            DecryptError::UnknownKeyId(id.chars().take(16).collect())
                        })?;
                    let (nonce, ct) = split(body)?;
                    cipher
                        .decrypt(
                            &nonce,
                            Payload {
                                msg: &ct,
                                aad: &aad(user_id),
                            },
                        )
                        .map_err(|_| DecryptError::Refused)?
                }
                // Legacy rows: no key id and no associated data; any configured key may
                // have written them. The hash check below binds them to the user.
                None => {
                    let (nonce, ct) = split(stored)?;
                    self.0
                        .keys
                        .iter()
                        .find_map(|(_, c)| c.decrypt(&nonce, ct.as_slice()).ok())
                        .ok_or(DecryptError::Refused)?
                }
            };
        let plain = String::from_utf8(plain).map_err(|_| DecryptError::Malformed)?;
        if !constant_time_eq(&sha256_hex(&plain), key_sha256) {
            return Err(DecryptError::HashMismatch);
        }
        Ok(SecretString::from(plain))
    }
}

fn split(b64: &str) -> Result<(Nonce<aes_gcm::aead::consts::U12>, Vec<u8>), DecryptError> {
    let raw = STANDARD.decode(b64).map_err(|_| DecryptError::Malformed)?;
    if raw.len() < 12 + 16 {
        return Err(DecryptError::Malformed);
    }
    let nonce = Nonce::try_from(&raw[..12]).map_err(|_| DecryptError::Malformed)?;
    Ok((nonce, raw[12..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base62_has_the_asked_length_and_alphabet() {
        let s = random_base62(40);
        assert_eq!(s.len(), 40);
        assert!(s.bytes().all(|b| BASE62.contains(&b)));
        assert_ne!(random_base62(40), s);
    }

    fn key(b: u8) -> SecretBox<[u8; 32]> {
        SecretBox::new(Box::new([b; 32]))
    }

    /// The legacy format, as the previous version of mama wrote it.
    fn legacy_encrypt(key: u8, plain: &str) -> String {
        let c = Aes256Gcm::new_from_slice(&[key; 32]).unwrap();
        let nonce = Nonce::generate();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&c.encrypt(&nonce, plain.as_bytes()).unwrap());
        STANDARD.encode(out)
    }

    #[test]
    fn encryption_round_trips_with_a_fresh_nonce_and_names_its_key() {
        let c = KeyCipher::new(&key(9));
        let secret = SecretString::from("sk-abc".to_string());
        let sha = sha256_hex("sk-abc");
        let a = c.encrypt("alice", &secret);
        let b = c.encrypt("alice", &secret);
        assert_ne!(a, b, "same plaintext must not give the same ciphertext");
        assert!(a.starts_with(&format!("v2:{}:", c.current_key_id())), "{a}");
        assert_eq!(
            c.decrypt("alice", &a, &sha).unwrap().expose_secret(),
            "sk-abc"
        );
        let other = KeyCipher::new(&key(8));
        assert_eq!(
            other.decrypt("alice", &a, &sha).unwrap_err(),
            DecryptError::UnknownKeyId(c.current_key_id().to_string())
        );
    }

    #[test]
    fn a_new_key_writes_while_the_old_key_still_reads() {
        let old = KeyCipher::new(&key(1));
        let rotated = KeyCipher::with_old(&key(2), &[key(1)]);
        let sha = sha256_hex("sk-old");
        let stored = old.encrypt("bob", &SecretString::from("sk-old".to_string()));
        assert_eq!(
            rotated
                .decrypt("bob", &stored, &sha)
                .unwrap()
                .expose_secret(),
            "sk-old"
        );
        assert!(!rotated.is_current(&stored));
        let fresh = rotated.encrypt("bob", &SecretString::from("sk-old".to_string()));
        assert!(rotated.is_current(&fresh));
        assert_ne!(old.current_key_id(), rotated.current_key_id());
        assert!(KeyCipher::new(&key(2)).decrypt("bob", &fresh, &sha).is_ok());
    }

    #[test]
    fn a_ciphertext_moved_to_another_user_is_refused() {
        let c = KeyCipher::new(&key(3));
        let a = c.encrypt("alice", &SecretString::from("sk-a".to_string()));
        assert_eq!(
            c.decrypt("bob", &a, &sha256_hex("sk-a")).unwrap_err(),
            DecryptError::Refused
        );
        // Even with the hash column copied too, the associated data refuses it.
        assert!(c.decrypt("bob", &a, &sha256_hex("sk-b")).is_err());
    }

    #[test]
    fn legacy_ciphertexts_still_decrypt_and_are_checked_against_the_hash() {
        let c = KeyCipher::with_old(&key(5), &[key(4)]);
        let legacy = legacy_encrypt(4, "sk-legacy");
        assert_eq!(CipherProbe::id(&legacy), None);
        assert_eq!(
            c.decrypt("x", &legacy, &sha256_hex("sk-legacy"))
                .unwrap()
                .expose_secret(),
            "sk-legacy"
        );
        assert_eq!(
            c.decrypt("x", &legacy, &sha256_hex("sk-other"))
                .unwrap_err(),
            DecryptError::HashMismatch
        );
        assert_eq!(
            c.decrypt("x", "not base64!", "00").unwrap_err(),
            DecryptError::Malformed
        );
    }

    struct CipherProbe;
    impl CipherProbe {
        fn id(s: &str) -> Option<&str> {
            KeyCipher::key_id_of(s)
        }
    }

    #[test]
    fn sha256_matches_a_known_vector() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hint("sk-1234abcd", 4), "abcd");
        assert!(constant_time_eq("ab", "ab") && !constant_time_eq("ab", "ac"));
    }
}
