//! Randomness, hashing and encryption at rest. Every secret mama makes comes from here.
use aes_gcm::{
    Aes256Gcm, Nonce,
    aead::{Aead, Generate, KeyInit},
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

/// AES-256-GCM with a fresh random nonce per value; stored as base64(nonce || ciphertext).
#[derive(Clone)]
pub struct KeyCipher(std::sync::Arc<Aes256Gcm>);

#[derive(Debug, thiserror::Error)]
#[error("stored secret cannot be decrypted (wrong MAMA_ENCRYPTION_KEY or corrupt data)")]
pub struct DecryptError;

impl KeyCipher {
    pub fn new(key: &SecretBox<[u8; 32]>) -> Self {
        let cipher = Aes256Gcm::new_from_slice(key.expose_secret()).expect("32-byte key");
        Self(std::sync::Arc::new(cipher))
    }

    pub fn encrypt(&self, plain: &SecretString) -> String {
        let nonce = Nonce::generate();
        let ct = self
            .0
            .encrypt(&nonce, plain.expose_secret().as_bytes())
            .expect("AES-GCM encryption of a short value cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        STANDARD.encode(out)
    }

    pub fn decrypt(&self, stored: &str) -> Result<SecretString, DecryptError> {
        let raw = STANDARD.decode(stored).map_err(|_| DecryptError)?;
        if raw.len() < 12 {
            return Err(DecryptError);
        }
        let nonce = Nonce::try_from(&raw[..12]).map_err(|_| DecryptError)?;
        let plain = self
            .0
            .decrypt(&nonce, &raw[12..])
            .map_err(|_| DecryptError)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| DecryptError)
    }
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

    #[test]
    fn encryption_round_trips_with_a_fresh_nonce_each_time() {
        let c = KeyCipher::new(&SecretBox::new(Box::new([9u8; 32])));
        let secret = SecretString::from("sk-abc".to_string());
        let a = c.encrypt(&secret);
        let b = c.encrypt(&secret);
        assert_ne!(a, b, "same plaintext must not give the same ciphertext");
        assert_eq!(c.decrypt(&a).unwrap().expose_secret(), "sk-abc");
        let other = KeyCipher::new(&SecretBox::new(Box::new([8u8; 32])));
        assert!(other.decrypt(&a).is_err());
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
