//! Settings from the environment. Secrets are `SecretString`s and every secret
//! also has a `NAME_FILE` variant; development secrets are generated once into a
//! local file with a loud warning.
use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::{Context, bail};
use base64::{Engine, engine::general_purpose::STANDARD};
use secrecy::{ExposeSecret, SecretBox, SecretString};

/// 64 bytes for the cookie signing/encryption key, 32 for AES-256-GCM.
pub struct Secrets {
    pub session_key: SecretBox<Vec<u8>>,
    pub encryption_key: SecretBox<[u8; 32]>,
    /// Older encryption keys, for reading only (`MAMA_ENCRYPTION_KEYS_OLD`).
    pub old_encryption_keys: Vec<SecretBox<[u8; 32]>>,
    /// The HMAC key of the audit chain (`MAMA_AUDIT_KEY`), and older ones that
    /// still verify the past (`MAMA_AUDIT_KEYS_OLD`).
    pub audit_key: SecretBox<[u8; 32]>,
    pub old_audit_keys: Vec<SecretBox<[u8; 32]>>,
    /// The Ed25519 seed that signs audit checkpoints (`MAMA_AUDIT_SIGNING_KEY`).
    pub audit_signing_key: SecretBox<[u8; 32]>,
    /// The first password of the seeded `admin` (`MAMA_INITIAL_ADMIN_PASSWORD`);
    /// `None` seeds the documented `admin`/`admin`.
    pub initial_admin_password: Option<SecretString>,
    /// Production mode (`MAMA_REQUIRE_SECRETS=true` and not `MAMA_THROWAWAY=true`):
    /// no generated secrets, and no `admin`/`admin` for whoever connects first.
    pub required: bool,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secrets([redacted])")
    }
}

/// Everything mama reads from its environment.
#[derive(Debug)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    pub bind: SocketAddr,
    pub secrets: Secrets,
    pub secure_cookies: bool,
    /// Deprecated (`MAMA_TRUST_PROXY_HEADERS`): see `security.trusted_proxies`.
    pub trust_proxy_headers: bool,
    pub session_idle_timeout: Duration,
    pub session_max_lifetime: Duration,
    pub login_max_failures: i32,
    pub login_lockout: Duration,
    pub login_ip_free_failures: i32,
    pub login_ip_max_backoff: Duration,
    pub migrate_on_start: bool,
    pub db_max_connections: u32,
    /// SQLite's page cache per pooled connection, in KiB (`PRAGMA cache_size`).
    pub sqlite_cache_kib: u32,
    /// Prepared statements each pooled connection keeps.
    pub db_statement_cache: usize,
    /// SQLite `synchronous = FULL` (the default): every commit is on disk before
    /// it returns, so an audit event a key was answered with survives a power
    /// loss, not only a crash of mama. `MAMA_SQLITE_SYNCHRONOUS=normal` trades
    /// that for speed (tests do).
    pub sqlite_synchronous_full: bool,
    pub litellm: Option<LiteLlmSettings>,
    /// Days audit events are kept; `None` (the default) keeps them forever.
    pub audit_retention_days: Option<u32>,
    /// How often each instance seals new audit events into the hash chain.
    pub audit_seal_interval: Duration,
    /// Signed checkpoints of the chain head: where they are appended (besides one
    /// log line each), and how often (every N events, and at least every interval).
    pub audit_checkpoint_file: Option<PathBuf>,
    pub audit_checkpoint_every: i64,
    pub audit_checkpoint_interval: Duration,
    /// Most events the group-commit writer stores in one transaction.
    pub audit_batch_max: usize,
    /// How long the writer may wait for more events after the first (0: never).
    pub audit_batch_wait: Duration,
    /// How often an idle target indexer looks for new sealed events.
    pub audit_index_interval: Duration,
    /// How long sealed events may wait for a run's worth of targets before the
    /// indexer writes them anyway (0: at its next pass).
    pub audit_index_max_wait: Duration,
    /// Most events, and about how many (user, event) pairs, per indexer pass.
    pub audit_index_batch_events: u64,
    pub audit_index_batch_rows: usize,
    /// Response bodies at least this large are compressed for clients that accept it.
    pub compress_min_bytes: usize,
    /// REST API requests worked on at once; the rest wait their turn (0: no limit).
    pub api_max_in_flight: usize,
    /// Most user IDs one `POST /api/v1/keys/lookup` may ask for.
    pub api_max_lookup_ids: usize,
    /// Users whose lookup answers an instance keeps in memory (0: none).
    pub lookup_cache_users: usize,
    /// The cache is filled from the database at start and after each change,
    /// ahead of the lookups, at most once per this (`None`: never; see
    /// `api::lookup_cache::spawn_preloader`).
    pub lookup_cache_preload: Option<Duration>,
    /// Requests per minute per API client unless the client sets its own.
    pub api_rate_limit_per_minute: u32,
    pub sync: SyncSettings,
    /// Language of pages for admins without a preference and a browser that names
    /// neither Korean nor English (`MAMA_DEFAULT_LANGUAGE`, `ko` or `en`).
    pub default_language: crate::i18n::Lang,
    /// Time zone of pages for admins without one (`MAMA_DEFAULT_TIME_ZONE`, IANA name).
    pub default_time_zone: chrono_tz::Tz,
    /// How often live parts of pages (/sync, pending rows on /users) poll
    /// (`MAMA_UI_POLL_MS`). Polls never count as activity for the idle timeout.
    pub ui_poll_interval: Duration,
    /// The key alias given to users created without one (`MAMA_KEY_ALIAS_TEMPLATE`,
    /// e.g. `{user_id}`; `{organisation}` also works). Empty: no alias.
    pub key_alias_template: String,
    /// Login flood and brute-force limits, trusted proxies, reveal alerts (issue 12).
    pub security: SecuritySettings,
    /// How long a stopping instance (SIGTERM, SIGINT) may take in all: finishing
    /// requests in flight, the sync jobs it runs, and its audit batches
    /// (`MAMA_SHUTDOWN_TIMEOUT_SECONDS`, default 20).
    pub shutdown_timeout: Duration,
    /// Where the per-client API rate limit is counted (`MAMA_API_RATE_LIMIT_SCOPE`):
    /// `database` (default; one counter shared by every instance) or `instance`.
    pub api_rate_limit_shared: bool,
}

