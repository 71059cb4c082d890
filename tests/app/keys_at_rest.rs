//! Users' keys at rest: key ids, rotation of the encryption key, `mama keys
//! reencrypt` (killed and resumed), ciphertexts bound to their user, and lookups
//! that survive an unreadable row.
use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use mama::{api_clients::Scope, crypto::KeyCipher, entities::user};
use sea_orm::{EntityTrait, QueryOrder};
use secrecy::{ExposeSecret, SecretBox};
use serde_json::{Value, json};

use crate::{
    api::{ApiApp, spawn_api_app},
    helpers::{TestApp, fresh_database, spawn_app_on},
};

fn key(b: u8) -> SecretBox<[u8; 32]> {
    SecretBox::new(Box::new([b; 32]))
}

/// mama on `url` whose current encryption key is `current`, with `old` for reading.
async fn api_app_on(url: &str, current: u8, old: &[u8]) -> ApiApp {
    let old: Vec<u8> = old.to_vec();
    let app: TestApp = spawn_app_on(url, |s| {
        s.secrets.encryption_key = key(current);
        s.secrets.old_encryption_keys = old.iter().map(|b| key(*b)).collect();
    })
    .await;
    let cipher = KeyCipher::with_old(
        &key(current),
        &old.iter().map(|b| key(*b)).collect::<Vec<_>>(),
    );
    ApiApp {
        app,
        cipher,
        http: reqwest::Client::new(),
    }
}

async fn lookup(a: &ApiApp, token: &str, ids: &[String]) -> Value {
    let r = a.lookup(token, json!({ "user_ids": ids })).await;
    assert_eq!(r.status(), 200, "a lookup never fails for the batch");
    r.json().await.unwrap()
}

