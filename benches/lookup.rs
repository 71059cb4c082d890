//! Benchmark of `POST /api/v1/keys/lookup` (not a test; results go in the README).
//!
//! ```text
//! cargo bench --bench lookup                                   # SQLite
//! MAMA_BENCH_DATABASE_URL=postgres://…/db cargo bench --bench lookup
//! ```
//! Loads `BENCH_USERS` (100,000) users, then drives the lookup with 100 IDs per
//! request from a loopback load generator at rising concurrency (every call
//! audited), and prints p50/p99 and requests/s. In the same run it measures the
//! raw database time of the same two selects plus one audit event committed on
//! its own (what the group-commit writer does for a lone request: one event row
//! whose `targets` column carries the 100 IDs as JSON; the target index
//! is written later by the background indexer, off the request), and LiteLLM's
//! nearest equivalent — one `GET /key/list?user_id=…` per user for the same 100
//! users — against the peer at `MAMA_TEST_LITELLM_URL` (default 127.0.0.1:4010).
use std::time::{Duration, Instant};

use mama::{
    api_clients::{Scope, service as clients},
    audit::{self, Action, Actor, Event, Outcome},
    config::Settings,
    crypto::KeyCipher,
    entities::{service, user, user_model, user_service},
    litellm::keys,
    startup::Application,
};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, Database, EntityTrait, Statement, TransactionTrait,
};
use secrecy::ExposeSecret;

fn env_or<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn fresh_db() -> String {
    let sfx = mama::crypto::random_base62(8).to_lowercase();
    match std::env::var("MAMA_BENCH_DATABASE_URL") {
        Ok(base) if base.starts_with("postgres") => {
            let admin = Database::connect(&base).await.unwrap();
            let name = format!("mama_bench_{sfx}");
            admin
                .execute_raw(Statement::from_string(
                    admin.get_database_backend(),
                    format!("CREATE DATABASE \"{name}\""),
                ))
                .await
                .unwrap();
            let (prefix, _) = base.rsplit_once('/').unwrap();
            format!("{prefix}/{name}")
        }
        _ => {
            let dir = std::env::temp_dir().join("mama-bench");
            std::fs::create_dir_all(&dir).unwrap();
            format!("sqlite://{}/{sfx}.db?mode=rwc", dir.display())
        }
    }
}

