//! The LiteLLM integration: contract tests against the real proxy
//! (`MAMA_TEST_LITELLM_URL`), failure handling against wiremock, and mama without
//! LiteLLM.
use std::{sync::Arc, time::Duration};

use mama::{
    config::{LiteLlmSettings, Settings},
    crypto::KeyCipher,
    entities::{sync_job, user},
    litellm::{outbox, worker::wait_until_idle},
    users::service::{self, NewUser},
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::{helpers::*, webdriver::component_available};

/// The real proxy, when configured.
pub(crate) fn peer() -> Option<(String, String)> {
    if !component_available("MAMA_TEST_LITELLM_URL", "the LiteLLM peer") {
        return None;
    }
    let url = std::env::var("MAMA_TEST_LITELLM_URL").unwrap();
    let key =
        std::env::var("MAMA_TEST_LITELLM_MASTER_KEY").unwrap_or_else(|_| "sk-mama-master".into());
    Some((url.trim_end_matches('/').to_string(), key))
}

pub(crate) fn fast_sync(s: &mut Settings, base_url: &str, master: &str, timeout: Duration) {
    s.litellm = Some(LiteLlmSettings {
        base_url: base_url.to_string(),
        master_key: SecretString::from(master.to_string()),
        timeout,
    });
    s.sync.poll_interval = Duration::from_millis(50);
    s.sync.base_backoff = Duration::from_millis(100);
    s.sync.max_backoff = Duration::from_millis(400);
    s.sync.lease = Duration::from_secs(5);
}

/// mama wired to `base_url`, plus the cipher its keys are sealed with.
async fn app_with_litellm(base_url: &str, master: &str, timeout: Duration) -> (TestApp, KeyCipher) {
    let mut cipher = None;
    let app = spawn_app_with(|s| {
        fast_sync(s, base_url, master, timeout);
        cipher = Some(KeyCipher::new(&s.secrets.encryption_key));
    })
    .await;
    (app, cipher.unwrap())
}

async fn app_without_litellm() -> (TestApp, KeyCipher) {
    let mut cipher = None;
    let app = spawn_app_with(|s| cipher = Some(KeyCipher::new(&s.secrets.encryption_key))).await;
    (app, cipher.unwrap())
}

async fn add_service(app: &TestApp, name: &str) {
    app.sql(&format!(
        "INSERT INTO services (name, description, created_at, updated_at) VALUES ('{name}', '', '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00')"
    ))
    .await;
}

async fn create(app: &TestApp, cipher: &KeyCipher, new: NewUser) -> user::Model {
    let txn = mama::db::begin_write(&app.db).await.unwrap();
    let u = service::create_user(&txn, cipher, new, None).await.unwrap();
    txn.commit().await.unwrap();
    u
}

async fn find_user(app: &TestApp, user_id: &str) -> user::Model {
    user::Entity::find()
        .filter(user::Column::UserId.eq(user_id))
        .one(&app.db)
        .await
        .unwrap()
        .expect("user exists")
}

/// Replaces a user's models and alias the way the users pages do: one
/// transaction, the outbox row included.
async fn set_models_and_alias(app: &TestApp, user_id: &str, models: &[&str], alias: Option<&str>) {
    let u = find_user(app, user_id).await;
    let txn = mama::db::begin_write(&app.db).await.unwrap();
    let b = txn.get_database_backend();
    let run = |sql: String| Statement::from_string(b, sql);
    txn.execute_raw(run(format!(
        "DELETE FROM user_models WHERE user_id = {}",
        u.id
    )))
    .await
    .unwrap();
    for m in models {
        txn.execute_raw(run(format!(
            "INSERT INTO user_models (user_id, model) VALUES ({}, '{m}')",
            u.id
        )))
        .await
        .unwrap();
    }
    let alias_sql = alias.map(|a| format!("'{a}'")).unwrap_or("NULL".into());
    txn.execute_raw(run(format!(
        "UPDATE users SET key_alias = {alias_sql}, version = version + 1 WHERE id = {}",
        u.id
    )))
    .await
    .unwrap();
    outbox::enqueue_upsert(&txn, &[user_id.to_string()], None)
        .await
        .unwrap();
    txn.commit().await.unwrap();
}

pub(crate) async fn drain(app: &TestApp) {
    assert!(
        wait_until_idle(&app.db, Duration::from_secs(60)).await,
        "the sync queue did not drain"
    );
}

/// LiteLLM's view of a key (by hash), `None` when it does not know it.
pub(crate) async fn litellm_info(base: &str, master: &str, hash: &str) -> Option<Value> {
    let r = reqwest::Client::new()
        .get(format!("{base}/key/info"))
        .query(&[("key", hash)])
        .bearer_auth(master)
        .send()
        .await
        .unwrap();
    match r.status().as_u16() {
        200 => Some(r.json::<Value>().await.unwrap()["info"].clone()),
        404 => None,
        s => panic!("unexpected /key/info status {s}"),
    }
}

async fn litellm_update(base: &str, master: &str, body: Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/key/update"))
        .bearer_auth(master)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

pub(crate) fn sorted(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

/// No audit row holds any of these secrets, in any column.
async fn assert_no_secret_in_audit(app: &TestApp, secrets: &[String]) {
    let rows = app.events().await;
    assert!(!rows.is_empty());
    for ev in rows {
        let text = format!("{ev:?}");
        for s in secrets {
            assert!(
                !text.contains(s.as_str()),
                "a secret leaked into audit event {}",
                ev.id
            );
        }
    }
}

async fn all_keys(app: &TestApp, cipher: &KeyCipher) -> Vec<String> {
    user::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|u| {
            cipher
                .decrypt(&u.user_id, &u.key_ciphertext, &u.key_sha256)
                .unwrap()
                .expose_secret()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn a_new_user_reaches_litellm_with_exactly_the_models_alias_metadata_and_user_id_mama_intended()
 {
    let Some((base, master)) = peer() else { return };
    let (app, cipher) = app_with_litellm(&base, &master, Duration::from_secs(10)).await;
    let sfx = rand_suffix();
    add_service(&app, "search").await;
    add_service(&app, "wiki").await;
    let uid = format!("alice-{sfx}");
    let alias = format!("mama-alice-{sfx}");
    let u = create(
        &app,
        &cipher,
        NewUser {
            user_id: uid.clone(),
            organisation: "Research".into(),
            key_alias: Some(alias.clone()),
            models: vec!["gpt-4o-mini".into(), "gpt-4o".into()],
            services: vec!["wiki".into(), "search".into()],
            extra: "desk 4".into(),
            limits: Default::default(),
        },
    )
    .await;
    assert_eq!(u.sync_state, "pending");
    drain(&app).await;
    let u = find_user(&app, &uid).await;
    assert_eq!(u.sync_state, "synced", "error: {:?}", u.sync_error);
    assert!(u.synced_at.is_some());
    let info = litellm_info(&base, &master, &u.key_sha256)
        .await
        .expect("LiteLLM has the key");
    assert_eq!(sorted(&info["models"]), vec!["gpt-4o", "gpt-4o-mini"]);
    assert_eq!(info["key_alias"], json!(alias));
    assert_eq!(info["user_id"], json!(uid));
    assert_eq!(
        info["metadata"],
        json!({"organisation": "Research", "services": ["search", "wiki"], "extra": "desk 4", "managed_by": "mama"})
    );
    // Every call was audited as the system worker, with the user as target.
    let calls: Vec<_> = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.action.starts_with("litellm.key."))
        .collect();
    assert!(
        calls
            .iter()
            .any(|e| e.action == "litellm.key.generate" && e.outcome == "success")
    );
    assert!(
        calls
            .iter()
            .all(|e| e.actor_kind == "system" && e.http_status.is_some())
    );
    let mut secrets = all_keys(&app, &cipher).await;
    secrets.push(master.clone());
    assert_no_secret_in_audit(&app, &secrets).await;
}

#[tokio::test]
async fn replacing_adding_and_removing_models_and_changing_the_alias_leave_the_exact_state_in_litellm()
 {
    let Some((base, master)) = peer() else { return };
    let (app, cipher) = app_with_litellm(&base, &master, Duration::from_secs(10)).await;
    let sfx = rand_suffix();
    let uid = format!("bob-{sfx}");
    create(
        &app,
        &cipher,
        NewUser {
            user_id: uid.clone(),
            organisation: "Ops".into(),
            key_alias: Some(format!("mama-bob-{sfx}")),
            models: vec!["gpt-4o".into()],
            ..Default::default()
        },
    )
    .await;
    drain(&app).await;
    let hash = find_user(&app, &uid).await.key_sha256;
    let new_alias = format!("mama-bob2-{sfx}");
    // replace
    set_models_and_alias(&app, &uid, &["fast-chat", "embeddings"], Some(&new_alias)).await;
    drain(&app).await;
    let info = litellm_info(&base, &master, &hash).await.unwrap();
    assert_eq!(sorted(&info["models"]), vec!["embeddings", "fast-chat"]);
    assert_eq!(info["key_alias"], json!(new_alias));
    // add one, then remove one: the full list is always sent
    set_models_and_alias(
        &app,
        &uid,
        &["fast-chat", "embeddings", "all-team-models"],
        Some(&new_alias),
    )
    .await;
    drain(&app).await;
    let info = litellm_info(&base, &master, &hash).await.unwrap();
    assert_eq!(
        sorted(&info["models"]),
        vec!["all-team-models", "embeddings", "fast-chat"]
    );
    set_models_and_alias(&app, &uid, &["embeddings"], None).await;
    drain(&app).await;
    let info = litellm_info(&base, &master, &hash).await.unwrap();
    assert_eq!(sorted(&info["models"]), vec!["embeddings"]);
    assert_eq!(info["key_alias"], Value::Null, "the alias is cleared");
    assert_eq!(find_user(&app, &uid).await.sync_state, "synced");
}

#[tokio::test]
async fn a_taken_alias_fails_with_litellms_message_and_nothing_is_lost_until_it_is_fixed() {
    let Some((base, master)) = peer() else { return };
    let (app, cipher) = app_with_litellm(&base, &master, Duration::from_secs(10)).await;
    let sa = app.super_admin().await;
    let sfx = rand_suffix();
    let alias = format!("mama-shared-{sfx}");
    // A key made outside mama already holds the alias.
    let foreign = format!("sk-foreign{}", rand_suffix());
    let r = reqwest::Client::new()
        .post(format!("{base}/key/generate"))
        .bearer_auth(&master)
        .json(&json!({"key": foreign, "key_alias": alias}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    create(
        &app,
        &cipher,
        NewUser {
            user_id: format!("second-{sfx}"),
            organisation: "X".into(),
            key_alias: Some(alias.clone()),
            models: vec!["gpt-4o".into()],
            ..Default::default()
        },
    )
    .await;
    drain(&app).await;
    let second = find_user(&app, &format!("second-{sfx}")).await;
    assert_eq!(second.sync_state, "failed");
    let err = second.sync_error.clone().unwrap();
    assert!(err.contains("already exists"), "{err}");
    assert!(
        litellm_info(&base, &master, &second.key_sha256)
            .await
            .is_none()
    );
    // The /sync page lists it with LiteLLM's message.
    let (status, body) = sa.page("/sync").await;
    assert_eq!(status, 200);
    assert!(body.contains(&format!("second-{sfx}")) && body.contains("already exists"));
    // Fix the alias behind the scenes (without a new job), then retry from the page.
    app.sql(&format!(
        "UPDATE users SET key_alias = 'mama-second-{sfx}' WHERE user_id = 'second-{sfx}'"
    ))
    .await;
    let r = sa
        .post_form("/sync/retry", &[("user_id", &format!("second-{sfx}"))])
        .await;
    assert_eq!(r.status(), 303);
    let ev = app.event_for(&request_id(&r)).await;
    assert_eq!(ev.action, "sync.retry");
    drain(&app).await;
    let second = find_user(&app, &format!("second-{sfx}")).await;
    assert_eq!(second.sync_state, "synced");
    let info = litellm_info(&base, &master, &second.key_sha256)
        .await
        .unwrap();
    assert_eq!(info["key_alias"], json!(format!("mama-second-{sfx}")));
    let _ = reqwest::Client::new()
        .post(format!("{base}/key/delete"))
        .bearer_auth(&master)
        .json(&json!({"keys": [foreign]}))
        .send()
        .await;
}

#[tokio::test]
async fn rotation_makes_a_new_key_that_works_and_the_old_one_is_gone_from_litellm() {
    let Some((base, master)) = peer() else { return };
    let (app, cipher) = app_with_litellm(&base, &master, Duration::from_secs(10)).await;
    let sfx = rand_suffix();
    let uid = format!("carol-{sfx}");
    create(
        &app,
        &cipher,
        NewUser {
            user_id: uid.clone(),
            organisation: "X".into(),
            models: vec!["gpt-4o".into()],
            key_alias: Some(format!("mama-carol-{sfx}")),
            ..Default::default()
        },
    )
    .await;
    drain(&app).await;
    let old = find_user(&app, &uid).await;
    let txn = mama::db::begin_write(&app.db).await.unwrap();
    service::rotate_key(&txn, &cipher, &old, None)
        .await
        .unwrap();
    txn.commit().await.unwrap();
    drain(&app).await;
    let new = find_user(&app, &uid).await;
    assert_ne!(new.key_sha256, old.key_sha256);
    assert_eq!(new.sync_state, "synced");
    assert!(
        litellm_info(&base, &master, &old.key_sha256)
            .await
            .is_none(),
        "old key deleted"
    );
    let info = litellm_info(&base, &master, &new.key_sha256).await.unwrap();
    assert_eq!(info["key_alias"], json!(format!("mama-carol-{sfx}")));
    // The new key itself is accepted by the proxy.
    let key = cipher
        .decrypt(&new.user_id, &new.key_ciphertext, &new.key_sha256)
        .unwrap();
    let r = reqwest::Client::new()
        .get(format!("{base}/v1/models"))
        .bearer_auth(key.expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn deleting_a_user_deletes_its_key_in_litellm() {
    let Some((base, master)) = peer() else { return };
    let (app, cipher) = app_with_litellm(&base, &master, Duration::from_secs(10)).await;
    let uid = format!("dave-{}", rand_suffix());
    create(
        &app,
        &cipher,
        NewUser {
            user_id: uid.clone(),
            organisation: "X".into(),
            ..Default::default()
        },
    )
    .await;
    drain(&app).await;
    let u = find_user(&app, &uid).await;
    assert!(litellm_info(&base, &master, &u.key_sha256).await.is_some());
    let txn = mama::db::begin_write(&app.db).await.unwrap();
    service::delete_user(&txn, &u, None).await.unwrap();
    txn.commit().await.unwrap();
    drain(&app).await;
    assert!(litellm_info(&base, &master, &u.key_sha256).await.is_none());
}

#[tokio::test]
async fn reconcile_finds_drift_made_behind_mamas_back_and_repairs_it() {
    let Some((base, master)) = peer() else { return };
    let (app, cipher) = app_with_litellm(&base, &master, Duration::from_secs(10)).await;
    let sa = app.super_admin().await;
    let sfx = rand_suffix();
    let uid = format!("erin-{sfx}");
    create(
        &app,
        &cipher,
        NewUser {
            user_id: uid.clone(),
            organisation: "X".into(),
            models: vec!["gpt-4o".into()],
            key_alias: Some(format!("mama-erin-{sfx}")),
            ..Default::default()
        },
    )
    .await;
    drain(&app).await;
    let u = find_user(&app, &uid).await;
    // Someone edits the key directly in LiteLLM.
    litellm_update(
        &base,
        &master,
        json!({"key": u.key_sha256, "models": ["claude-3-5-sonnet"], "key_alias": format!("hacked-{sfx}")}),
    )
    .await;
    let (status, body) = sa.page("/sync/reconcile").await;
    assert_eq!(status, 200, "{body}");
    let row = body
        .split("<tr data-user=")
        .find(|r| r.contains(&uid))
        .expect("the drifted user is listed");
    assert!(row.contains("models") && row.contains("alias"), "{row}");
    let r = sa.post_form("/sync/reconcile", &[]).await;
    assert_eq!(r.status(), 303);
    let ev = app.event_for(&request_id(&r)).await;
    assert_eq!(ev.action, "sync.reconcile");
    drain(&app).await;
    let info = litellm_info(&base, &master, &u.key_sha256).await.unwrap();
    assert_eq!(sorted(&info["models"]), vec!["gpt-4o"]);
    assert_eq!(info["key_alias"], json!(format!("mama-erin-{sfx}")));
}

/// A TCP gateway to the real proxy that can be switched off (connections refused)
/// and on again: LiteLLM "down" without touching the shared proxy.
struct Gateway {
    port: u16,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    conns: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    target: String,
}

impl Gateway {
    async fn start(target: &str) -> Arc<Gateway> {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let g = Arc::new(Gateway {
            port,
            task: std::sync::Mutex::new(None),
            conns: Arc::new(std::sync::Mutex::new(vec![])),
            target: target.trim_start_matches("http://").to_string(),
        });
        g.serve(l);
        g
    }
    fn serve(&self, l: tokio::net::TcpListener) {
        let target = self.target.clone();
        let conns = self.conns.clone();
        let h = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = l.accept().await {
                let target = target.clone();
                let c = tokio::spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                conns.lock().unwrap().push(c.abort_handle());
            }
        });
        *self.task.lock().unwrap() = Some(h);
    }
    fn down(&self) {
        if let Some(h) = self.task.lock().unwrap().take() {
            h.abort();
        }
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }
    async fn up(&self) {
        let l = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        self.serve(l);
    }
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

#[tokio::test]
async fn with_litellm_down_200_changed_users_wait_pending_and_all_arrive_when_it_is_back() {
    let Some((base, master)) = peer() else { return };
    let gw = Gateway::start(&base).await;
    let (app, cipher) = app_with_litellm(&gw.url(), &master, Duration::from_secs(5)).await;
    let sfx = rand_suffix();
    let ids: Vec<String> = (0..200).map(|i| format!("bulk{i}-{sfx}")).collect();
    let txn = mama::db::begin_write(&app.db).await.unwrap();
    for id in &ids {
        service::create_user(
            &txn,
            &cipher,
            NewUser {
                user_id: id.clone(),
                organisation: "Bulk".into(),
                models: vec!["gpt-4o".into()],
                ..Default::default()
            },
            Some("initial"),
        )
        .await
        .unwrap();
    }
    txn.commit().await.unwrap();
    drain(&app).await;
    gw.down();
    // Change all 200 (models) while LiteLLM is unreachable.
    let txn = mama::db::begin_write(&app.db).await.unwrap();
    txn.execute_raw(Statement::from_string(
        txn.get_database_backend(),
        format!(
            "INSERT INTO user_models (user_id, model) SELECT id, 'fast-chat' FROM users WHERE user_id LIKE '%-{sfx}'"
        ),
    ))
    .await
    .unwrap();
    outbox::enqueue_upsert(&txn, &ids, Some("bulk-change"))
        .await
        .unwrap();
    txn.commit().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pending = user::Entity::find()
        .filter(user::Column::SyncState.eq("pending"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(pending.len(), 200, "all 200 wait as pending");
    assert!(
        pending.iter().any(|u| u
            .sync_error
            .as_deref()
            .is_some_and(|e| e.contains("unreachable"))),
        "the pending users show why"
    );
    let sa = app.super_admin().await;
    let (_, body) = sa.page("/sync").await;
    assert!(
        body.contains("LiteLLM is unreachable"),
        "the banner says so"
    );
    gw.up().await;
    drain(&app).await;
    let users = user::Entity::find().all(&app.db).await.unwrap();
    assert!(users.iter().all(|u| u.sync_state == "synced"));
    for u in users.iter().step_by(20) {
        let info = litellm_info(&base, &master, &u.key_sha256).await.unwrap();
        assert_eq!(sorted(&info["models"]), vec!["fast-chat", "gpt-4o"]);
    }
    let open = sync_job::Entity::find()
        .filter(sync_job::Column::State.ne("done"))
        .all(&app.db)
        .await
        .unwrap();
    assert!(open.is_empty(), "every job completed: {open:?}");
}

#[tokio::test]
async fn timeouts_server_errors_and_malformed_answers_end_as_retried_jobs_with_a_readable_error() {
    use wiremock::{
        Mock, MockServer, ResponseTemplate,
        matchers::{method, path, path_regex},
    };
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": []})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex("^/key/(generate|update)$"))
        .respond_with(ResponseTemplate::new(500).set_body_json(
            json!({"error": {"message": {"error": "database is on fire"}, "type": "internal_server_error", "param": null, "code": 500}}),
        ))
        .mount(&server)
        .await;
    let (app, cipher) =
        app_with_litellm(&server.uri(), "sk-test-master", Duration::from_millis(500)).await;
    let uid = format!("frank-{}", rand_suffix());
    create(
        &app,
        &cipher,
        NewUser {
            user_id: uid.clone(),
            organisation: "X".into(),
            ..Default::default()
        },
    )
    .await;
    let job_of = |db: sea_orm::DatabaseConnection, uid: String| async move {
        sync_job::Entity::find()
            .filter(sync_job::Column::UserRef.eq(uid))
            .one(&db)
            .await
            .unwrap()
            .unwrap()
    };
    let wait_for = |want: &'static str| {
        let db = app.db.clone();
        let uid = uid.clone();
        async move {
            for _ in 0..100 {
                let j = job_of(db.clone(), uid.clone()).await;
                if j.attempts >= 1 && j.last_error.as_deref().is_some_and(|e| e.contains(want)) {
                    return j;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!(
                "no retried job with error containing {want:?}: {:?}",
                job_of(db, uid).await
            );
        }
    };
    let j = wait_for("database is on fire").await;
    assert_eq!(j.state, "pending", "a 5xx is retried");
    assert!(j.last_error.unwrap().contains("500"));
    // Malformed body.
    server.reset().await;
    Mock::given(method("POST"))
        .and(path_regex("^/key/(generate|update)$"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"))
        .mount(&server)
        .await;
    let j = wait_for("unreadable answer").await;
    assert_eq!(j.state, "pending");
    // A 200 whose body is not JSON is malformed too.
    server.reset().await;
    Mock::given(method("POST"))
        .and(path_regex("^/key/(generate|update)$"))
        .respond_with(ResponseTemplate::new(200).set_body_string("not json"))
        .mount(&server)
        .await;
    let j = wait_for("unreadable answer (").await;
    assert_eq!(j.state, "pending");
    // Timeout.
    server.reset().await;
    Mock::given(method("POST"))
        .and(path_regex("^/key/(generate|update)$"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let j = wait_for("timed out").await;
    assert_eq!(j.state, "pending");
    let u = find_user(&app, &uid).await;
    assert_eq!(
        u.sync_state, "pending",
        "the user waits, with the reason shown"
    );
    assert!(u.sync_error.is_some());
    // Each failed call was audited with LiteLLM's error.
    let evs = app.events().await;
    assert!(evs.iter().any(|e| (e.action == "litellm.key.generate"
        || e.action == "litellm.key.update")
        && e.outcome == "error"
        && e.details.to_string().contains("database is on fire")));
    let mut secrets = all_keys(&app, &cipher).await;
    secrets.push("sk-test-master".into());
    assert_no_secret_in_audit(&app, &secrets).await;
}

#[tokio::test]
async fn without_litellm_mama_works_keeps_changes_pending_and_says_so() {
    let (app, cipher) = app_without_litellm().await;
    let uid = format!("gina-{}", rand_suffix());
    create(
        &app,
        &cipher,
        NewUser {
            user_id: uid.clone(),
            organisation: "X".into(),
            ..Default::default()
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(find_user(&app, &uid).await.sync_state, "pending");
    let sa = app.super_admin().await;
    let (status, body) = sa.page("/sync").await;
    assert_eq!(status, 200);
    assert!(body.contains("LiteLLM is not configured"));
    assert!(body.contains("id=\"count-pending\">1<"), "{body}");
    let (status, body) = sa.page("/models").await;
    assert_eq!(status, 200);
    assert!(body.contains("all-team-models") && body.contains("all-proxy-models"));
    let red = mama::catalogue::unavailable_among(&app.db, &["gpt-4o".into()])
        .await
        .unwrap();
    assert!(red.is_empty(), "no catalogue yet: nothing is shown as gone");
    // An auditor may not see or act on the sync queue.
    let aud = app
        .account(&sa, &format!("aud{}", rand_suffix()), "auditor")
        .await;
    assert_eq!(aud.get("/sync").await.status(), 403);
    let r = aud.post_form("/sync/retry", &[]).await;
    assert_eq!(r.status(), 403);
    assert_eq!(app.event_for(&request_id(&r)).await.action, "sync.retry");
}

#[tokio::test]
async fn the_model_catalogue_is_fetched_cached_and_kept_when_litellm_is_unreachable() {
    let Some((base, master)) = peer() else { return };
    let gw = Gateway::start(&base).await;
    let (app, _) = app_with_litellm(&gw.url(), &master, Duration::from_secs(5)).await;
    let sa = app.super_admin().await;
    let r = sa.post_form("/models/refresh", &[]).await;
    assert_eq!(r.status(), 303);
    let (_, body) = sa.page("/models").await;
    assert!(body.contains("data-model=\"gpt-4o\""), "{body}");
    let names = mama::catalogue::choices(&app.db).await.unwrap();
    assert_eq!(&names[..2], &["all-team-models", "all-proxy-models"]);
    assert!(names.contains(&"fast-chat".to_string()));
    let red = mama::catalogue::unavailable_among(
        &app.db,
        &[
            "gpt-4o".into(),
            "retired-model".into(),
            "all-team-models".into(),
        ],
    )
    .await
    .unwrap();
    assert_eq!(red, vec!["retired-model"]);
    gw.down();
    let r = sa.post_form("/models/refresh", &[]).await;
    assert_eq!(r.status(), 303);
    let (_, body) = sa.page("/models").await;
    assert!(
        body.contains("data-model=\"gpt-4o\""),
        "the last known list stays"
    );
    assert!(body.contains("the last known list is kept"), "{body}");
}

#[tokio::test]
async fn after_kill_9_with_jobs_in_flight_a_restart_completes_every_job_once_in_effect() {
    use base64::{Engine, engine::general_purpose::STANDARD};
    let Some((base, master)) = peer() else { return };
    // The test's own mama has no LiteLLM (no worker); the child processes do the sync.
    let mut keys = None;
    let app = spawn_app_with(|s| {
        keys = Some((
            STANDARD.encode(s.secrets.session_key.expose_secret()),
            STANDARD.encode(s.secrets.encryption_key.expose_secret()),
        ));
    })
    .await;
    let (session_key, enc_key) = keys.unwrap();
    let cipher = KeyCipher::new(&secrecy::SecretBox::new(Box::new(
        STANDARD.decode(&enc_key).unwrap().try_into().unwrap(),
    )));
    let sfx = rand_suffix();
    let n = 120;
    let txn = mama::db::begin_write(&app.db).await.unwrap();
    for i in 0..n {
        service::create_user(
            &txn,
            &cipher,
            NewUser {
                user_id: format!("k9-{i}-{sfx}"),
                organisation: "K9".into(),
                key_alias: Some(format!("mama-k9-{i}-{sfx}")),
                models: vec!["gpt-4o".into()],
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    }
    txn.commit().await.unwrap();
    let log = std::env::temp_dir().join(format!("mama-k9-{sfx}.log"));
    let spawn = || {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_mama"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &app.database_url)
            .env("MAMA_BIND", "127.0.0.1:0")
            .env("MAMA_SECRET_KEY", &session_key)
            .env("MAMA_ENCRYPTION_KEY", &enc_key)
            .env("MAMA_AUDIT_CHECKPOINT_FILE", "off")
            .env("LITELLM_BASE_URL", &base)
            .env("LITELLM_MASTER_KEY", &master)
            .env("LITELLM_SYNC_CONCURRENCY", "4")
            .env("LITELLM_SYNC_LEASE_SECS", "2")
            .env("LITELLM_SYNC_POLL_MS", "50")
            .env(
                "RUST_LOG",
                "debug,sqlx=warn,sea_orm=warn,hyper=info,reqwest=info",
            )
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start mama")
    };
    let done = |db: sea_orm::DatabaseConnection| async move {
        sync_job::Entity::find()
            .filter(sync_job::Column::State.eq("done"))
            .all(&db)
            .await
            .unwrap()
            .len()
    };
    let mut child = spawn();
    let mut waited = 0;
    while done(app.db.clone()).await < 10 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += 1;
        assert!(waited < 3000, "the child never synced anything");
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = done(app.db.clone()).await;
    assert!(at_kill < n, "killed before the end ({at_kill} done)");
    let mut child = spawn();
    let drained = wait_until_idle(&app.db, Duration::from_secs(120)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(drained, "the restarted instance finished the queue");
    let jobs = sync_job::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(jobs.len(), n, "one job per user, none duplicated");
    assert!(jobs.iter().all(|j| j.state == "done"), "{jobs:?}");
    let users = user::Entity::find().all(&app.db).await.unwrap();
    assert!(users.iter().all(|u| u.sync_state == "synced"));
    for u in users.iter() {
        let info = litellm_info(&base, &master, &u.key_sha256)
            .await
            .unwrap_or_else(|| panic!("{} missing in LiteLLM", u.user_id));
        assert_eq!(info["user_id"], json!(u.user_id));
        assert_eq!(sorted(&info["models"]), vec!["gpt-4o"]);
    }
    // Nothing secret in the logs of the killed and restarted processes, nor in the audit trail.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("sync worker started"));
    let mut secrets = all_keys(&app, &cipher).await;
    secrets.push(master.clone());
    for s in &secrets {
        assert!(!text.contains(s.as_str()), "a secret leaked into the logs");
    }
    assert_no_secret_in_audit(&app, &secrets).await;
    let _ = std::fs::remove_file(&log);
}

#[tokio::test]
async fn an_admin_sees_the_sync_queue_retries_a_failure_and_sees_the_model_catalogue() {
    use crate::webdriver::{browser, click, fill, screenshot, text};
    use fantoccini::Locator;
    let Some(c) = browser().await else { return };
    let (app, cipher) = app_without_litellm().await;
    app.super_admin().await; // the forced password change is done
    let sfx = rand_suffix();
    for i in 0..3 {
        create(
            &app,
            &cipher,
            NewUser {
                user_id: format!("web{i}-{sfx}"),
                organisation: "X".into(),
                ..Default::default()
            },
        )
        .await;
    }
    // One of them failed for good, as a taken alias would.
    app.sql(&format!(
        "UPDATE sync_jobs SET state = 'failed', attempts = 1, last_error = 'LiteLLM 400: Key with alias ''x'' already exists.' WHERE user_ref = 'web1-{sfx}'"
    ))
    .await;
    app.sql(&format!(
        "UPDATE users SET sync_state = 'failed' WHERE user_id = 'web1-{sfx}'"
    ))
    .await;
    mama::catalogue::store(&app.db, &["gpt-4o".into(), "fast-chat".into()])
        .await
        .unwrap();
    mama::catalogue::store(&app.db, &["gpt-4o".into()])
        .await
        .unwrap();
    c.goto(&format!("{}/login", app.addr)).await.unwrap();
    fill(&c, "username", "admin").await;
    fill(&c, "password", STRONG_PASSWORD).await;
    click(&c, "#submit").await;
    c.wait().for_element(Locator::Id("whoami")).await.unwrap();
    c.goto(&format!("{}/sync", app.addr)).await.unwrap();
    c.wait().for_element(Locator::Id("failed")).await.unwrap();
    let body = text(&c).await;
    assert!(body.contains("LiteLLM is not configured"), "{body}");
    assert!(body.contains("already exists"));
    screenshot(&c, "litellm-01-sync-with-a-failure").await;
    click(&c, "#failed button[type=submit]").await;
    c.wait()
        .for_element(Locator::Id("no-failed"))
        .await
        .unwrap();
    let body = text(&c).await;
    assert!(body.contains("1 user queued for another attempt"), "{body}");
    screenshot(&c, "litellm-02-sync-after-retry").await;
    assert_eq!(
        find_user(&app, &format!("web1-{sfx}")).await.sync_state,
        "pending"
    );
    c.goto(&format!("{}/models", app.addr)).await.unwrap();
    c.wait().for_element(Locator::Id("models")).await.unwrap();
    let body = text(&c).await;
    assert!(
        body.contains("no longer offered") && body.contains("all-team-models"),
        "{body}"
    );
    screenshot(&c, "litellm-03-models").await;
    c.close().await.unwrap();
}

/// Changes a user's organisation the way the edit dialog does (an edit that has
/// nothing to do with models).
async fn set_organisation(app: &TestApp, user_id: &str, org: &str) {
    let u = find_user(app, user_id).await;
    let txn = mama::db::begin_write(&app.db).await.unwrap();
    txn.execute_raw(Statement::from_string(
        txn.get_database_backend(),
        format!(
            "UPDATE users SET organisation = '{org}', version = version + 1 WHERE id = {}",
            u.id
        ),
    ))
    .await
    .unwrap();
    outbox::enqueue_upsert(&txn, &[user_id.to_string()], None)
        .await
        .unwrap();
    txn.commit().await.unwrap();
}

async fn open_drifts(app: &TestApp, user_id: &str) -> Vec<mama::entities::sync_drift::Model> {
    use mama::entities::sync_drift;
    sync_drift::Entity::find()
        .filter(sync_drift::Column::UserRef.eq(user_id))
        .filter(sync_drift::Column::ResolvedAt.is_null())
        .all(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn models_changed_directly_in_litellm_are_not_overwritten_by_an_unrelated_edit_without_the_drift_recorded()
 {
    let Some((base, master)) = peer() else { return };
    let (app, cipher) = app_with_litellm(&base, &master, Duration::from_secs(10)).await;
    let sfx = rand_suffix();
    let uid = format!("drift-{sfx}");
    create(
        &app,
        &cipher,
        NewUser {
            user_id: uid.clone(),
            organisation: "Ops".into(),
            key_alias: Some(format!("mama-drift-{sfx}")),
            models: vec!["gpt-4o".into()],
            ..Default::default()
        },
    )
    .await;
    drain(&app).await;
    let hash = find_user(&app, &uid).await.key_sha256;
    // An edit mama makes itself is never drift: the state it sent is its record.
    set_models_and_alias(
        &app,
        &uid,
        &["gpt-4o", "fast-chat"],
        Some(&format!("mama-drift-{sfx}")),
    )
    .await;
    drain(&app).await;
    assert_eq!(find_user(&app, &uid).await.sync_state, "synced");
    assert!(open_drifts(&app, &uid).await.is_empty());
    // Someone changes the key's models in LiteLLM itself.
    litellm_update(
        &base,
        &master,
        json!({"key": hash, "models": ["gpt-4o-mini"]}),
    )
    .await;
    // The next, unrelated, edit in mama.
    set_organisation(&app, &uid, "Research").await;
    drain(&app).await;
    let info = litellm_info(&base, &master, &hash).await.unwrap();
    assert_eq!(
        sorted(&info["models"]),
        vec!["gpt-4o-mini"],
        "LiteLLM's change was not overwritten"
    );
    assert_eq!(
        info["metadata"]["organisation"],
        json!("Ops"),
        "the write is held"
    );
    let drifts = open_drifts(&app, &uid).await;
    assert_eq!(drifts.len(), 1, "{drifts:?}");
    assert_eq!(drifts[0].fields, "models");
    assert!(
        drifts[0].actual.contains("gpt-4o-mini"),
        "{}",
        drifts[0].actual
    );
    assert!(
        drifts[0].expected.contains("fast-chat"),
        "{}",
        drifts[0].expected
    );
    let u = find_user(&app, &uid).await;
    assert_eq!(u.sync_state, "failed");
    assert!(
        u.sync_error
            .unwrap_or_default()
            .contains("changed outside mama")
    );
    let audited: Vec<_> = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.action == "litellm.key.drift")
        .collect();
    assert_eq!(audited.len(), 1);
    assert!(audited[0].targets.contains(&uid));
    // /sync/reconcile shows it; the admin sends mama's state again.
    let sa = app.super_admin().await;
    let (status, page) = sa.page("/sync/reconcile").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"held-drift\""), "{page}");
    assert!(page.contains(&format!("data-user=\"{uid}\"")));
    let action = format!("/sync/drift/{}/overwrite", drifts[0].id);
    assert!(page.contains(&action));
    let r = sa.post_form(&action, &[]).await;
    assert_eq!(r.status(), 303);
    drain(&app).await;
    let info = litellm_info(&base, &master, &hash).await.unwrap();
    assert_eq!(sorted(&info["models"]), vec!["fast-chat", "gpt-4o"]);
    assert_eq!(info["metadata"]["organisation"], json!("Research"));
    assert!(open_drifts(&app, &uid).await.is_empty());
    assert_eq!(find_user(&app, &uid).await.sync_state, "synced");
    // A second overwrite of the same drift is gone (404), not a 500.
    assert_eq!(sa.post_form(&action, &[]).await.status(), 404);
}

#[tokio::test]
async fn a_model_renamed_in_litellm_is_offered_as_a_rename_to_adopt_through_the_bulk_path() {
    let Some((base, master)) = peer() else { return };
    let (app, cipher) = app_with_litellm(&base, &master, Duration::from_secs(10)).await;
    let sfx = rand_suffix();
    // `legacy-…` was once in the catalogue; LiteLLM renamed it to gpt-4o-mini.
    let old = format!("legacy-{sfx}");
    app.sql(&format!(
        "INSERT INTO models (name, available, first_seen_at) VALUES ('{old}', false, '2026-01-01 00:00:00+00:00')"
    ))
    .await;
    let users: Vec<String> = (0..2).map(|i| format!("ren{i}-{sfx}")).collect();
    for u in &users {
        create(
            &app,
            &cipher,
            NewUser {
                user_id: u.clone(),
                organisation: "Ops".into(),
                models: vec![old.clone(), "gpt-4o".into()],
                ..Default::default()
            },
        )
        .await;
    }
    drain(&app).await;
    // Let the catalogue refresh see LiteLLM's models (gpt-4o-mini is offered).
    let sa = app.super_admin().await;
    assert_eq!(sa.post_form("/models/refresh", &[]).await.status(), 303);
    for u in &users {
        let hash = find_user(&app, u).await.key_sha256;
        litellm_update(
            &base,
            &master,
            json!({"key": hash, "models": ["gpt-4o", "gpt-4o-mini"]}),
        )
        .await;
        set_organisation(&app, u, "Research").await;
    }
    drain(&app).await;
    for u in &users {
        assert_eq!(open_drifts(&app, u).await.len(), 1, "{u}");
    }
    let (_, page) = sa.page("/sync/reconcile").await;
    let offer = format!("data-from=\"{old}\" data-to=\"gpt-4o-mini\"");
    assert!(page.contains(&offer), "{page}");
    // With a browser at hand, a picture of the page as an admin sees it.
    if std::env::var("WEBDRIVER_URL").is_ok_and(|v| !v.is_empty())
        && let Some(c) = crate::webdriver::browser().await
    {
        crate::webdriver::log_in(&c, &app.addr, "/sync/reconcile").await;
        c.goto(&format!("{}/sync/reconcile", app.addr))
            .await
            .unwrap();
        crate::webdriver::wait_css(&c, "#held-drift").await;
        crate::webdriver::screenshot(&c, "sync-reconcile-held-drift").await;
        c.close().await.unwrap();
    }
    // The offer's two forms go through the normal bulk path: preview, then apply.
    for (op, model) in [
        ("models.add", "gpt-4o-mini"),
        ("models.remove", old.as_str()),
    ] {
        let fields = [
            ("holding_model", old.as_str()),
            ("op", op),
            ("models", model),
        ];
        let r = sa.post_form("/users/bulk/preview", &fields).await;
        assert_eq!(r.status(), 200, "{op} preview");
        let r = sa.post_form("/users/bulk/apply", &fields).await;
        assert_eq!(
            r.status(),
            303,
            "{op} apply: {}",
            r.text().await.unwrap_or_default()
        );
        drain(&app).await;
    }
    for u in &users {
        let user = find_user(&app, u).await;
        assert_eq!(user.sync_state, "synced", "{u}: {:?}", user.sync_error);
        let info = litellm_info(&base, &master, &user.key_sha256)
            .await
            .unwrap();
        assert_eq!(sorted(&info["models"]), vec!["gpt-4o", "gpt-4o-mini"]);
        assert_eq!(info["metadata"]["organisation"], json!("Research"));
        assert!(
            open_drifts(&app, u).await.is_empty(),
            "{u}: the drift converged"
        );
    }
}

#[tokio::test]
async fn a_run_whose_lease_was_taken_over_cannot_finish_or_fail_the_job_of_the_new_holder() {
    use mama::litellm::queries;
    let (app, cipher) = app_without_litellm().await;
    let uid = format!("fence-{}", rand_suffix());
    create(
        &app,
        &cipher,
        NewUser {
            user_id: uid.clone(),
            organisation: "X".into(),
            ..Default::default()
        },
    )
    .await;
    let lease = Duration::from_millis(300);
    let (mut a, _) = queries::claim(&app.db, "w-a", 1, lease).await.unwrap();
    let job_a = a.pop().expect("worker A claimed the job");
    assert_eq!(job_a.user_ref, uid);
    // Not expired yet: B gets nothing.
    let (b, _) = queries::claim(&app.db, "w-b", 1, lease).await.unwrap();
    assert!(b.is_empty());
    tokio::time::sleep(lease + Duration::from_millis(100)).await;
    let (mut b, took_over) = queries::claim(&app.db, "w-b", 1, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(took_over, 1);
    let job_b = b.pop().expect("worker B took the job over");
    assert_eq!(job_b.attempts, job_a.attempts + 1);
    let row = || async {
        sync_job::Entity::find_by_id(job_a.id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
    };
    // A comes back: neither its success nor its failure is recorded.
    assert!(!queries::finish(&app.db, &job_a, "w-a").await.unwrap());
    assert!(
        !queries::fail(&app.db, &job_a, "w-a", "late", None)
            .await
            .unwrap()
    );
    let j = row().await;
    assert_eq!(
        (j.state.as_str(), j.lease_owner.as_deref()),
        ("running", Some("w-b"))
    );
    assert_eq!(j.last_error, None);
    let u = find_user(&app, &uid).await;
    assert_eq!(u.sync_state, "pending", "the user's state is B's to set");
    assert_eq!(u.sync_error, None);
    // The same worker re-claiming its own expired job is a new run too: the
    // old run (an older attempt) cannot record over it.
    let stale_b = sync_job::Model {
        attempts: job_b.attempts - 1,
        ..job_b.clone()
    };
    assert!(!queries::finish(&app.db, &stale_b, "w-b").await.unwrap());
    // B, the holder, finishes.
    assert!(queries::finish(&app.db, &job_b, "w-b").await.unwrap());
    assert_eq!(row().await.state, "done");
    assert_eq!(find_user(&app, &uid).await.sync_state, "synced");
    // And A, later still, cannot turn the finished job into a failure.
    assert!(
        !queries::fail(&app.db, &job_a, "w-a", "late", Some(chrono::Utc::now()))
            .await
            .unwrap()
    );
    assert_eq!(row().await.state, "done");
}

#[tokio::test]
async fn a_worker_that_lost_its_lease_mid_call_records_nothing_and_counts_it_in_metrics() {
    use wiremock::{
        Mock, MockServer, ResponseTemplate,
        matchers::{method, path},
    };
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": []})))
        .mount(&server)
        .await;
    // The first creation hangs past the lease; every later call is quick.
    Mock::given(method("POST"))
        .and(path("/key/generate"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({}))
                .set_delay(Duration::from_millis(2500)),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/key/generate"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/key/info"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"detail": "no key"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/key/update"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"detail": "no key"})))
        .mount(&server)
        .await;
    let mut cipher = None;
    let app = spawn_app_with(|s| {
        fast_sync(s, &server.uri(), "sk-test-master", Duration::from_secs(10));
        s.sync.lease = Duration::from_secs(1);
        cipher = Some(KeyCipher::new(&s.secrets.encryption_key));
    })
    .await;
    let uid = format!("lost-{}", rand_suffix());
    create(
        &app,
        &cipher.unwrap(),
        NewUser {
            user_id: uid.clone(),
            organisation: "X".into(),
            ..Default::default()
        },
    )
    .await;
    // The first run hangs; after 1 s its lease runs out and the worker's next
    // claim takes the job over; that run finishes at once.
    let job = || async {
        sync_job::Entity::find()
            .filter(sync_job::Column::UserRef.eq(&uid))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
    };
    let started = std::time::Instant::now();
    while job().await.state != "done" {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            job().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "the takeover finished before the first run returned"
    );
    let done = job().await;
    assert_eq!(done.attempts, 2);
    // The first run returns (2.5 s) and finds its lease gone.
    let b = app.browser();
    let lost = loop {
        let text = b.get("/metrics").await.text().await.unwrap();
        let v = |name: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{name} ")))
                .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
                .trim()
                .parse()
                .unwrap()
        };
        if v("mama_sync_lease_lost_total") >= 1.0 || started.elapsed() > Duration::from_secs(8) {
            assert_eq!(v("mama_sync_lease_takeovers_total"), 1.0);
            break v("mama_sync_lease_lost_total");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(lost, 1.0);
    // Nothing of the late run was recorded over the holder's result.
    let after = job().await;
    assert_eq!(after.state, "done");
    assert_eq!(after.attempts, 2);
    assert_eq!(after.finished_at, done.finished_at);
    assert_eq!(find_user(&app, &uid).await.sync_state, "synced");
}