async fn users(a: &ApiApp) -> Vec<user::Model> {
    user::Entity::find()
        .order_by_asc(user::Column::Id)
        .all(&a.app.db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_key_id_encrypts_new_rows_while_old_rows_still_decrypt() {
    let url = fresh_database().await;
    let before = api_app_on(&url, 1, &[]).await;
    before.user("old-1", &["gpt-4o"], &[]).await;
    before.user("old-2", &[], &[]).await;
    let old_id = before.cipher.current_key_id().to_string();
    // A restart with a new current key and the old one kept for reading.
    let after = api_app_on(&url, 2, &[1]).await;
    let new_id = after.cipher.current_key_id().to_string();
    assert_ne!(old_id, new_id);
    after.user("new-1", &[], &[]).await;
    let rows = users(&after).await;
    let kid = |u: &str| {
        let r = rows.iter().find(|r| r.user_id == u).unwrap();
        KeyCipher::key_id_of(&r.key_ciphertext).map(str::to_string)
    };
    assert_eq!(kid("old-1").as_deref(), Some(old_id.as_str()));
    assert_eq!(kid("new-1").as_deref(), Some(new_id.as_str()));
    let (_, token) = after.client(&[Scope::KeysRead], None).await;
    let ids: Vec<String> = ["old-1", "new-1", "old-2"].map(String::from).to_vec();
    let body = lookup(&after, &token, &ids).await;
    assert_eq!(body["errors"], json!([]));
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(body["users"][i]["user_id"], json!(id));
        assert_eq!(
            body["users"][i]["key"],
            json!(after.cipher.decrypt_row(&rows, id))
        );
    }
    // Without the old key, the old rows are named in `errors`; the new one is served.
    let without_old = api_app_on(&url, 2, &[]).await;
    let (_, token) = without_old.client(&[Scope::KeysRead], None).await;
    let body = lookup(&without_old, &token, &ids).await;
    assert_eq!(body["users"].as_array().unwrap().len(), 1);
    assert_eq!(body["users"][0]["user_id"], "new-1");
    assert_eq!(body["errors"][0]["user_id"], "old-1");
    assert_eq!(body["errors"][0]["code"], "UNKNOWN_KEY_ID");
    assert_eq!(body["errors"][1]["user_id"], "old-2");
}

/// Decrypts a row of `rows` for assertions.
trait DecryptRow {
    fn decrypt_row(&self, rows: &[user::Model], user_id: &str) -> String;
}

impl DecryptRow for KeyCipher {
    fn decrypt_row(&self, rows: &[user::Model], user_id: &str) -> String {
        let r = rows.iter().find(|r| r.user_id == user_id).unwrap();
        self.decrypt(&r.user_id, &r.key_ciphertext, &r.key_sha256)
            .unwrap()
            .expose_secret()
            .to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swapped_ciphertext_between_two_users_is_refused_for_both_and_reported() {
    let a = spawn_api_app(|_| {}).await;
    for u in ["alice", "bob", "carol"] {
        a.user(u, &[], &[]).await;
    }
    let before = users(&a).await;
    let (alice_key, bob_key, carol_key) = (
        a.cipher.decrypt_row(&before, "alice"),
        a.cipher.decrypt_row(&before, "bob"),
        a.cipher.decrypt_row(&before, "carol"),
    );
    // Someone with write access to the database swaps two users' ciphertexts.
    let ct = |u: &str| {
        before
            .iter()
            .find(|r| r.user_id == u)
            .unwrap()
            .key_ciphertext
            .clone()
    };
    for (u, from) in [("alice", "bob"), ("bob", "alice")] {
        a.app
            .sql(&format!(
                "UPDATE users SET key_ciphertext = '{}' WHERE user_id = '{u}'",
                ct(from)
            ))
            .await;
    }
    let (_, token) = a.client(&[Scope::KeysRead], None).await;
    let r = a
        .lookup(
            &token,
            json!({"user_ids": ["alice", "bob", "carol", "nobody"]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let rid = crate::helpers::request_id(&r);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["users"].as_array().unwrap().len(), 1);
    assert_eq!(body["users"][0]["user_id"], "carol");
    assert_eq!(body["not_found"], json!(["nobody"]));
    let errs = body["errors"].as_array().unwrap();
    assert_eq!(errs.len(), 2, "{body}");
    assert_eq!(errs[0]["user_id"], "alice");
    assert_eq!(errs[1]["user_id"], "bob");
    assert!(errs.iter().all(|e| e["code"] == "DECRYPTION_FAILED"));
    // Neither key leaked under the other's name, and the audit event names both.
    let text = body.to_string();
    assert_eq!(body["users"][0]["key"], json!(carol_key));
    assert!(
        !text.contains(&alice_key) && !text.contains(&bob_key),
        "{text}"
    );
    let ev = a.app.event_for(&rid).await;
    let d: Value = serde_json::from_str(&ev.details).unwrap();
    assert_eq!(d["errors"][0]["user_id"], "alice");
    assert_eq!(d["errors"][1]["code"], "DECRYPTION_FAILED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_corrupt_row_does_not_fail_a_1000_id_lookup() {
    let a = spawn_api_app(|_| {}).await;
    let ids: Vec<String> = (0..1000).map(|i| format!("u{i:04}")).collect();
    {
        // As the app's own writers do: a deferred transaction that reads first
        // fails with "database is locked" on SQLite when a background writer
        // (sealer, indexer, audit batch) commits before its first write.
        let txn = mama::db::begin_write(&a.app.db).await.unwrap();
        for id in &ids {
            mama::users::service::create_user(
                &txn,
                &a.cipher,
                mama::users::service::NewUser {
                    user_id: id.clone(),
                    organisation: "org".into(),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        }
        txn.commit().await.unwrap();
    }
    // Flip one bit of one ciphertext.
    let victim = users(&a)
        .await
        .into_iter()
        .find(|u| u.user_id == "u0500")
        .unwrap();
    let (head, body) = victim.key_ciphertext.rsplit_once(':').unwrap();
    let mut raw = STANDARD.decode(body).unwrap();
    raw[20] ^= 1;
    let bad = format!("{head}:{}", STANDARD.encode(raw));
    a.app
        .sql(&format!(
            "UPDATE users SET key_ciphertext = '{bad}' WHERE user_id = 'u0500'"
        ))
        .await;
    let (_, token) = a.client(&[Scope::KeysRead], None).await;
    let body = lookup(&a, &token, &ids).await;
    assert_eq!(body["users"].as_array().unwrap().len(), 999);
    assert_eq!(body["not_found"], json!([]));
    assert_eq!(body["errors"].as_array().unwrap().len(), 1);
    assert_eq!(body["errors"][0]["user_id"], "u0500");
    assert!(
        ["DECRYPTION_FAILED", "MALFORMED_CIPHERTEXT"]
            .contains(&body["errors"][0]["code"].as_str().unwrap()),
        "{}",
        body["errors"]
    );
    assert!(
        body["users"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["user_id"] != "u0500" && u["key"].as_str().unwrap().starts_with("sk-"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_the_errors_list_of_a_lookup() {
    let a = spawn_api_app(|_| {}).await;
    let doc: Value = a
        .get(None, "/api/v1/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    let schema = &doc["components"]["schemas"]["LookupResponse"];
    assert!(schema["properties"]["errors"].is_object(), "{schema}");
    assert!(
        doc["components"]["schemas"]["LookupError"]["properties"]["code"].is_object(),
        "{}",
        doc["components"]["schemas"]
    );
}

/// Runs the `mama` binary with encryption key `current` (and `old`) on `url`.
fn mama_cmd(url: &str, current: u8, old: &[u8], args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mama"));
    let olds: Vec<String> = old.iter().map(|b| STANDARD.encode([*b; 32])).collect();
    c.args(args)
        .env("DATABASE_URL", url)
        .env("MAMA_SECRET_KEY", STANDARD.encode([7u8; 64]))
        .env("MAMA_ENCRYPTION_KEY", STANDARD.encode([current; 32]))
        .env("MAMA_ENCRYPTION_KEYS_OLD", olds.join(","))
        .env(
            "MAMA_AUDIT_KEY",
            STANDARD.encode(mama::config::TEST_AUDIT_KEY),
        )
        .env(
            "MAMA_AUDIT_SIGNING_KEY",
            STANDARD.encode(mama::config::TEST_AUDIT_SIGNING_KEY),
        )
        .env("MAMA_AUDIT_CHECKPOINT_FILE", "off")
        .env("RUST_LOG", "warn")
        .current_dir(std::env::temp_dir());
    c
}

/// Runs a command off the test's runtime: the app under test lives on that
/// runtime, and blocking it mid-transaction would hold the database's lock.
async fn output(mut c: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

/// The legacy format: base64(nonce ‖ AES-256-GCM(key)) with no key id and no
/// associated data, as the previous mama wrote it.
fn legacy_ciphertext(k: u8, plain: &str) -> String {
    use aes_gcm::{
        Aes256Gcm, Nonce,
        aead::{Aead, Generate, KeyInit},
    };
    let c = Aes256Gcm::new_from_slice(&[k; 32]).unwrap();
    let nonce = Nonce::generate();
    let mut out = nonce.to_vec();
    out.extend_from_slice(&c.encrypt(&nonce, plain.as_bytes()).unwrap());
    STANDARD.encode(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reencrypt_killed_halfway_and_resumed_leaves_every_row_on_the_new_key() {
    let url = fresh_database().await;
    let old = api_app_on(&url, 1, &[]).await;
    let out = output(mama_cmd(
        &url,
        1,
        &[],
        &["users", "seed", "--count", "1000", "--prefix", "rk"],
    ))
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every key as it is now, and 50 rows turned back into the legacy format.
    let rows = users(&old).await;
    assert_eq!(rows.len(), 1000);
    let expected: HashMap<String, String> = rows
        .iter()
        .map(|r| (r.user_id.clone(), old.cipher.decrypt_row(&rows, &r.user_id)))
        .collect();
    for r in rows.iter().step_by(20) {
        old.app
            .sql(&format!(
                "UPDATE users SET key_ciphertext = '{}' WHERE id = {}",
                legacy_ciphertext(1, &expected[&r.user_id]),
                r.id
            ))
            .await;
    }
    let new_id = KeyCipher::new(&key(2)).current_key_id().to_string();
    let on_new = |rows: &[user::Model]| {
        rows.iter()
            .filter(|r| KeyCipher::key_id_of(&r.key_ciphertext) == Some(new_id.as_str()))
            .count()
    };

    // Start, and kill -9 once a few hundred rows have moved.
    let mut cmd = mama_cmd(
        &url,
        2,
        &[1],
        &["keys", "reencrypt", "--batch", "25", "--pause-ms", "40"],
    );
    let seen = tokio::task::spawn_blocking(move || {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = vec![];
        loop {
            let line = lines
                .next()
                .expect("reencrypt ended before it was killed")
                .unwrap();
            seen.push(line.clone());
            // "reencrypt: 300 / 1000 rows moved to key …"
            let moved: u64 = line
                .strip_prefix("reencrypt: ")
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            if moved >= 300 {
                break;
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        seen
    })
    .await
    .unwrap();
    assert!(seen[0].contains("/ 1000 rows moved to key"), "{seen:?}");
    let halfway = on_new(&users(&old).await);
    assert!(
        (300..1000).contains(&halfway),
        "killed halfway: {halfway} rows on the new key"
    );

    // Resume: the rest moves, nothing moves twice, nothing fails.
    let out = output(mama_cmd(
        &url,
        2,
        &[1],
        &["keys", "reencrypt", "--batch", "100"],
    ))
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!(
            "reencrypt done: {} moved, 0 failed, 0 left",
            1000 - halfway
        )),
        "{text}"
    );
    let rows = users(&old).await;
    assert_eq!(on_new(&rows), 1000);
    let out = output(mama_cmd(&url, 2, &[], &["keys", "status"])).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 rows not on it"));

    // mama with only the new key answers every lookup correctly.
    let new = api_app_on(&url, 2, &[]).await;
    let (_, token) = new.client(&[Scope::KeysRead], None).await;
    let ids: Vec<String> = rows.iter().map(|r| r.user_id.clone()).collect();
    let body = lookup(&new, &token, &ids).await;
    assert_eq!(body["errors"], json!([]));
    let got = body["users"].as_array().unwrap();
    assert_eq!(got.len(), 1000);
    for u in got {
        let id = u["user_id"].as_str().unwrap();
        assert_eq!(u["key"].as_str().unwrap(), expected[id], "{id}");
    }
    // Every batch was audited, and the events never hold a key.
    let events: Vec<_> = new
        .app
        .events()
        .await
        .into_iter()
        .filter(|e| e.action == "keys.reencrypt")
        .collect();
    let moved: u64 = events
        .iter()
        .map(|e| {
            serde_json::from_str::<Value>(&e.details).unwrap()["moved"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(moved, 1000);
    assert!(events.iter().all(|e| !e.details.contains("sk-")));
}
