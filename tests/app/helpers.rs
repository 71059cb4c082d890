//! Spawns mama on a random port with a fresh database, and drives it like a browser.
//!
//! Database: a new SQLite file per test, or, when `MAMA_TEST_DATABASE_URL` points at
//! PostgreSQL, a new uniquely named database on that server.
#![allow(dead_code)]

use std::sync::Once;

use mama::{config::Settings, entities::audit_event, startup::Application};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait, QueryOrder, Statement};

pub const STRONG_PASSWORD: &str = "a perfectly long passphrase 42";

static INIT: Once = Once::new();

/// Logs go to the test output only with `TEST_LOG=1`; with `MAMA_TEST_LOG_FILE`
/// they are appended to that file (for the suite-wide secret scan).
fn init_tracing() {
    INIT.call_once(|| {
        if let Some(path) = std::env::var_os("MAMA_TEST_LOG_FILE") {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .expect("open MAMA_TEST_LOG_FILE");
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(
                    "info,sqlx=warn,sea_orm=warn",
                ))
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .try_init();
        } else if std::env::var("TEST_LOG").is_ok() {
            mama::telemetry::init();
        }
    });
}

pub fn rand_suffix() -> String {
    mama::crypto::random_base62(10).to_lowercase()
}

/// A fresh database URL for one test.
pub async fn fresh_database_url() -> String {
    match std::env::var("MAMA_TEST_DATABASE_URL") {
        Ok(base) if base.starts_with("postgres") => {
            let name = format!("mama_t_{}", rand_suffix());
            let admin = Database::connect(&base)
                .await
                .expect("connect to MAMA_TEST_DATABASE_URL");
            admin
                .execute_raw(Statement::from_string(
                    admin.get_database_backend(),
                    format!("CREATE DATABASE \"{name}\""),
                ))
                .await
                .expect("create test database");
            let _ = admin.close().await;
            let (prefix, _) = base.rsplit_once('/').expect("URL has a database name");
            format!("{prefix}/{name}")
        }
        _ => {
            let dir = std::env::temp_dir().join("mama-tests");
            std::fs::create_dir_all(&dir).unwrap();
            format!("sqlite://{}/{}.db?mode=rwc", dir.display(), rand_suffix())
        }
    }
}

pub struct TestApp {
    pub addr: String,
    pub port: u16,
    pub db: DatabaseConnection,
    pub database_url: String,
    /// Made by `spawn_app_with` for this test alone: dropped when the test passes.
    pub owns_database: bool,
}

/// Whether test databases are kept after a passing test: CI keeps them for the
/// secret scan (`MAMA_TEST_KEEP_DATABASES=1`), which drops each one it read clean.
fn keep_databases() -> bool {
    std::env::var("MAMA_TEST_KEEP_DATABASES").is_ok_and(|v| v == "1")
}

/// Drops the test database at `url` (a SQLite file and its WAL, or a PostgreSQL
/// database, whose remaining connections are closed).
pub async fn drop_database(url: &str) {
    if let Some(rest) = url.strip_prefix("sqlite://") {
        let path = rest.split('?').next().unwrap_or(rest);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
        return;
    }
    let Ok(base) = std::env::var("MAMA_TEST_DATABASE_URL") else {
        return;
    };
    let name = url.rsplit('/').next().unwrap_or_default();
    if !name.starts_with("mama_t_") {
        return;
    }
    if let Ok(admin) = Database::connect(&base).await {
        let _ = admin
            .execute_raw(Statement::from_string(
                admin.get_database_backend(),
                format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            ))
            .await;
        let _ = admin.close().await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if self.owns_database {
            drop_after_passing(&self.database_url);
        }
    }
}

/// Drops the database at `url` when the test passed (and databases are not kept).
fn drop_after_passing(url: &str) {
    if std::thread::panicking() || keep_databases() {
        return;
    }
    // Drop runs inside the test's runtime, which must not block on itself.
    let url = url.to_string();
    let _ = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime to drop the test database")
            .block_on(drop_database(&url))
    })
    .join();
}

/// A database made for one test that starts mama on it itself (several
/// instances, restarts, the binary): its URL, dropped like a `TestApp`'s when
/// the test passes. Derefs to the URL.
pub struct TestDatabase(String);

impl std::ops::Deref for TestDatabase {
    type Target = String;
    fn deref(&self) -> &String {
        &self.0
    }
}

impl std::fmt::Display for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        drop_after_passing(&self.0);
    }
}

/// A fresh database for one test, dropped when the test passes.
pub async fn fresh_database() -> TestDatabase {
    TestDatabase(fresh_database_url().await)
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Spawns mama with settings adjusted by `tweak` (short timeouts, small limits …).
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let database_url = fresh_database_url().await;
    let mut app = spawn_app_on(&database_url, tweak).await;
    app.owns_database = true;
    app
}