/// Limits against attackers; see SECURITY.md for the scheme and its defaults.
#[derive(Debug, Clone)]
pub struct SecuritySettings {
    /// `MAMA_TRUSTED_PROXIES`: whose `X-Forwarded-For` is believed.
    pub trusted_proxies: crate::client_ip::TrustedProxies,
    /// Failed logins per account per hour from addresses that never logged in to it.
    pub login_account_hourly_cap: i32,
    /// Password hashes computed at once (each takes 19 MiB).
    pub hash_permits: usize,
    /// How long a login waits for a hashing permit before answering 429.
    pub hash_wait: Duration,
    /// Anonymous requests per address per minute (checked before the database).
    pub anonymous_per_minute: u32,
    /// Keys one admin may reveal per hour; beyond it reveals answer 429.
    pub reveal_limit_per_hour: i32,
    /// Reveals per admin per hour that raise a `security.alert.key_reveals` event.
    pub reveal_alert_per_hour: i32,
    /// How often expired sessions and stale throttle rows are purged.
    pub purge_interval: Duration,
    /// How long the answer to an `Idempotency-Key` is kept for retries.
    pub idempotency_ttl: Duration,
}

/// The sync worker and the model catalogue (`LITELLM_SYNC_*`, `LITELLM_MODELS_REFRESH_SECS`).
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// Jobs sent to LiteLLM at once by this instance.
    pub concurrency: usize,
    /// How often an idle worker looks for due jobs.
    pub poll_interval: Duration,
    /// How long a claimed job belongs to its worker before another may take it.
    pub lease: Duration,
    /// First retry delay; doubles per attempt (with jitter) up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// How often the model catalogue is fetched again.
    pub models_refresh: Duration,
    /// Run the worker in this process (off for tools that only enqueue).
    pub worker_enabled: bool,
    /// How often each key's spend is read back from LiteLLM
    /// (`MAMA_SPEND_REFRESH_SECONDS`, default 60; 0 turns the refresh off).
    pub spend_refresh: Duration,
}

/// Connection to the LiteLLM proxy (absent: mama still works, jobs wait).
#[derive(Debug, Clone)]
pub struct LiteLlmSettings {
    pub base_url: String,
    pub master_key: SecretString,
    pub timeout: Duration,
}

/// A database URL whose `Debug`/`Display` never shows its password.
#[derive(Clone)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(SecretString::from(url.into()))
    }
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
    pub fn is_postgres(&self) -> bool {
        self.expose().starts_with("postgres")
    }
    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        let url = self.expose();
        match (url.find("://"), url.rfind('@')) {
            (Some(s), Some(at)) if at > s => {
                let creds = &url[s + 3..at];
                match creds.find(':') {
                    Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                    None => url.to_string(),
                }
            }
            _ => url.to_string(),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

/// The SQLite file used when `DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://mama.db?mode=rwc";
pub const DEFAULT_DEV_SECRETS_FILE: &str = ".mama-dev-secrets";
/// Where signed audit checkpoints are appended when `MAMA_AUDIT_CHECKPOINT_FILE` is unset.
pub const DEFAULT_AUDIT_CHECKPOINT_FILE: &str = "mama-audit-checkpoints.jsonl";
/// The audit keys of [`Settings::for_tests`]: fixed, so that a test can run the
/// `mama` binary on an app's database with the same keys. Never for production.
pub const TEST_AUDIT_KEY: [u8; 32] = [0xA1; 32];
pub const TEST_AUDIT_SIGNING_KEY: [u8; 32] = [0x5E; 32];
/// The audit secrets, which the development secrets file gains when it lacks them.
const AUDIT_SECRETS: [&str; 2] = ["MAMA_AUDIT_KEY", "MAMA_AUDIT_SIGNING_KEY"];

/// Just the database URL (for commands that need nothing else, e.g. `mama migrate`).
pub fn database_url_from_env() -> anyhow::Result<DatabaseUrl> {
    let _ = dotenvy::dotenv();
    let env = Env(|k| std::env::var(k).ok());
    Ok(DatabaseUrl::new(
        env.secret("DATABASE_URL")?
            .map(|s| s.expose_secret().to_string())
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string()),
    ))
}

/// Just the bind address (for `mama healthcheck`).
pub fn bind_from_env() -> anyhow::Result<SocketAddr> {
    let _ = dotenvy::dotenv();
    std::env::var("MAMA_BIND")
        .unwrap_or_else(|_| "127.0.0.1:8080".into())
        .parse()
        .context("MAMA_BIND must be host:port, e.g. 127.0.0.1:8080")
}

