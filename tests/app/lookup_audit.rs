//! The audited hot path: group commit stays fail-closed under load and across a
//! `kill -9`, "who read user X" stays exact while the target index lags, query
//! strings are redacted, and compression only where it pays.
use std::{
    collections::HashSet,
    io::Read,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use base64::Engine;
use mama::{
    api_clients::Scope,
    audit::{chain, indexer},
    entities::audit_event,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::{
    api::{ApiApp, spawn_api_app},
    helpers::{rand_suffix, request_id, spawn_app_on},
};

/// Rate limit of the test clients: effectively none.
const NO_LIMIT: Option<i32> = Some(10_000_000);

async fn users(a: &ApiApp, n: usize) -> (Vec<String>, Vec<String>) {
    let sfx = rand_suffix();
    let mut ids = vec![];
    let mut keys = vec![];
    for i in 0..n {
        let id = format!("hot-{sfx}-{i}");
        a.user(&id, &["m"], &[]).await;
        keys.push(a.key_of(&id).await);
        ids.push(id);
    }
    (ids, keys)
}

/// One finished call: status, request ID, body.
type Call = (u16, String, String);

/// `clients` concurrent keep-alive clients looking up `ids` at `url` until `stop`;
/// `counts` holds the number of 200s and of 503s so far.
fn hammer(
    url: String,
    token: String,
    ids: Vec<String>,
    clients: usize,
    stop: Arc<AtomicBool>,
    counts: Arc<[AtomicUsize; 2]>,
) -> Vec<tokio::task::JoinHandle<Vec<Call>>> {
    (0..clients)
        .map(|_| {
            let (url, token, ids, stop, counts) = (
                url.clone(),
                token.clone(),
                ids.clone(),
                stop.clone(),
                counts.clone(),
            );
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut calls = vec![];
                while !stop.load(Ordering::Relaxed) {
                    let r = http
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&json!({ "user_ids": ids }))
                        .send()
                        .await;
                    match r {
                        Ok(r) => {
                            let status = r.status().as_u16();
                            match status {
                                200 => counts[0].fetch_add(1, Ordering::Relaxed),
                                503 => counts[1].fetch_add(1, Ordering::Relaxed),
                                _ => 0,
                            };
                            // actix answers an overloaded server's unread request
                            // itself (408), before mama's middleware: no request ID.
                            let rid = r
                                .headers()
                                .get("x-request-id")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_string();
                            assert!(
                                status != 200 || !rid.is_empty(),
                                "a 200 without X-Request-Id"
                            );
                            let body = r.text().await.unwrap_or_default();
                            calls.push((status, rid, body));
                        }
                        // The server is gone (killed): nothing was answered.
                        Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                    }
                }
                calls
            })
        })
        .collect()
}

async fn collect(handles: Vec<tokio::task::JoinHandle<Vec<Call>>>) -> Vec<Call> {
    let mut all = vec![];
    for h in handles {
        all.extend(h.await.unwrap());
    }
    all
}

async fn lookup_request_ids(db: &sea_orm::DatabaseConnection) -> HashSet<String> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("api.keys.lookup"))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.request_id)
        .collect()
}

