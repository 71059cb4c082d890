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

thread_local! {
    /// The argon2 working memory of a hashing thread, allocated once and reused:
    /// freeing and reallocating 19 MiB per verify lets the allocator's arenas
    /// fragment and keep hundreds of MB under a login flood.
    static MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// [`verify_blocking`] in this thread's reused memory.
fn verify_in_place(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let blocks = params.block_count();
    let mut out = vec![0u8; expected.as_bytes().len()];
    let hashed = MEMORY.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() < blocks {
            m.resize(blocks, argon2::Block::default());
        }
        Argon2::new(algorithm, version, params).hash_password_into_with_memory(
            password.as_bytes(),
            salt.as_ref(),
            &mut out,
            &mut m[..blocks],
        )
    });
    // Constant time: every byte is compared whatever the first difference.
    hashed.is_ok()
        && out
            .iter()
            .zip(expected.as_bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
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

/// Bounds password hashing: `permits` hashes at once, each on one of `permits`
/// dedicated threads (so the 19 MiB each hash allocates is reused by the same
/// thread's allocator arena instead of spreading over the blocking pool), and a
/// caller that gets no permit within `wait` is told [`Busy`].
pub struct Hasher {
    permits: tokio::sync::Semaphore,
    wait: std::time::Duration,
    jobs: std::sync::Mutex<std::sync::mpsc::Sender<Job>>,
}

type Job = Box<dyn FnOnce() + Send>;

/// No hashing permit freed up in time: answer 429 with `Retry-After`.
#[derive(Debug, thiserror::Error)]
#[error("too many password checks at once")]
pub struct Busy;

impl Hasher {
    pub fn new(permits: usize, wait: std::time::Duration) -> Self {
        let permits = permits.max(1);
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for i in 0..permits {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("mama-argon2-{i}"))
                .spawn(move || {
                    loop {
                        // Ends when the Hasher (the only sender) is dropped.
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        Self {
            permits: tokio::sync::Semaphore::new(permits),
            wait,
            jobs: std::sync::Mutex::new(tx),
        }
    }

    /// Permits free right now (for tests and metrics).
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<Result<T, Busy>> {
        let _permit = match tokio::time::timeout(self.wait, self.permits.acquire()).await {
            Ok(Ok(p)) => p,
            _ => return Ok(Err(Busy)),
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs
            .lock()
            .map_err(|_| anyhow::anyhow!("password hashing pool poisoned"))?
            .send(job)
            .map_err(|_| anyhow::anyhow!("password hashing pool stopped"))?;
        Ok(Ok(rx.await?))
    }

    /// [`verify`] under the bound.
    pub async fn verify(
        &self,
        password: SecretString,
        phc: Option<String>,
    ) -> anyhow::Result<Result<bool, Busy>> {
        self.run(move || match phc {
            Some(phc) => verify_in_place(password.expose_secret(), &phc),
            None => {
                let _ = verify_in_place(password.expose_secret(), &DUMMY_HASH);
                false
            }
        })
        .await
    }

    /// [`hash`] under the bound.
    pub async fn hash(&self, password: SecretString) -> anyhow::Result<Result<String, Busy>> {
        self.run(move || hash_blocking(password.expose_secret()))
            .await
    }
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
        assert!(verify_in_place("correct horse battery staple", &h));
        assert!(!verify_in_place("wrong", &h));
        assert!(!verify_in_place("x", "not a phc string"));
        assert!(
            verify_in_place("correct horse battery staple", &h),
            "again, in the reused memory"
        );
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