impl Settings {
    /// Reads the process environment (after `.env`, if present).
    pub fn from_env() -> anyhow::Result<Self> {
        let _ = dotenvy::dotenv();
        let env = Env(|k| std::env::var(k).ok());
        Self::from_lookup(&env)
    }

    fn from_lookup<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> anyhow::Result<Self> {
        let database_url = DatabaseUrl::new(
            env.secret("DATABASE_URL")?
                .map(|s| s.expose_secret().to_string())
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string()),
        );
        let bind: SocketAddr = env
            .get("MAMA_BIND")
            .unwrap_or_else(|| "127.0.0.1:8080".into())
            .parse()
            .context("MAMA_BIND must be host:port, e.g. 127.0.0.1:8080")?;
        // SQLite has one writer, and every pooled connection is one more thread
        // with its own page cache, prepared statements and malloc arena: two per
        // core (4 to 16) serve its readers. Measured on 2 cores under lookup
        // load: 16 connections cost 4.2 ms of CPU per call and 123 MB peak RSS,
        // 8 cost 3.6 ms and 96 MB, 4 cost 3.1 ms and 86 MB (an older build).
        // 2 held 6 MB less than 4 but halved the calls a second at 8 at once
        // (README, sixteenth session).
        let pool_default = if database_url.is_postgres() {
            16
        } else {
            std::thread::available_parallelism()
                .map_or(4, |n| 2 * n.get() as u32)
                .clamp(4, 16)
        };
        let secrets = load_secrets(env)?;
        let security = security_settings(env)?;
        let litellm = match env.get("LITELLM_BASE_URL").filter(|s| !s.trim().is_empty()) {
            None => None,
            Some(base_url) if has_userinfo(&base_url) => bail!(
                "LITELLM_BASE_URL must not carry credentials (user:password@): they would be copied into logs and audit events; put the key in LITELLM_MASTER_KEY"
            ),
            Some(base_url) => Some(LiteLlmSettings {
                base_url: base_url.trim_end_matches('/').to_string(),
                master_key: env.secret("LITELLM_MASTER_KEY")?.context(
                    "LITELLM_BASE_URL is set but LITELLM_MASTER_KEY (or LITELLM_MASTER_KEY_FILE) is not",
                )?,
                timeout: Duration::from_secs(env.parse("LITELLM_TIMEOUT_SECS", 10)?),
            }),
        };
        let default_language = match env.get("MAMA_DEFAULT_LANGUAGE") {
            None => crate::i18n::Lang::Ko,
            Some(v) => crate::i18n::Lang::parse(&v)
                .with_context(|| format!("MAMA_DEFAULT_LANGUAGE must be ko or en, not {v:?}"))?,
        };
        let default_time_zone = match env.get("MAMA_DEFAULT_TIME_ZONE") {
            None => chrono_tz::Asia::Seoul,
            Some(v) => crate::i18n::parse_tz(&v).with_context(|| {
                format!("MAMA_DEFAULT_TIME_ZONE must be an IANA zone such as Asia/Seoul, not {v:?}")
            })?,
        };
        Ok(Settings {
            default_language,
            default_time_zone,
            database_url,
            bind,
            secrets,
            secure_cookies: env.flag("MAMA_SECURE_COOKIES", false)?,
            trust_proxy_headers: env.flag("MAMA_TRUST_PROXY_HEADERS", false)?,
            session_idle_timeout: Duration::from_secs(
                env.parse("MAMA_SESSION_IDLE_TIMEOUT_SECS", 30 * 60)?,
            ),
            session_max_lifetime: Duration::from_secs(
                env.parse("MAMA_SESSION_MAX_LIFETIME_SECS", 8 * 3600)?,
            ),
            login_max_failures: env.parse("MAMA_LOGIN_MAX_FAILURES", 5)?,
            login_lockout: Duration::from_secs(env.parse("MAMA_LOGIN_LOCKOUT_SECS", 15 * 60)?),
            login_ip_free_failures: env.parse("MAMA_LOGIN_IP_FREE_FAILURES", 10)?,
            login_ip_max_backoff: Duration::from_secs(
                env.parse("MAMA_LOGIN_IP_MAX_BACKOFF_SECS", 15 * 60)?,
            ),
            migrate_on_start: env.flag("MAMA_MIGRATE_ON_START", true)?,
            db_max_connections: env.parse("MAMA_DB_MAX_CONNECTIONS", pool_default)?,
            db_statement_cache: bounded(
                env.parse("MAMA_DB_STATEMENT_CACHE", DEFAULT_STATEMENT_CACHE)?,
                0,
                1000,
                "MAMA_DB_STATEMENT_CACHE",
            )?,
            sqlite_cache_kib: bounded(
                env.parse("MAMA_SQLITE_CACHE_KIB", DEFAULT_SQLITE_CACHE_KIB)?,
                64,
                1 << 20,
                "MAMA_SQLITE_CACHE_KIB",
            )?,
            sqlite_synchronous_full: match env.get("MAMA_SQLITE_SYNCHRONOUS").as_deref() {
                None | Some("full") | Some("FULL") => true,
                Some("normal") | Some("NORMAL") => false,
                Some(other) => {
                    anyhow::bail!("MAMA_SQLITE_SYNCHRONOUS must be full or normal, not {other:?}")
                }
            },
            litellm,
            sync: SyncSettings {
                concurrency: env.parse::<usize>("LITELLM_SYNC_CONCURRENCY", 8)?.max(1),
                poll_interval: Duration::from_millis(env.parse("LITELLM_SYNC_POLL_MS", 500)?),
                lease: Duration::from_secs(env.parse("LITELLM_SYNC_LEASE_SECS", 60)?),
                base_backoff: Duration::from_millis(env.parse("LITELLM_SYNC_BACKOFF_MS", 1000)?),
                max_backoff: Duration::from_secs(env.parse("LITELLM_SYNC_MAX_BACKOFF_SECS", 300)?),
                models_refresh: Duration::from_secs(env.parse("LITELLM_MODELS_REFRESH_SECS", 300)?),
                worker_enabled: env.flag("LITELLM_SYNC_WORKER", true)?,
                spend_refresh: Duration::from_secs(env.parse("MAMA_SPEND_REFRESH_SECONDS", 60)?),
            },
            security,
            api_max_lookup_ids: env.parse("MAMA_API_MAX_LOOKUP_IDS", 1000)?,
            lookup_cache_users: env.parse("MAMA_LOOKUP_CACHE_USERS", 100_000)?,
            lookup_cache_preload: match bounded(
                env.parse("MAMA_LOOKUP_CACHE_PRELOAD_SECONDS", 10u64)?,
                0,
                86_400,
                "MAMA_LOOKUP_CACHE_PRELOAD_SECONDS",
            )? {
                0 => None,
                n => Some(Duration::from_secs(n)),
            },
            api_rate_limit_per_minute: env.parse("MAMA_API_RATE_LIMIT_PER_MINUTE", 1200)?,
            audit_retention_days: match env.parse("MAMA_AUDIT_RETENTION_DAYS", 0u32)? {
                0 => None,
                d => Some(d),
            },
            audit_seal_interval: Duration::from_millis(
                env.parse("MAMA_AUDIT_SEAL_INTERVAL_MS", 1000)?,
            ),
            ui_poll_interval: Duration::from_millis(env.parse("MAMA_UI_POLL_MS", 2000)?.max(100)),
            key_alias_template: env
                .get("MAMA_KEY_ALIAS_TEMPLATE")
                .unwrap_or_default()
                .trim()
                .to_string(),
            audit_checkpoint_file: match env.get("MAMA_AUDIT_CHECKPOINT_FILE") {
                Some(v) if v.trim().is_empty() || v.trim() == "off" => None,
                Some(v) => Some(PathBuf::from(v.trim())),
                None => Some(PathBuf::from(DEFAULT_AUDIT_CHECKPOINT_FILE)),
            },
            audit_checkpoint_every: env
                .parse::<i64>("MAMA_AUDIT_CHECKPOINT_EVERY", 10_000)?
                .max(1),
            audit_checkpoint_interval: Duration::from_secs(
                env.parse::<u64>("MAMA_AUDIT_CHECKPOINT_INTERVAL_SECS", 3600)?
                    .max(1),
            ),
            audit_batch_max: bounded(
                env.parse("MAMA_AUDIT_BATCH_MAX", 256)?,
                1,
                5_000,
                "MAMA_AUDIT_BATCH_MAX",
            )?,
            audit_batch_wait: Duration::from_micros(bounded(
                env.parse("MAMA_AUDIT_BATCH_WAIT_US", 0)?,
                0,
                10_000,
                "MAMA_AUDIT_BATCH_WAIT_US",
            )?),
            audit_index_interval: Duration::from_millis(
                env.parse("MAMA_AUDIT_INDEX_INTERVAL_MS", 500)?,
            ),
            audit_index_max_wait: Duration::from_millis(bounded(
                env.parse("MAMA_AUDIT_INDEX_MAX_WAIT_MS", 5_000)?,
                0,
                3_600_000,
                "MAMA_AUDIT_INDEX_MAX_WAIT_MS",
            )?),
            audit_index_batch_events: bounded(
                env.parse("MAMA_AUDIT_INDEX_BATCH_EVENTS", 2_000)?,
                1,
                100_000,
                "MAMA_AUDIT_INDEX_BATCH_EVENTS",
            )?,
            audit_index_batch_rows: bounded(
                // One run of the index a pass (`audit::indexer`): a smaller bound
                // makes passes rewrite a partly filled run more often.
                env.parse(
                    "MAMA_AUDIT_INDEX_BATCH_ROWS",
                    migration::AUDIT_TARGET_RUN_ROWS as usize,
                )?,
                1,
                1_000_000,
                "MAMA_AUDIT_INDEX_BATCH_ROWS",
            )?,
            compress_min_bytes: env.parse("MAMA_COMPRESS_MIN_BYTES", 2048)?,
            api_max_in_flight: bounded(
                env.parse("MAMA_API_MAX_IN_FLIGHT", DEFAULT_API_MAX_IN_FLIGHT)?,
                0,
                100_000,
                "MAMA_API_MAX_IN_FLIGHT",
            )?,
            shutdown_timeout: Duration::from_secs(bounded(
                env.parse("MAMA_SHUTDOWN_TIMEOUT_SECONDS", 20)?,
                1,
                3600,
                "MAMA_SHUTDOWN_TIMEOUT_SECONDS",
            )?),
            api_rate_limit_shared: match env.get("MAMA_API_RATE_LIMIT_SCOPE").as_deref() {
                None | Some("database") => true,
                Some("instance") => false,
                Some(v) => {
                    bail!("MAMA_API_RATE_LIMIT_SCOPE must be database or instance, not {v:?}")
                }
            },
        })
    }

    /// Settings for tests and tools: fresh random secrets, everything else default.
    pub fn for_tests(database_url: &str) -> Self {
        let env = Env(|k: &str| match k {
            "MAMA_SECRET_KEY" => Some(STANDARD.encode(random_bytes::<64>())),
            "MAMA_ENCRYPTION_KEY" => Some(STANDARD.encode(random_bytes::<32>())),
            "MAMA_AUDIT_KEY" => Some(STANDARD.encode(TEST_AUDIT_KEY)),
            "MAMA_AUDIT_SIGNING_KEY" => Some(STANDARD.encode(TEST_AUDIT_SIGNING_KEY)),
            "MAMA_AUDIT_CHECKPOINT_FILE" => Some("off".into()),
            _ => None,
        });
        let mut s = Self::from_lookup(&env).expect("test settings are valid");
        s.database_url = DatabaseUrl::new(database_url);
        s.bind = "127.0.0.1:0".parse().expect("valid address");
        // Tests opt in (with a short interval): the shared proxy holds thousands
        // of other tests' keys.
        s.sync.spend_refresh = Duration::ZERO;
        // Power-loss durability is the disk's business, not the suite's (the
        // PostgreSQL test cluster runs with fsync off for the same reason).
        s.sqlite_synchronous_full = false;
        // Tests see their events indexed at the indexer's next pass; the wait for
        // a run's worth has a test of its own.
        s.audit_index_max_wait = Duration::ZERO;
        s
    }
}