#[tokio::main]
async fn main() {
    let n_users: usize = env_or("BENCH_USERS", 100_000);
    let ids_per_req: usize = env_or("BENCH_IDS", 100);
    let secs: u64 = env_or("BENCH_SECS", 5);
    let levels: Vec<usize> = std::env::var("BENCH_CONCURRENCY")
        .unwrap_or_else(|_| "1,2,4,8,16,32".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let url = fresh_db().await;
    let backend = if url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let mut settings = Settings::for_tests(&url);
    settings.api_rate_limit_per_minute = 100_000_000;
    settings.db_max_connections = env_or("BENCH_DB_CONNECTIONS", 16);
    let cipher = KeyCipher::new(&settings.secrets.encryption_key);
    let app = Application::build(settings).await.unwrap();
    let addr = format!("http://127.0.0.1:{}", app.port());
    let db = app.db.clone();
    tokio::spawn(app.run_until_stopped());

    // ---- load users ----
    let t = Instant::now();
    let run = mama::crypto::random_base62(6).to_lowercase();
    let now = chrono::Utc::now();
    let svc = service::Entity::insert(service::ActiveModel {
        name: Set("bench-svc".into()),
        description: Set(String::new()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(&db)
    .await
    .unwrap()
    .last_insert_id;
    let user_ids: Vec<String> = (0..n_users).map(|i| format!("bench-{run}-{i}")).collect();
    let mut first_keys = vec![];
    for (b, chunk) in user_ids.chunks(1000).enumerate() {
        let txn = db.begin().await.unwrap();
        let rows: Vec<user::ActiveModel> = chunk
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let k = keys::generate();
                if b == 0 && i < ids_per_req {
                    first_keys.push(k.expose_secret().to_string());
                }
                let s = keys::seal(&cipher, id, &k);
                user::ActiveModel {
                    user_id: Set(id.clone()),
                    organisation: Set(format!("org-{}", i % 50)),
                    key_ciphertext: Set(s.ciphertext),
                    key_sha256: Set(s.sha256),
                    key_hint: Set(s.hint),
                    key_alias: Set(Some(format!("{id}-alias"))),
                    extra: Set(String::new()),
                    sync_state: Set("synced".into()),
                    sync_error: Set(None),
                    synced_at: Set(Some(now)),
                    version: Set(1),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
            })
            .collect();
        user::Entity::insert_many(rows).exec(&txn).await.unwrap();
        txn.commit().await.unwrap();
    }
    // Models and services by primary key (IDs are dense from the inserts above).
    let pks: Vec<i32> = user::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    for chunk in pks.chunks(2000) {
        let txn = db.begin().await.unwrap();
        user_model::Entity::insert_many(chunk.iter().flat_map(|&u| {
            ["gpt-4o", "claude-sonnet"].map(|m| user_model::ActiveModel {
                user_id: Set(u),
                model: Set(m.into()),
            })
        }))
        .exec(&txn)
        .await
        .unwrap();
        user_service::Entity::insert_many(chunk.iter().map(|&u| user_service::ActiveModel {
            user_id: Set(u),
            service_id: Set(svc),
        }))
        .exec(&txn)
        .await
        .unwrap();
        txn.commit().await.unwrap();
    }
    println!(
        "# {backend}: loaded {n_users} users (2 models, 1 service each) in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let (_, token) = clients::create_client(
        &db,
        clients::NewClient {
            name: format!("bench-{run}"),
            scopes: vec![Scope::KeysRead],
            rate_limit_per_minute: Some(10_000_000),
            created_by: None,
        },
    )
    .await
    .unwrap();
    let token = token.0;
    // Request bodies: 100 random distinct IDs each (a fixed, reproducible set).
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let first_ids: Vec<String> = user_ids[..ids_per_req].to_vec();
    let mut bodies = vec![serde_json::json!({"user_ids": first_ids}).to_string()];
    let mut id_sets = vec![first_ids.clone()];
    for _ in 0..255 {
        let ids: Vec<String> = (0..ids_per_req)
            .map(|_| user_ids[(rnd() % n_users as u64) as usize].clone())
            .collect();
        bodies.push(serde_json::json!({"user_ids": ids}).to_string());
        id_sets.push(ids);
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();

    // Warm up and check the answer.
    for b in bodies.iter().take(50) {
        let r = http
            .post(format!("{addr}/api/v1/keys/lookup"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(b.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r: serde_json::Value = http
        .post(format!("{addr}/api/v1/keys/lookup"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(bodies[0].clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["users"].as_array().unwrap().len(), ids_per_req);
    assert_eq!(r["users"][0]["key"], first_keys[0].as_str());

    // ---- raw database time: the same two selects + one event committed alone ----
    // Like the writer's batch of one: BEGIN IMMEDIATE, one event row (targets as
    // JSON in it, no index rows), COMMIT.
    let mut raw = vec![];
    for i in 0..300 {
        let ids = &id_sets[i % id_sets.len()];
        let t = Instant::now();
        let found = mama::api::queries::lookup(&db, ids).await.unwrap();
        assert!(!found.is_empty());
        let mut ev = Event::system("bench", Action::ApiKeysLookup, Outcome::Success);
        ev.actor = Actor::ApiClient {
            id: 1,
            name: "bench".into(),
        };
        ev.targets = ids.clone();
        ev.details = serde_json::json!({"requested": ids.len(), "found": found.len()});
        let txn = mama::db::begin_write(&db).await.unwrap();
        audit::insert(&txn, &ev).await.unwrap();
        txn.commit().await.unwrap();
        raw.push(t.elapsed());
    }
    raw.sort();
    let raw_p50 = pct(&raw, 0.5);
    println!(
        "raw DB (users, then models+services, for {ids_per_req} IDs; then 1 audit event carrying {ids_per_req} targets, committed alone): p50 {:.2} ms, p99 {:.2} ms",
        raw_p50,
        pct(&raw, 0.99)
    );

    // ---- the API at rising concurrency ----
    println!("| backend | concurrency | requests | req/s | p50 ms | p99 ms | p50 / raw DB |");
    println!("|---|---|---|---|---|---|---|");
    let bodies = std::sync::Arc::new(bodies);
    let mut c1_p50 = f64::NAN;
    for &c in &levels {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let start = Instant::now();
        let mut tasks = vec![];
        for w in 0..c {
            let (http, bodies, token, addr) =
                (http.clone(), bodies.clone(), token.clone(), addr.clone());
            tasks.push(tokio::spawn(async move {
                let mut lat = vec![];
                let mut i = w * 7;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let r = http
                        .post(format!("{addr}/api/v1/keys/lookup"))
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(bodies[i % bodies.len()].clone())
                        .send()
                        .await
                        .unwrap();
                    let ok = r.status() == 200;
                    let _ = r.bytes().await.unwrap();
                    assert!(ok, "non-200 under load");
                    lat.push(t.elapsed());
                    i += 1;
                }
                lat
            }));
        }
        let mut all = vec![];
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        let wall = start.elapsed().as_secs_f64();
        all.sort();
        let p50 = pct(&all, 0.5);
        if c == levels[0] {
            c1_p50 = p50;
        }
        println!(
            "| {backend} | {c} | {} | {:.0} | {:.2} | {:.2} | {:.1}× |",
            all.len(),
            all.len() as f64 / wall,
            p50,
            pct(&all, 0.99),
            p50 / raw_p50
        );
    }

    // ---- LiteLLM's nearest equivalent ----
    let base =
        std::env::var("MAMA_TEST_LITELLM_URL").unwrap_or_else(|_| "http://127.0.0.1:4010".into());
    let master =
        std::env::var("MAMA_TEST_LITELLM_MASTER_KEY").unwrap_or_else(|_| "sk-mama-master".into());
    let reachable = http
        .get(format!("{base}/health/liveliness"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success());
    if !reachable {
        println!("LiteLLM peer not reachable at {base}: comparison skipped");
        return;
    }
    for (id, key) in first_ids.iter().zip(&first_keys) {
        let r = http
            .post(format!("{base}/key/generate"))
            .bearer_auth(&master)
            .json(&serde_json::json!({"key": key, "user_id": id, "key_alias": format!("{id}-alias"), "models": ["gpt-4o"]}))
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "peer /key/generate: {}",
            r.status()
        );
    }
    let mut seq = vec![];
    let mut par = vec![];
    for _ in 0..3 {
        let t = Instant::now();
        for id in &first_ids {
            let r = http
                .get(format!("{base}/key/list"))
                .query(&[("user_id", id.as_str())])
                .bearer_auth(&master)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            let _ = r.bytes().await;
        }
        seq.push(t.elapsed());
        let t = Instant::now();
        let futs = first_ids.iter().map(|id| {
            let http = http.clone();
            let (base, master) = (base.clone(), master.clone());
            let id = id.clone();
            async move {
                let r = http
                    .get(format!("{base}/key/list"))
                    .query(&[("user_id", id.as_str())])
                    .bearer_auth(&master)
                    .send()
                    .await
                    .unwrap();
                let _ = r.bytes().await;
            }
        });
        // 16 at a time, like a client with a modest connection pool.
        use futures_util::StreamExt;
        futures_util::stream::iter(futs)
            .buffer_unordered(16)
            .collect::<Vec<_>>()
            .await;
        par.push(t.elapsed());
    }
    seq.sort();
    par.sort();
    let (seq_ms, par_ms) = (pct(&seq, 0.5), pct(&par, 0.5));
    println!(
        "LiteLLM: {ids_per_req} × GET /key/list?user_id=… (no key in the answer): sequential {seq_ms:.1} ms, 16 concurrent {par_ms:.1} ms"
    );
    println!(
        "ratio: LiteLLM sequential / mama p50 = {:.0}×; LiteLLM 16-concurrent / mama p50 = {:.0}× (mama p50 at concurrency {} = {c1_p50:.2} ms)",
        seq_ms / c1_p50,
        par_ms / c1_p50,
        levels[0]
    );
    let r = http
        .post(format!("{base}/key/delete"))
        .bearer_auth(&master)
        .json(&serde_json::json!({"keys": first_keys}))
        .send()
        .await
        .unwrap();
    println!("# cleaned up the peer's bench keys: {}", r.status());
}