/// Spawns mama on an existing database (a second instance, or a restart).
///
/// Its background loops (audit writer, sealer, indexer, sync worker) run on the
/// test's runtime: a test that blocks that runtime — `Command::output()` on the
/// `mama` binary, say — while one of them holds SQLite's write lock stalls both
/// (the binary waits for the lock the loop cannot release). Such tests run on a
/// multi-threaded runtime (`#[tokio::test(flavor = "multi_thread")]`).
pub async fn spawn_app_on(database_url: &str, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    init_tracing();
    let database_url = database_url.to_string();
    let mut settings = Settings::for_tests(&database_url);
    // Most tests read English; the i18n tests set Korean (the real default) back.
    settings.default_language = mama::i18n::Lang::En;
    tweak(&mut settings);
    let app = Application::build(settings).await.expect("mama builds");
    let port = app.port();
    let db = app.db.clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        addr: format!("http://127.0.0.1:{port}"),
        port,
        db,
        database_url,
        owns_database: false,
    }
}

impl TestApp {
    /// The models user `id` holds, sorted.
    pub async fn models_of(&self, id: &str) -> Vec<String> {
        let u = self.user(id).await;
        mama::users::queries::models_of(&self.db, &[u.id])
            .await
            .unwrap()
            .remove(&u.id)
            .unwrap_or_default()
            .into_iter()
            .collect()
    }

    /// The services user `id` holds, sorted.
    pub async fn services_of(&self, id: &str) -> Vec<String> {
        let u = self.user(id).await;
        mama::users::queries::services_of(&self.db, &[u.id])
            .await
            .unwrap()
            .remove(&u.id)
            .unwrap_or_default()
            .into_iter()
            .collect()
    }

    /// User `id`'s row (the user must exist).
    pub async fn user(&self, id: &str) -> mama::entities::user::Model {
        mama::users::queries::find(&self.db, id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("user {id} exists"))
    }

    /// A new browser with an empty cookie jar.
    pub fn browser(&self) -> Browser {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        Browser {
            addr: self.addr.clone(),
            client: reqwest::Client::builder()
                .cookie_provider(jar.clone())
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar,
            csrf: std::sync::Mutex::new(None),
        }
    }

    /// A browser logged in as the seeded super admin, whose password was changed
    /// to [`STRONG_PASSWORD`].
    pub async fn super_admin(&self) -> Browser {
        let b = self.browser();
        let r = b.login("admin", "admin").await;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/account/password");
        let r = b.change_password("admin", STRONG_PASSWORD).await;
        assert_eq!(
            r.status(),
            303,
            "password change failed: {}",
            r.text().await.unwrap_or_default()
        );
        b
    }

    /// Creates an account through the UI (as `sa`) and returns a browser logged in
    /// as it, with its forced password change done.
    pub async fn account(&self, sa: &Browser, username: &str, role: &str) -> Browser {
        let r = sa
            .create_account(username, role, "initial passphrase 1")
            .await;
        assert_eq!(
            r.status(),
            303,
            "create {username}: {}",
            r.text().await.unwrap_or_default()
        );
        let b = self.browser();
        assert_eq!(
            location(&b.login(username, "initial passphrase 1").await),
            "/account/password"
        );
        let r = b
            .change_password("initial passphrase 1", STRONG_PASSWORD)
            .await;
        assert_eq!(r.status(), 303);
        b
    }

    /// Every audit event, oldest first.
    pub async fn events(&self) -> Vec<audit_event::Model> {
        audit_event::Entity::find()
            .order_by_asc(audit_event::Column::Id)
            .all(&self.db)
            .await
            .unwrap()
    }

    pub async fn event_for(&self, request_id: &str) -> audit_event::Model {
        let all: Vec<_> = self
            .events()
            .await
            .into_iter()
            .filter(|e| e.request_id == request_id)
            .collect();
        assert_eq!(
            all.len(),
            1,
            "exactly one event for request {request_id}, got {all:?}"
        );
        all.into_iter().next().unwrap()
    }

    /// Makes every audit insert fail (the tables are renamed away).
    pub async fn break_audit_store(&self) {
        self.sql("ALTER TABLE audit_target_chunks RENAME TO audit_target_chunks_off")
            .await;
        self.sql("ALTER TABLE audit_events RENAME TO audit_events_off")
            .await;
    }

    pub async fn restore_audit_store(&self) {
        self.sql("ALTER TABLE audit_events_off RENAME TO audit_events")
            .await;
        self.sql("ALTER TABLE audit_target_chunks_off RENAME TO audit_target_chunks")
            .await;
    }