/// `scheme://user[:password]@host…`: credentials in the authority part.
fn has_userinfo(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.contains('@')
}

fn security_settings<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
) -> anyhow::Result<SecuritySettings> {
    use crate::client_ip::{LEGACY_TRUSTED, TrustedProxies};
    let mut trusted_proxies =
        TrustedProxies::parse(&env.get("MAMA_TRUSTED_PROXIES").unwrap_or_default())
            .map_err(|e| anyhow::anyhow!(e))?;
    if env.flag("MAMA_TRUST_PROXY_HEADERS", false)? && trusted_proxies.is_empty() {
        tracing::warn!(
            "MAMA_TRUST_PROXY_HEADERS is deprecated: it now means MAMA_TRUSTED_PROXIES={LEGACY_TRUSTED}; set MAMA_TRUSTED_PROXIES to your proxies' addresses instead"
        );
        trusted_proxies = TrustedProxies::parse(LEGACY_TRUSTED).map_err(|e| anyhow::anyhow!(e))?;
    }
    Ok(SecuritySettings {
        trusted_proxies,
        login_account_hourly_cap: env.parse("MAMA_LOGIN_ACCOUNT_HOURLY_CAP", 20)?,
        hash_permits: env.parse::<usize>("MAMA_PASSWORD_HASH_PERMITS", 4)?.max(1),
        hash_wait: Duration::from_millis(env.parse("MAMA_PASSWORD_HASH_WAIT_MS", 2000)?),
        anonymous_per_minute: env.parse("MAMA_ANONYMOUS_RATE_PER_MINUTE", 120)?,
        reveal_limit_per_hour: env.parse("MAMA_REVEAL_LIMIT_PER_HOUR", 200)?,
        reveal_alert_per_hour: env.parse("MAMA_REVEAL_ALERT_PER_HOUR", 20)?,
        purge_interval: Duration::from_secs(env.parse("MAMA_PURGE_INTERVAL_SECS", 600)?.max(1)),
        idempotency_ttl: Duration::from_secs(
            env.parse::<u64>("MAMA_IDEMPOTENCY_TTL_HOURS", 24)?.max(1) * 3600,
        ),
    })
}