async fn metric(a: &ApiApp, name: &str) -> f64 {
    let text = a.get(None, "/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} missing in /metrics:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_audit_store_fails_mid_run_every_200_has_its_event_and_every_other_call_got_503_without_a_key()
 {
    let a = spawn_api_app(|_| {}).await;
    let (ids, keys) = users(&a, 20).await;
    let (_, token) = a.client(&[Scope::KeysRead], NO_LIMIT).await;
    let stop = Arc::new(AtomicBool::new(false));
    let url = format!("{}/api/v1/keys/lookup", a.app.addr);
    let counts = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let handles = hammer(url, token, ids, 16, stop.clone(), counts.clone());
    let until = |i: usize, n: usize| {
        let counts = counts.clone();
        async move {
            for _ in 0..3000 {
                if counts[i].load(Ordering::Relaxed) >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("never reached {n} calls of kind {i}");
        }
    };
    until(0, 50).await;
    a.app.break_audit_store().await;
    until(1, 20).await;
    a.app.restore_audit_store().await;
    let answered_before = counts[0].load(Ordering::Relaxed);
    until(0, answered_before + 50).await;
    stop.store(true, Ordering::Relaxed);
    let calls = collect(handles).await;

    let stored = lookup_request_ids(&a.app.db).await;
    let (mut ok, mut refused) = (0, 0);
    for (status, rid, body) in &calls {
        match status {
            200 => {
                ok += 1;
                assert!(stored.contains(rid), "a 200 without its event: {rid}");
                assert!(keys.iter().all(|k| body.contains(k.as_str())));
            }
            503 => {
                refused += 1;
                assert!(!stored.contains(rid), "a 503 whose event was stored: {rid}");
                assert!(
                    keys.iter().all(|k| !body.contains(k.as_str())),
                    "a 503 carried a key"
                );
                assert!(body.contains("SERVICE_UNAVAILABLE"), "{body}");
            }
            s => panic!("unexpected status {s}: {body}"),
        }
    }
    assert!(
        ok >= 100 && refused >= 20,
        "{ok} answered, {refused} refused"
    );
    // Every stored lookup event was answered 200 (none stored and then refused).
    let answered: HashSet<&String> = calls.iter().filter(|c| c.0 == 200).map(|c| &c.1).collect();
    assert_eq!(answered.len(), stored.len());
    // Concurrent events were committed together.
    let batches = metric(&a, "mama_audit_batches_total").await;
    let events = metric(&a, "mama_audit_batched_events_total").await;
    assert!(metric(&a, "mama_audit_failed_batches_total").await >= 1.0);
    assert!(
        events > batches && metric(&a, "mama_audit_largest_batch").await > 1.0,
        "{events} events in {batches} batches"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn mama_cmd(database_url: &str) -> std::process::Command {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mama"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("MAMA_SECRET_KEY", b64.encode([7u8; 64]))
        .env("MAMA_ENCRYPTION_KEY", b64.encode([9u8; 32]))
        .env("MAMA_AUDIT_KEY", b64.encode(mama::config::TEST_AUDIT_KEY))
        .env(
            "MAMA_AUDIT_SIGNING_KEY",
            b64.encode(mama::config::TEST_AUDIT_SIGNING_KEY),
        )
        .env("MAMA_AUDIT_CHECKPOINT_FILE", "off")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    cmd
}

async fn start_mama(database_url: &str) -> (std::process::Child, String) {
    let port = free_port();
    let mut child = mama_cmd(database_url)
        .env("MAMA_BIND", format!("127.0.0.1:{port}"))
        .spawn()
        .expect("start mama");
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..600 {
        if reqwest::get(format!("{base}/healthz")).await.is_ok() {
            return (child, base);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("mama did not start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_kill_9_under_lookup_load_every_request_that_got_a_200_is_in_the_audit_trail() {
    let a = spawn_api_app(|s| {
        s.secrets.encryption_key = secrecy::SecretBox::new(Box::new([9u8; 32]));
    })
    .await;
    let (ids, _) = users(&a, 20).await;
    let (_, token) = a.client(&[Scope::KeysRead], NO_LIMIT).await;
    let (mut child, base) = start_mama(&a.app.database_url).await;
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let handles = hammer(
        format!("{base}/api/v1/keys/lookup"),
        token.clone(),
        ids.clone(),
        16,
        stop.clone(),
        counts.clone(),
    );
    // Kill it mid-load, once it has answered a good number of calls.
    let mut waited = 0;
    while counts[0].load(Ordering::Relaxed) < 100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += 1;
        assert!(waited < 3000, "the child answered too few calls");
    }
    child.kill().unwrap(); // SIGKILL, mid-load
    child.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let calls = collect(handles).await;
    let answered: Vec<&String> = calls.iter().filter(|c| c.0 == 200).map(|c| &c.1).collect();
    assert!(answered.len() >= 100, "only {} answered", answered.len());
    assert!(
        calls.iter().all(|c| c.0 == 200),
        "only 200s before the kill"
    );

    // Restart on the same database: every answered request is in the trail.
    let (mut child, base) = start_mama(&a.app.database_url).await;
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/keys/lookup"))
        .bearer_auth(&token)
        .json(&json!({ "user_ids": ids }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let stored = lookup_request_ids(&a.app.db).await;
    for rid in &answered {
        assert!(stored.contains(*rid), "answered 200 but not audited: {rid}");
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let out = mama_cmd(&a.app.database_url)
        .args(["audit", "verify"])
        .stdout(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

async fn events_of(a: &ApiApp, token: &str, user: &str) -> Vec<String> {
    let r = a
        .get(Some(token), &format!("/api/v1/audit/events?user_id={user}"))
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["request_id"].as_str().unwrap().to_string())
        .collect()
}

async fn index_rows(a: &ApiApp, user: &str) -> usize {
    indexer::indexed_events(&a.app.db, user)
        .await
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_read_a_user_is_exact_while_the_target_index_lags_and_after_restarts() {
    // This instance's indexer sleeps for an hour after its first pass.
    let a = spawn_api_app(|s| {
        s.audit_index_interval = Duration::from_secs(3600);
        s.audit_seal_interval = Duration::from_millis(50);
    })
    .await;
    let (ids, _) = users(&a, 3).await;
    let (_, token) = a
        .client(&[Scope::KeysRead, Scope::AuditRead], NO_LIMIT)
        .await;
    let x = &ids[0];
    let r = a.lookup(&token, json!({ "user_ids": [x, &ids[1]] })).await;
    assert_eq!(r.status(), 200);
    let first = request_id(&r);
    // Read at once: the event is not sealed, let alone indexed, and is found.
    assert_eq!(events_of(&a, &token, x).await, vec![first.clone()]);
    assert_eq!(index_rows(&a, x).await, 0, "found through the tail");
    assert!(indexer::lag(&a.app.db).await.unwrap() > 0);
    // Sealed but above the watermark: still found.
    chain::seal_all(&a.app.db, &crate::audit_chain::keys())
        .await
        .unwrap();
    assert_eq!(events_of(&a, &token, x).await, vec![first.clone()]);
    assert_eq!(index_rows(&a, x).await, 0);
    // Indexed (in a large sorted batch): found once, not twice.
    while indexer::index_pending(&a.app.db, 1000, 100_000)
        .await
        .unwrap()
        > 0
    {}
    assert_eq!(index_rows(&a, x).await, 1);
    assert_eq!(events_of(&a, &token, x).await, vec![first.clone()]);
    // Users nobody asked for have no events; another user's are theirs.
    assert!(events_of(&a, &token, &ids[2]).await.is_empty());
    assert_eq!(events_of(&a, &token, &ids[1]).await, vec![first.clone()]);

    let r = a.lookup(&token, json!({ "user_ids": [x] })).await;
    let second = request_id(&r);
    assert_eq!(
        events_of(&a, &token, x).await,
        vec![second.clone(), first.clone()]
    );

    // A second instance (a restart) resumes from the stored watermark and catches up.
    let b = spawn_app_on(&a.app.database_url, |s| {
        s.audit_seal_interval = Duration::from_millis(50);
        s.audit_index_interval = Duration::from_millis(50);
    })
    .await;
    let mut waited = 0;
    while index_rows(&a, x).await < 2 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
        assert!(waited < 400, "the restarted indexer never caught up");
    }
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/audit/events?user_id={x}", b.addr))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    let seen: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(seen, vec![second.as_str(), first.as_str()]);
    let mark = indexer::indexed_seq(&a.app.db).await.unwrap();
    assert!(mark > 0);
    // The lag is published.
    let text = a.get(None, "/metrics").await.text().await.unwrap();
    assert!(text.contains("mama_audit_index_lag_events "), "{text}");
    let report = chain::verify(&a.app.db, &crate::audit_chain::keys())
        .await
        .unwrap();
    assert!(report.ok, "{}", report.summary());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_the_query_string_of_an_audited_path_are_stored_redacted() {
    let a = spawn_api_app(|_| {}).await;
    let sa = a.app.super_admin().await;
    let r = sa
        .get("/users?q=ab&csrf_token=SEKRIT1&api_key=SEKRIT2&Code=SEKRIT3&password=SEKRIT4&x-token-id=SEKRIT5&sort=user_id")
        .await;
    let rid = request_id(&r);
    let ev = a.app.event_for(&rid).await;
    let path = ev.path.unwrap();
    assert!(!path.contains("SEKRIT"), "{path}");
    for p in [
        "q=ab",
        "csrf_token=[redacted]",
        "api_key=[redacted]",
        "Code=[redacted]",
        "password=[redacted]",
        "x-token-id=[redacted]",
        "sort=user_id",
    ] {
        assert!(path.contains(p), "{p} in {path}");
    }
}

fn gunzip(bytes: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut out)
        .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_answers_are_gzipped_in_one_piece_for_clients_that_ask_and_small_ones_are_not() {
    let a = spawn_api_app(|_| {}).await;
    let (ids, keys) = users(&a, 40).await;
    let (_, token) = a.client(&[Scope::KeysRead], NO_LIMIT).await;
    let url = format!("{}/api/v1/keys/lookup", a.app.addr);
    let send = |ids: Vec<String>, enc: &'static str| {
        a.http
            .post(&url)
            .bearer_auth(&token)
            .header("accept-encoding", enc)
            .json(&json!({ "user_ids": ids }))
            .send()
    };
    // Both go out under their Content-Length, not chunked; uncompressed, the
    // answer is `LookupBody`, written after the event was stored.
    for (enc, encoding) in [("gzip, deflate", Some("gzip")), ("identity", None)] {
        let r = send(ids.clone(), enc).await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap()),
            encoding
        );
        assert!(
            r.headers().get("transfer-encoding").is_none(),
            "not chunked"
        );
        let len: usize = r.headers()["content-length"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let bytes = r.bytes().await.unwrap();
        assert_eq!(bytes.len(), len);
        let body: Value = match encoding {
            Some(_) => serde_json::from_str(&gunzip(&bytes)).unwrap(),
            None => serde_json::from_slice(&bytes).unwrap(),
        };
        assert_eq!(body["users"].as_array().unwrap().len(), 40);
        assert!(keys.iter().all(|k| body.to_string().contains(k.as_str())));
    }

    // Below the threshold: as is.
    let r = send(vec!["nobody".into()], "gzip, deflate").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("content-encoding").is_none());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["not_found"], json!(["nobody"]));
}

async fn look(a: &ApiApp, token: &str, ids: &[&str]) -> Value {
    let r = a.lookup(token, json!({ "user_ids": ids })).await;
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()
}

/// Waits (at most 20 s) until the lookup cache holds `n` answers.
async fn cache_holds(a: &ApiApp, n: usize) {
    let filled = async {
        while metric(a, "mama_lookup_cache_entries").await < n as f64 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), filled)
        .await
        .unwrap_or_else(|_| panic!("the preloader filled the cache with {n} answers"));
}

#[tokio::test]
async fn the_lookup_cache_is_filled_ahead_of_the_lookups_and_again_after_a_change() {
    let a = spawn_api_app(|s| s.lookup_cache_preload = Some(Duration::from_secs(1))).await;
    let sfx = rand_suffix();
    let ids: Vec<String> = (0..30).map(|i| format!("pre-{i}-{sfx}")).collect();
    for id in &ids {
        a.user(id, &["gpt-4o"], &[]).await;
    }
    let (_, token) = a.client(&[Scope::KeysRead], NO_LIMIT).await;
    // One lookup sees the counter the creations moved: it empties the cache,
    // which wakes the preloader; nobody asks for the other 29.
    look(&a, &token, &[&ids[0]]).await;
    cache_holds(&a, ids.len()).await;
    let (hits, misses) = (
        metric(&a, "mama_lookup_cache_hits_total").await,
        metric(&a, "mama_lookup_cache_misses_total").await,
    );
    let rest: Vec<&str> = ids[1..].iter().map(String::as_str).collect();
    let answer = look(&a, &token, &rest).await;
    assert_eq!(answer["users"].as_array().unwrap().len(), rest.len());
    assert_eq!(answer["users"][3]["key"], a.key_of(rest[3]).await.as_str());
    assert_eq!(
        metric(&a, "mama_lookup_cache_hits_total").await - hits,
        rest.len() as f64
    );
    assert_eq!(metric(&a, "mama_lookup_cache_misses_total").await, misses);

    // A change behind the instance's back: the next lookup reads it (the cache
    // empties), and the preloader fills the cache again at the new counter.
    a.app
        .sql(&format!(
            "UPDATE users SET organisation = 'moved' WHERE user_id = '{}'",
            ids[5]
        ))
        .await;
    let moved = look(&a, &token, &[&ids[5]]).await;
    assert_eq!(moved["users"][0]["organisation"], "moved");
    cache_holds(&a, ids.len()).await;
    let misses = metric(&a, "mama_lookup_cache_misses_total").await;
    let again = look(&a, &token, &[&ids[5], &ids[9]]).await;
    assert_eq!(again["users"][0]["organisation"], "moved");
    assert_eq!(metric(&a, "mama_lookup_cache_misses_total").await, misses);
}

/// The lookup cache never answers what the database no longer holds: every
/// change made behind the instance's back (raw SQL here, as another instance,
/// the CLI or an operator would) is seen by the next call, in each table the
/// answer reads; and an instance without the cache answers the same.
#[tokio::test]
async fn the_lookup_cache_answers_from_memory_but_never_what_the_database_changed() {
    // The second instance below shares these (the same deployment).
    let mut keys = None;
    let a = spawn_api_app(|s| {
        let k = |b: &secrecy::SecretBox<[u8; 32]>| *b.expose_secret();
        keys = Some([
            k(&s.secrets.encryption_key),
            k(&s.secrets.audit_key),
            k(&s.secrets.audit_signing_key),
        ]);
    })
    .await;
    let sfx = rand_suffix();
    let (alice, bob) = (format!("alice-{sfx}"), format!("bob-{sfx}"));
    let svc = format!("svc-{sfx}");
    a.service(&svc).await;
    a.user(&alice, &["gpt-4o"], &[&svc]).await;
    a.user(&bob, &[], &[]).await;
    let (_, token) = a.client(&[Scope::KeysRead], NO_LIMIT).await;
    let first = look(&a, &token, &[&alice, &bob]).await;
    let hits = metric(&a, "mama_lookup_cache_hits_total").await;
    let again = look(&a, &token, &[&alice, &bob]).await;
    assert_eq!(again, first, "a cached answer is the answer");
    assert_eq!(
        metric(&a, "mama_lookup_cache_hits_total").await - hits,
        2.0,
        "the second call was answered from memory"
    );
    assert_eq!(first["users"][0]["key"], a.key_of(&alice).await.as_str());

    let q = |s: &str| s.replace('\'', "''");
    // users
    a.app
        .sql(&format!(
            "UPDATE users SET organisation = 'moved', max_budget = 7.5 WHERE user_id = '{}'",
            q(&alice)
        ))
        .await;
    let u = look(&a, &token, &[&alice]).await;
    assert_eq!(u["users"][0]["organisation"], "moved");
    assert_eq!(u["users"][0]["max_budget"], 7.5);
    // user_models
    a.app
        .sql(&format!(
            "INSERT INTO user_models (user_id, model) SELECT id, 'claude' FROM users WHERE user_id = '{}'",
            q(&alice)
        ))
        .await;
    assert_eq!(
        look(&a, &token, &[&alice]).await["users"][0]["models"],
        json!(["claude", "gpt-4o"])
    );
    // services (a rename) and user_services (a removal)
    a.app
        .sql(&format!(
            "UPDATE services SET name = '{}-renamed' WHERE name = '{}'",
            q(&svc),
            q(&svc)
        ))
        .await;
    assert_eq!(
        look(&a, &token, &[&alice]).await["users"][0]["services"],
        json!([format!("{svc}-renamed")])
    );
    a.app.sql("DELETE FROM user_services").await;
    assert_eq!(
        look(&a, &token, &[&alice]).await["users"][0]["services"],
        json!([])
    );
    // a deleted user
    a.app
        .sql(&format!("DELETE FROM users WHERE user_id = '{}'", q(&bob)))
        .await;
    let gone = look(&a, &token, &[&alice, &bob]).await;
    assert_eq!(gone["not_found"], json!([bob]));
    assert!(metric(&a, "mama_lookup_cache_resets_total").await >= 5.0);

    // The same answers without the cache, on the same database.
    let b = spawn_app_on(&a.app.database_url, |s| {
        let [enc, audit, signing] = keys.unwrap();
        let k = |b: [u8; 32]| secrecy::SecretBox::new(Box::new(b));
        s.secrets.encryption_key = k(enc);
        s.secrets.audit_key = k(audit);
        s.secrets.audit_signing_key = k(signing);
        s.lookup_cache_users = 0;
    })
    .await;
    let r = a
        .http
        .post(format!("{}/api/v1/keys/lookup", b.addr))
        .bearer_auth(&token)
        .json(&json!({ "user_ids": [&alice, &bob] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let uncached: Value = r.json().await.unwrap();
    let cached = look(&a, &token, &[&alice, &bob]).await;
    assert_eq!(uncached, cached);
}