    /// Runs raw SQL on the test database.
    pub async fn sql(&self, sql: &str) {
        self.db
            .execute_raw(Statement::from_string(
                self.db.get_database_backend(),
                sql.to_string(),
            ))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

pub fn request_id(r: &reqwest::Response) -> String {
    r.headers()
        .get("x-request-id")
        .expect("X-Request-Id header")
        .to_str()
        .unwrap()
        .to_string()
}

/// Scrapes the CSRF token out of a page.
pub fn scrape_csrf(html: &str) -> Option<String> {
    let i = html.find("name=\"csrf_token\" value=\"")? + "name=\"csrf_token\" value=\"".len();
    Some(html[i..].split('"').next()?.to_string())
}

/// A cookie jar plus the CSRF token of the last page it saw.
pub struct Browser {
    pub addr: String,
    pub client: reqwest::Client,
    pub jar: std::sync::Arc<reqwest::cookie::Jar>,
    csrf: std::sync::Mutex<Option<String>>,
}

impl Browser {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.addr, path)
    }

    /// The `Cookie` header this browser sends (to replay it elsewhere).
    pub fn cookie_header(&self) -> String {
        use reqwest::cookie::CookieStore;
        self.jar
            .cookies(&self.addr.parse().unwrap())
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }

    /// GET; remembers the page's CSRF token.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// GET and return status and body (remembering the CSRF token).
    pub async fn page(&self, path: &str) -> (u16, String) {
        let r = self.get(path).await;
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        if let Some(t) = scrape_csrf(&body) {
            *self.csrf.lock().unwrap() = Some(t);
        }
        (status, body)
    }

    pub async fn csrf(&self) -> String {
        if let Some(t) = self.csrf.lock().unwrap().clone() {
            return t;
        }
        let (_, body) = self.page("/login").await;
        scrape_csrf(&body).expect("login page has a CSRF token")
    }

    pub fn forget_csrf(&self) {
        *self.csrf.lock().unwrap() = None;
    }

    /// POSTs a form with the right CSRF token.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf().await;
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        let r = self.post_raw(path, &all).await;
        if path == "/login" || path == "/logout" {
            self.forget_csrf(); // the token rotates with the session
        }
        r
    }

    /// POSTs exactly these fields (no CSRF token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        for (k, v) in fields {
            if *k != "csrf_token"
                && (k.contains("password")
                    || k.contains("token")
                    || *k == "key"
                    || k.ends_with("_key"))
            {
                note_secret(v);
            }
        }
        let body = serde_html_form::to_string(fields).unwrap();
        self.client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.forget_csrf(); // a fresh login page, as a person would load it
        self.post_form("/login", &[("username", username), ("password", password)])
            .await
    }

    /// Posts the password form (the confirmation equals the new password).
    pub async fn change_password(&self, current: &str, new: &str) -> reqwest::Response {
        let fields = [
            ("current_password", current),
            ("new_password", new),
            ("confirm_password", new),
        ];
        self.post_form("/account/password", &fields).await
    }

    /// Posts the new-account form (the confirmation equals the password).
    pub async fn create_account(
        &self,
        username: &str,
        role: &str,
        password: &str,
    ) -> reqwest::Response {
        let fields = [
            ("username", username),
            ("role", role),
            ("password", password),
            ("confirm_password", password),
        ];
        self.post_form("/admins", &fields).await
    }

    pub async fn logout(&self) -> reqwest::Response {
        self.post_form("/logout", &[]).await
    }
}

/// The file where tests record every secret they use or receive (passwords typed,
/// keys and tokens returned); the suite-wide scan (`audit_secrets`) looks for each
/// of them in every audit row and log line.
pub fn secrets_file() -> std::path::PathBuf {
    std::env::var_os("MAMA_TEST_SECRETS_FILE")
        .map(Into::into)
        .unwrap_or_else(|| std::env::temp_dir().join("mama-tests").join("secrets.txt"))
}

/// Records a secret for the suite-wide scan (values shorter than 8 characters
/// are too common to scan for and are skipped).
pub fn note_secret(secret: &str) {
    use std::io::Write;
    if secret.len() < 8 || secret.contains('\n') {
        return;
    }
    let path = secrets_file();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    {
        let _ = writeln!(f, "{secret}");
    }
}

/// Waits until the wall clock is at least 10 s away from the next minute: the
/// shared API rate limit counts per calendar minute, and a test that makes a
/// few calls must not see its window reset half-way.
pub async fn clear_of_minute_edge() {
    use chrono::Timelike;
    let sec = chrono::Utc::now().second();
    if sec >= 50 {
        tokio::time::sleep(std::time::Duration::from_secs(u64::from(61 - sec))).await;
    }
}