/// SQLite's page cache per pooled connection unless configured (KiB). Every
/// audited request commits, and a WAL connection drops its cache when another
/// one committed since its last read, so the cache serves one transaction's
/// own re-reads (the B-trees' upper pages) and little more: 1,024 KiB held
/// ~4 MB more across the pool than 64 (README, "What bounds RSS").
pub const DEFAULT_SQLITE_CACHE_KIB: u32 = 256;

/// REST API requests worked on at once unless configured (`web::in_flight`):
/// the group commit batches what is in flight, and on 2 cores 32 calls at once
/// already give its throughput; beyond that each one only adds memory (README,
/// sixteenth session).
pub const DEFAULT_API_MAX_IN_FLIGHT: usize = 32;

/// Prepared statements per pooled connection unless configured (`db::PoolTuning`).
pub const DEFAULT_STATEMENT_CACHE: usize = 32;

/// `value` if it lies in `min..=max`, else an error naming `key`.
fn bounded<T: PartialOrd + fmt::Display>(value: T, min: T, max: T, key: &str) -> anyhow::Result<T> {
    if value < min || value > max {
        bail!("{key} must be from {min} to {max}, got {value}");
    }
    Ok(value)
}

struct Env<F: Fn(&str) -> Option<String>>(F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    fn get(&self, key: &str) -> Option<String> {
        (self.0)(key)
    }

    /// `NAME`, or the trimmed contents of the file named by `NAME_FILE`.
    fn secret(&self, key: &str) -> anyhow::Result<Option<SecretString>> {
        if let Some(v) = self.get(key).filter(|v| !v.is_empty()) {
            return Ok(Some(SecretString::from(v)));
        }
        match self.get(&format!("{key}_FILE")).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(path) => {
                let v = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {key}_FILE ({path})"))?;
                Ok(Some(SecretString::from(v.trim().to_string())))
            }
        }
    }

    fn parse<T: std::str::FromStr>(&self, key: &str, default: T) -> anyhow::Result<T> {
        match self.get(key).filter(|v| !v.trim().is_empty()) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("{key} has an invalid value: {v:?}")),
        }
    }

    fn flag(&self, key: &str, default: bool) -> anyhow::Result<bool> {
        match self.get(key).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if v.is_empty() => Ok(default),
            Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
            Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
            Some(v) => bail!("{key} must be true or false, got {v:?}"),
        }
    }
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::fill(&mut b);
    b
}

fn decode_key<const N: usize>(name: &str, value: &SecretString) -> anyhow::Result<[u8; N]> {
    let raw = STANDARD
        .decode(value.expose_secret().trim())
        .map_err(|_| anyhow::anyhow!("{name} must be base64 (e.g. `openssl rand -base64 {N}`)"))?;
    raw.try_into()
        .map_err(|_| anyhow::anyhow!("{name} must decode to exactly {N} bytes"))
}

fn load_secrets<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> anyhow::Result<Secrets> {
    let session = env.secret("MAMA_SECRET_KEY")?;
    let encryption = env.secret("MAMA_ENCRYPTION_KEY")?;
    // The image sets MAMA_REQUIRE_SECRETS=true; MAMA_THROWAWAY=true is the way to
    // say "this container is a throwaway" and get development secrets anyway.
    let required =
        env.flag("MAMA_REQUIRE_SECRETS", false)? && !env.flag("MAMA_THROWAWAY", false)?;
    let initial_admin_password = env.secret("MAMA_INITIAL_ADMIN_PASSWORD")?;
    let from_env = session.is_some();
    let (session, encryption) = match (session, encryption) {
        (Some(s), Some(e)) => (s, e),
        (None, None) => {
            if required {
                bail!(
                    "MAMA_REQUIRE_SECRETS is set: provide MAMA_SECRET_KEY and MAMA_ENCRYPTION_KEY (or their _FILE variants)"
                );
            }
            let path = PathBuf::from(
                env.get("MAMA_DEV_SECRETS_FILE")
                    .unwrap_or_else(|| DEFAULT_DEV_SECRETS_FILE.into()),
            );
            dev_secrets(&path)?
        }
        _ => {
            bail!("set both MAMA_SECRET_KEY and MAMA_ENCRYPTION_KEY (or neither, for development)")
        }
    };
    let dev_path = PathBuf::from(
        env.get("MAMA_DEV_SECRETS_FILE")
            .unwrap_or_else(|| DEFAULT_DEV_SECRETS_FILE.into()),
    );
    let mut audit = vec![];
    for name in AUDIT_SECRETS {
        let v = match env.secret(name)? {
            Some(v) => v,
            None if required => bail!(
                "MAMA_REQUIRE_SECRETS is set: provide {name} (or {name}_FILE); `openssl rand -base64 32` makes one"
            ),
            // The other secrets come from the environment: write no file, derive a
            // stable development value from MAMA_SECRET_KEY instead (loudly).
            None if from_env => {
                tracing::warn!(
                    secret = name,
                    "DERIVED FROM MAMA_SECRET_KEY FOR DEVELOPMENT. Set it in the environment in production."
                );
                derived_secret(&session, name)
            }
            None => dev_secret(&dev_path, name)?,
        };
        audit.push(SecretBox::new(Box::new(decode_key::<32>(name, &v)?)));
    }
    let audit_signing_key = audit.pop().expect("two audit secrets");
    let audit_key = audit.pop().expect("two audit secrets");
    Ok(Secrets {
        session_key: SecretBox::new(Box::new(
            decode_key::<64>("MAMA_SECRET_KEY", &session)?.to_vec(),
        )),
        encryption_key: SecretBox::new(Box::new(decode_key::<32>(
            "MAMA_ENCRYPTION_KEY",
            &encryption,
        )?)),
        old_encryption_keys: key_list(env, "MAMA_ENCRYPTION_KEYS_OLD")?,
        audit_key,
        old_audit_keys: key_list(env, "MAMA_AUDIT_KEYS_OLD")?,
        audit_signing_key,
        initial_admin_password,
        required,
    })
}

/// A list of 32-byte base64 keys separated by commas, spaces or new lines
/// (`NAME` or the file named by `NAME_FILE`); each is named by its position on error.
fn key_list<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
    name: &str,
) -> anyhow::Result<Vec<SecretBox<[u8; 32]>>> {
    let Some(v) = env.secret(name)? else {
        return Ok(vec![]);
    };
    v.expose_secret()
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .enumerate()
        .map(|(i, p)| {
            decode_key::<32>(&format!("{name} (key {})", i + 1), &SecretString::from(p))
                .map(|k| SecretBox::new(Box::new(k)))
        })
        .collect()
}

/// A development value for `name`: SHA-256 of a label and MAMA_SECRET_KEY, base64.
fn derived_secret(session: &SecretString, name: &str) -> SecretString {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"mama.dev-derived\0");
    h.update(name.as_bytes());
    h.update(b"\0");
    h.update(session.expose_secret().as_bytes());
    SecretString::from(STANDARD.encode(h.finalize()))
}

/// One named secret from the development secrets file; a file that lacks it
/// (written by an older mama) gains a freshly generated one, once.
fn dev_secret(path: &PathBuf, name: &str) -> anyhow::Result<SecretString> {
    use std::io::Write;
    let read = |p: &PathBuf| -> anyhow::Result<Option<SecretString>> {
        if !p.exists() {
            return Ok(None);
        }
        let text =
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
        Ok(text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(|v| SecretString::from(v.trim().to_string())))
    };
    if let Some(v) = read(path)? {
        return Ok(v);
    }
    if !path.exists() {
        write_private(
            path,
            "# mama development secrets, generated once. NOT FOR PRODUCTION.\n",
        )
        .with_context(|| format!("cannot write development secrets to {}", path.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .with_context(|| format!("cannot append to {}", path.display()))?;
    writeln!(f, "{name}={}", STANDARD.encode(random_bytes::<32>()))?;
    f.sync_all()?;
    tracing::warn!(file = %path.display(), secret = name,
        "GENERATED A DEVELOPMENT SECRET. Set it in the environment in production.");
    read(path)?.with_context(|| format!("{} lacks {name}", path.display()))
}

/// Reads, or creates once, the development secrets file.
fn dev_secrets(path: &PathBuf) -> anyhow::Result<(SecretString, SecretString)> {
    if !path.exists() {
        let body = format!(
            "# mama development secrets, generated once. NOT FOR PRODUCTION.\n\
             # Losing MAMA_ENCRYPTION_KEY makes every stored key unreadable.\n\
             MAMA_SECRET_KEY={}\nMAMA_ENCRYPTION_KEY={}\n",
            STANDARD.encode(random_bytes::<64>()),
            STANDARD.encode(random_bytes::<32>())
        );
        write_private(path, &body)
            .with_context(|| format!("cannot write development secrets to {}", path.display()))?;
        tracing::warn!(
            file = %path.display(),
            "GENERATED DEVELOPMENT SECRETS. Set MAMA_SECRET_KEY and MAMA_ENCRYPTION_KEY in production."
        );
    } else {
        tracing::warn!(
            file = %path.display(),
            "Using development secrets from a local file. Set MAMA_SECRET_KEY and MAMA_ENCRYPTION_KEY in production."
        );
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let find = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(|v| SecretString::from(v.trim().to_string()))
            .with_context(|| format!("{} lacks {name}", path.display()))
    };
    Ok((find("MAMA_SECRET_KEY")?, find("MAMA_ENCRYPTION_KEY")?))
}

fn write_private(path: &PathBuf, body: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(body.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_never_shows_its_password() {
        let url = DatabaseUrl::new("postgres://mama:hunter2@db:5432/mama");
        assert_eq!(
            format!("{url:?}"),
            "DatabaseUrl(postgres://mama:***@db:5432/mama)"
        );
        assert!(!url.redacted().contains("hunter2"));
    }

    fn settings_with(vars: &'static [(&'static str, &'static str)]) -> anyhow::Result<Settings> {
        let sk = STANDARD.encode([1u8; 64]);
        let ek = STANDARD.encode([2u8; 32]);
        let env = Env(move |k: &str| match k {
            "MAMA_SECRET_KEY" => Some(sk.clone()),
            "MAMA_ENCRYPTION_KEY" => Some(ek.clone()),
            _ => vars
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string()),
        });
        Settings::from_lookup(&env)
    }

    #[test]
    fn credentials_in_the_litellm_url_are_refused_at_start_without_repeating_them() {
        let e = settings_with(&[
            (
                "LITELLM_BASE_URL",
                "https://proxy-user:hunter2@litellm.internal:4000",
            ),
            ("LITELLM_MASTER_KEY", "sk-master"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("LITELLM_BASE_URL must not carry credentials"),
            "{e}"
        );
        assert!(!e.contains("hunter2") && !e.contains("proxy-user"), "{e}");
        let ok = settings_with(&[
            ("LITELLM_BASE_URL", "http://litellm:4000/path?x=a@b"),
            ("LITELLM_MASTER_KEY", "sk-master"),
        ]);
        assert!(ok.is_ok(), "an @ after the host is not userinfo");
    }

    #[test]
    fn trusted_proxies_are_parsed_and_the_old_flag_means_private_networks() {
        let s = settings_with(&[("MAMA_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7")]).unwrap();
        assert_eq!(s.security.trusted_proxies.0.len(), 2);
        let e = settings_with(&[("MAMA_TRUSTED_PROXIES", "10.0.0.0/33")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("MAMA_TRUSTED_PROXIES"), "{e}");
        let s = settings_with(&[("MAMA_TRUST_PROXY_HEADERS", "true")]).unwrap();
        assert!(
            s.security
                .trusted_proxies
                .contains(&"127.0.0.1".parse().unwrap())
        );
        assert!(
            !s.security
                .trusted_proxies
                .contains(&"203.0.113.1".parse().unwrap())
        );
        let s = settings_with(&[]).unwrap();
        assert!(
            s.security.trusted_proxies.is_empty(),
            "no proxy is trusted by default"
        );
        assert_eq!(s.security.hash_permits, 4);
        assert_eq!(s.security.login_account_hourly_cap, 20);
    }

    #[test]
    fn secrets_come_from_file_variants() {
        let dir =
            std::env::temp_dir().join(format!("mama-cfg-{}", hex::encode(random_bytes::<6>())));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("enc");
        std::fs::write(&f, format!("{}\n", STANDARD.encode([7u8; 32]))).unwrap();
        let fpath = f.display().to_string();
        let sk = STANDARD.encode([1u8; 64]);
        let env = Env(move |k: &str| match k {
            "MAMA_SECRET_KEY" => Some(sk.clone()),
            "MAMA_ENCRYPTION_KEY_FILE" => Some(fpath.clone()),
            "MAMA_AUDIT_KEY" | "MAMA_AUDIT_SIGNING_KEY" => Some(STANDARD.encode([3u8; 32])),
            _ => None,
        });
        let s = Settings::from_lookup(&env).unwrap();
        assert_eq!(s.secrets.encryption_key.expose_secret(), &[7u8; 32]);
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.session_idle_timeout, Duration::from_secs(1800));
    }

    #[test]
    fn development_secrets_are_generated_once_and_then_reused() {
        let dir =
            std::env::temp_dir().join(format!("mama-dev-{}", hex::encode(random_bytes::<6>())));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secrets");
        let (a, b) = dev_secrets(&path).unwrap();
        let (c, d) = dev_secrets(&path).unwrap();
        assert_eq!(
            (a.expose_secret(), b.expose_secret()),
            (c.expose_secret(), d.expose_secret())
        );
        assert_eq!(decode_key::<64>("k", &a).unwrap().len(), 64);
        assert_eq!(decode_key::<32>("k", &b).unwrap().len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let env = Env(|k: &str| match k {
            "MAMA_SECRET_KEY" => Some(STANDARD.encode([1u8; 64])),
            "MAMA_ENCRYPTION_KEY" => Some(STANDARD.encode([1u8; 32])),
            "MAMA_AUDIT_KEY" | "MAMA_AUDIT_SIGNING_KEY" => Some(STANDARD.encode([3u8; 32])),
            "MAMA_SESSION_IDLE_TIMEOUT_SECS" => Some("soon".into()),
            _ => None,
        });
        let err = Settings::from_lookup(&env).unwrap_err().to_string();
        assert!(err.contains("MAMA_SESSION_IDLE_TIMEOUT_SECS"), "{err}");
    }

    #[test]
    fn audit_secrets_are_added_once_to_an_older_development_file_and_required_in_production() {
        let dir =
            std::env::temp_dir().join(format!("mama-dev-{}", hex::encode(random_bytes::<6>())));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secrets");
        // A file written by the previous mama: only the first two secrets.
        dev_secrets(&path).unwrap();
        let a = dev_secret(&path, "MAMA_AUDIT_KEY").unwrap();
        let b = dev_secret(&path, "MAMA_AUDIT_KEY").unwrap();
        assert_eq!(a.expose_secret(), b.expose_secret());
        assert_eq!(decode_key::<32>("k", &a).unwrap().len(), 32);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches("MAMA_AUDIT_KEY=").count(), 1);
        assert!(text.contains("MAMA_ENCRYPTION_KEY="));

        let env = Env(|k: &str| match k {
            "MAMA_SECRET_KEY" => Some(STANDARD.encode([1u8; 64])),
            "MAMA_ENCRYPTION_KEY" => Some(STANDARD.encode([1u8; 32])),
            "MAMA_AUDIT_KEY" => Some(STANDARD.encode([2u8; 32])),
            "MAMA_REQUIRE_SECRETS" => Some("true".into()),
            _ => None,
        });
        let err = Settings::from_lookup(&env).unwrap_err().to_string();
        assert!(err.contains("MAMA_AUDIT_SIGNING_KEY"), "{err}");
    }

    #[test]
    fn old_keys_are_a_list_and_a_bad_one_is_named_by_position() {
        let good = STANDARD.encode([4u8; 32]);
        let list = format!("{good}, {}\n", STANDARD.encode([5u8; 32]));
        let env = Env(move |k: &str| match k {
            "MAMA_SECRET_KEY" => Some(STANDARD.encode([1u8; 64])),
            "MAMA_ENCRYPTION_KEY" => Some(STANDARD.encode([1u8; 32])),
            "MAMA_AUDIT_KEY" | "MAMA_AUDIT_SIGNING_KEY" => Some(STANDARD.encode([3u8; 32])),
            "MAMA_ENCRYPTION_KEYS_OLD" => Some(list.clone()),
            "MAMA_AUDIT_KEYS_OLD" => Some("bm90IGEga2V5".into()),
            _ => None,
        });
        let err = Settings::from_lookup(&env).unwrap_err().to_string();
        assert!(err.contains("MAMA_AUDIT_KEYS_OLD (key 1)"), "{err}");
        let env2 = Env(|k: &str| match k {
            "MAMA_SECRET_KEY" => Some(STANDARD.encode([1u8; 64])),
            "MAMA_ENCRYPTION_KEY" => Some(STANDARD.encode([1u8; 32])),
            "MAMA_AUDIT_KEY" | "MAMA_AUDIT_SIGNING_KEY" => Some(STANDARD.encode([3u8; 32])),
            "MAMA_ENCRYPTION_KEYS_OLD" => Some(format!(
                "{},{}",
                STANDARD.encode([4u8; 32]),
                STANDARD.encode([5u8; 32])
            )),
            _ => None,
        });
        let s = Settings::from_lookup(&env2).unwrap();
        assert_eq!(s.secrets.old_encryption_keys.len(), 2);
        assert_eq!(s.secrets.old_encryption_keys[1].expose_secret(), &[5u8; 32]);
    }
}
