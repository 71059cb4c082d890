//! Several real `mama` processes on one database: graceful shutdown (SIGTERM) and
//! the per-client rate limit shared by every instance.
use std::{
    io::{Read, Write},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use base64::Engine;
use futures_util::future::join_all;
use mama::{
    api_clients::{
        Scope,
        service::{NewClient, create_client},
    },
    entities::sync_job,
};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::helpers::{fresh_database_url, rand_suffix};

/// Secrets every instance of one deployment shares.
pub struct Deployment {
    pub database_url: String,
    secret_key: String,
    encryption_key: String,
}

impl Deployment {
    pub fn new(database_url: &str) -> Self {
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        Deployment {
            database_url: database_url.to_string(),
            secret_key: b64(&mama::config::random_bytes::<64>()),
            encryption_key: b64(&mama::config::random_bytes::<32>()),
        }
    }

    /// The environment of one instance (its own port), plus `extra`.
    pub fn command(&self, port: u16, extra: &[(&str, String)]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mama"));
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &self.database_url)
            .env("MAMA_BIND", format!("127.0.0.1:{port}"))
            .env("MAMA_SECRET_KEY", &self.secret_key)
            .env("MAMA_ENCRYPTION_KEY", &self.encryption_key)
            .env("MAMA_AUDIT_CHECKPOINT_FILE", "off")
            .env("MAMA_ANONYMOUS_RATE_PER_MINUTE", "1000000")
            .env("RUST_LOG", "info,sqlx=warn,sea_orm=warn")
            .env("NO_COLOR", "1")
            .current_dir(std::env::temp_dir());
        for (k, v) in extra {
            c.env(k, v);
        }
        c
    }

    /// Starts an instance and waits for `/healthz`.
    pub async fn start(&self, extra: &[(&str, String)]) -> Instance {
        self.start_on(free_port(), extra).await
    }

    /// Starts an instance on `port` (a restart keeps its address).
    pub async fn start_on(&self, port: u16, extra: &[(&str, String)]) -> Instance {
        let dir = std::env::temp_dir().join("mama-tests");
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join(format!("instance-{port}-{}.log", rand_suffix()));
        let child = self
            .command(port, extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start mama");
        let inst = Instance {
            child: Some(child),
            port,
            addr: format!("http://127.0.0.1:{port}"),
            log,
        };
        inst.wait_healthy(Duration::from_secs(60)).await;
        inst
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `mama` process; killed when dropped.
pub struct Instance {
    child: Option<std::process::Child>,
    pub port: u16,
    pub addr: String,
    pub log: std::path::PathBuf,
}

impl Instance {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub async fn wait_healthy(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(r) = reqwest::get(format!("{}/healthz", self.addr)).await
                && r.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "mama on port {} did not answer /healthz; its log:\n{}",
            self.port,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// Sends `signal` (`TERM`, `KILL`, …) to the process.
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{signal} {}", self.pid());
    }

    /// Waits for the process to exit; `None` when it did not within `within`.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(s) = self.child.as_mut().expect("running").try_wait().unwrap() {
                self.child = None;
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub async fn api_token(
    db: &DatabaseConnection,
    scopes: &[Scope],
    per_minute: Option<i32>,
) -> String {
    create_client(
        db,
        NewClient {
            name: format!("client-{}", rand_suffix()),
            scopes: scopes.to_vec(),
            rate_limit_per_minute: per_minute,
            created_by: Some("test".into()),
        },
    )
    .await
    .unwrap()
    .1
    .0
}

/// A "LiteLLM" that accepts connections and never answers: every call hangs
/// until the client's timeout.
async fn silent_peer() -> (String, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = vec![];
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    (url, task)
}

#[tokio::test]
async fn sigterm_answers_the_requests_in_flight_releases_the_sync_leases_and_exits_0_in_time() {
    let database_url = fresh_database_url().await;
    let deployment = Deployment::new(&database_url);
    let (peer, peer_task) = silent_peer().await;
    let bound = Duration::from_secs(6);
    let mut inst = deployment
        .start(&[
            ("LITELLM_BASE_URL", peer),
            ("LITELLM_MASTER_KEY", "sk-test-master".into()),
            ("LITELLM_TIMEOUT_SECS", "120".into()),
            ("LITELLM_SYNC_POLL_MS", "50".into()),
            ("MAMA_SHUTDOWN_TIMEOUT_SECONDS", bound.as_secs().to_string()),
        ])
        .await;
    let db = sea_orm::Database::connect(&database_url).await.unwrap();
    let token = api_token(&db, &[Scope::KeysRead, Scope::UsersWrite], None).await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let users: Vec<String> = (0..4).map(|i| format!("sd-{i}")).collect();
    let r = http
        .post(format!("{}/api/v1/users", inst.addr))
        .bearer_auth(&token)
        .json(&json!({"users": users.iter().map(|u| json!({"user_id": u, "models": ["m"]})).collect::<Vec<_>>()}))
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "{}: {}",
        r.status(),
        r.text().await.unwrap()
    );
    // The worker claims the jobs and hangs on the silent peer.
    let running = || {
        sync_job::Entity::find()
            .filter(sync_job::Column::State.eq("running"))
            .count(&db)
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while running().await.unwrap() < users.len() as u64 {
        assert!(Instant::now() < deadline, "the worker claimed the jobs");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A lookup in flight when the signal comes: headers and half its body sent.
    let body = json!({"user_ids": users}).to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let mut raw = std::net::TcpStream::connect(("127.0.0.1", inst.port)).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        raw,
        "POST /api/v1/keys/lookup HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
        body.len()
    )
    .unwrap();
    raw.flush().unwrap();
    // Lookups on fresh connections go on meanwhile.
    let addr = inst.addr.clone();
    let load = {
        let (http, token, body) = (http.clone(), token.clone(), body.clone());
        tokio::spawn(async move {
            let calls = (0..40).map(|i| {
                let (http, token, body, addr) =
                    (http.clone(), token.clone(), body.clone(), addr.clone());
                async move {
                    tokio::time::sleep(Duration::from_millis(i * 10)).await;
                    match http
                        .post(format!("{addr}/api/v1/keys/lookup"))
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                    {
                        Ok(r) => Ok(r.status().as_u16()),
                        Err(e) => Err(format!("connect: {}, {e:?}", e.is_connect())),
                    }
                }
            });
            join_all(calls).await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    inst.signal("TERM");
    let signalled = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    raw.write_all(tail.as_bytes()).unwrap();
    let mut answer = String::new();
    raw.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "the lookup in flight was answered: {answer}"
    );
    assert!(answer.contains("sd-3"), "{answer}");
    let status = inst.wait_exit(bound + Duration::from_secs(2)).await;
    let took = signalled.elapsed();
    let log = inst.log_text();
    let status = status.unwrap_or_else(|| panic!("mama exited within {bound:?}; log:\n{log}"));
    assert_eq!(status.code(), Some(0), "exit code; log:\n{log}");
    assert!(took <= bound + Duration::from_millis(500), "took {took:?}");
    // Each call was either answered 200, or refused at connect once the listener
    // closed, or closed unread: reset by the kernel in the listen backlog, or
    // accepted by a worker that was already stopping and closed before a byte of
    // it was parsed (an idle connection to actix). Never a 5xx; and the audit
    // count below shows that no call mama read went unanswered.
    let mut answered = 0u64;
    let mut refused = 0u64;
    for (i, r) in load.await.unwrap().into_iter().enumerate() {
        match r {
            Ok(s) => {
                assert_eq!(s, 200, "lookup {i}");
                answered += 1;
            }
            Err(e) => {
                assert!(
                    e.starts_with("connect: true")
                        || e.contains("ConnectionReset")
                        || e.contains("IncompleteMessage"),
                    "lookup {i} broke after it was sent: {e}"
                );
                refused += 1;
            }
        }
    }
    // Every lease was given back at once: the jobs are due again, owned by no one.
    let jobs = sync_job::Entity::find().all(&db).await.unwrap();
    assert_eq!(jobs.len(), users.len());
    for j in &jobs {
        assert_eq!(j.state, "pending", "job {} released: {j:?}", j.id);
        assert_eq!(j.lease_owner, None);
        assert_eq!(j.lease_until, None);
        assert!(j.next_attempt_at <= chrono::Utc::now());
    }
    assert!(log.contains("leases_released=4"), "log:\n{log}");
    assert!(log.contains("audit_flushed=true"), "log:\n{log}");
    // The spend and model refreshers (cut while waiting on the silent peer),
    // both purgers and the lookup cache's preloader stopped; the sealer made its
    // last pass.
    assert!(log.contains("loops_stopped=5"), "log:\n{log}");
    assert!(log.contains("audit_sealed=true"), "log:\n{log}");
    // The lookup answered during the stop has its audit event.
    let lookups = mama::entities::audit_event::Entity::find()
        .filter(mama::entities::audit_event::Column::Action.eq("api.keys.lookup"))
        .filter(mama::entities::audit_event::Column::HttpStatus.eq(200))
        .count(&db)
        .await
        .unwrap();
    assert_eq!(
        lookups,
        answered + 1,
        "every lookup mama accepted was answered and audited ({refused} refused)"
    );
    peer_task.abort();
    eprintln!(
        "stopped in {took:?}: 4 leases released, {answered} + 1 lookups answered and audited, {refused} refused"
    );
    let _ = db.close().await;
    crate::helpers::drop_database(&database_url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_after_lookups_stops_every_loop_and_seals_every_event_within_the_bound() {
    let database_url = fresh_database_url().await;
    let deployment = Deployment::new(&database_url);
    let bound = Duration::from_secs(6);
    // The sealer's interval is far beyond the test: only its last pass, on the
    // way down, can seal the lookups' events.
    let mut inst = deployment
        .start(&[
            ("MAMA_AUDIT_SEAL_INTERVAL_MS", "3600000".into()),
            ("MAMA_PURGE_INTERVAL_SECS", "3600".into()),
            ("MAMA_SHUTDOWN_TIMEOUT_SECONDS", bound.as_secs().to_string()),
        ])
        .await;
    let db = sea_orm::Database::connect(&database_url).await.unwrap();
    let token = api_token(&db, &[Scope::KeysRead], None).await;
    let http = reqwest::Client::new();
    let n = 30;
    for _ in 0..n {
        let r = http
            .post(format!("{}/api/v1/keys/lookup", inst.addr))
            .bearer_auth(&token)
            .json(&json!({"user_ids": ["nobody"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    use mama::entities::audit_event;
    let unsealed = || {
        audit_event::Entity::find()
            .filter(audit_event::Column::Seq.is_null())
            .count(&db)
    };
    inst.signal("TERM");
    let signalled = Instant::now();
    let status = inst.wait_exit(bound + Duration::from_secs(2)).await;
    let took = signalled.elapsed();
    let log = inst.log_text();
    let status = status.unwrap_or_else(|| panic!("mama exited within {bound:?}; log:\n{log}"));
    assert_eq!(status.code(), Some(0), "exit code; log:\n{log}");
    assert!(took <= bound, "took {took:?}");
    // Both purgers and the lookup cache's preloader (no LiteLLM here: no
    // refreshers) ended at the signal, the writer flushed, then the sealer made
    // its last pass.
    assert!(log.contains("loops_stopped=3"), "log:\n{log}");
    assert!(log.contains("audit_flushed=true"), "log:\n{log}");
    assert!(log.contains("audit_sealed=true"), "log:\n{log}");
    assert!(
        log.contains("audit chain sealer stopped after its last pass"),
        "log:\n{log}"
    );
    let lookups = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("api.keys.lookup"))
        .count(&db)
        .await
        .unwrap();
    assert_eq!(lookups, n, "every lookup is audited");
    // Checked before `audit verify`, which seals what it finds pending.
    assert_eq!(unsealed().await.unwrap(), 0, "every event is sealed");
    let out = deployment
        .command(free_port(), &[])
        .args(["audit", "verify"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("audit chain intact"), "{text}");
    assert!(text.contains(", 0 sealed now"), "{text}");
    eprintln!("stopped in {took:?}; {n} lookups audited and sealed");
    let _ = db.close().await;
    crate::helpers::drop_database(&database_url).await;
}

#[tokio::test]
async fn two_instances_on_one_database_allow_a_client_its_limit_in_total_not_twice() {
    let one = crate::helpers::spawn_app().await;
    let two = crate::helpers::spawn_app_on(&one.database_url, |_| {}).await;
    let n = 10usize;
    let token = api_token(&one.db, &[Scope::KeysRead], Some(n as i32)).await;
    crate::helpers::clear_of_minute_edge().await;
    let http = reqwest::Client::new();
    let mut statuses = vec![];
    for i in 0..2 * n {
        let addr = if i % 2 == 0 { &one.addr } else { &two.addr };
        let r = lookup_nobody(&http, addr, &token).await;
        statuses.push((i % 2, r.status().as_u16()));
    }
    let ok: Vec<_> = statuses.iter().filter(|(_, s)| *s == 200).collect();
    let refused = statuses.iter().filter(|(_, s)| *s == 429).count();
    assert_eq!(ok.len(), n, "{statuses:?}");
    assert_eq!(refused, n, "{statuses:?}");
    // Both instances answered some of the N and refused some of the rest.
    assert!(ok.iter().any(|(i, _)| *i == 0) && ok.iter().any(|(i, _)| *i == 1));
    assert!(statuses[n..].iter().all(|(_, s)| *s == 429), "{statuses:?}");
    // Concurrent calls too: a second client, 2N at once over both instances.
    let token = api_token(&one.db, &[Scope::KeysRead], Some(n as i32)).await;
    let calls = (0..2 * n).map(|i| {
        let addr = if i % 2 == 0 {
            one.addr.clone()
        } else {
            two.addr.clone()
        };
        let (http, token) = (http.clone(), token.clone());
        async move { lookup_nobody(&http, &addr, &token).await.status().as_u16() }
    });
    let statuses = join_all(calls).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        n,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        n,
        "{statuses:?}"
    );
}

/// One lookup of an unknown user at `addr` with `token`.
async fn lookup_nobody(http: &reqwest::Client, addr: &str, token: &str) -> reqwest::Response {
    http.post(format!("{addr}/api/v1/keys/lookup"))
        .bearer_auth(token)
        .json(&json!({"user_ids": ["nobody"]}))
        .send()
        .await
        .unwrap()
}

/// The hits of every shared window, by client.
async fn window_hits(db: &DatabaseConnection) -> Vec<i64> {
    use sea_orm::{ConnectionTrait, Statement};
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        "SELECT CAST(hits AS BIGINT) FROM api_rate_windows ORDER BY client_id",
    ))
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get_by_index::<i64>(0).unwrap())
    .collect()
}

#[tokio::test]
async fn a_high_limit_is_reserved_in_blocks_of_one_percent_and_still_never_exceeded() {
    let one = crate::helpers::spawn_app().await;
    let two = crate::helpers::spawn_app_on(&one.database_url, |_| {}).await;
    crate::helpers::clear_of_minute_edge().await;
    let http = reqwest::Client::new();
    let call = |addr: String, token: String| {
        let http = http.clone();
        async move {
            let r = lookup_nobody(&http, &addr, &token).await;
            let remaining: u32 = r.headers()["x-ratelimit-remaining"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            (r.status().as_u16(), remaining)
        }
    };
    // 1,000 a minute: blocks of 10. 25 calls, alternating: each instance
    // reserves a block, numbers its calls from it, then reserves the next.
    let token = api_token(&one.db, &[Scope::KeysRead], Some(1000)).await;
    let mut seen = vec![];
    for i in 0..25 {
        let addr = if i % 2 == 0 { &one.addr } else { &two.addr };
        seen.push(call(addr.clone(), token.clone()).await);
    }
    assert!(seen.iter().all(|(s, _)| *s == 200), "{seen:?}");
    // Four writes of 10 (13 calls on one instance, 12 on the other), not 25
    // writes of 1.
    assert_eq!(window_hits(&one.db).await, vec![40]);
    // The numbers are the window's: each instance counts down from its blocks.
    assert_eq!(seen[0].1, 999, "{seen:?}");
    assert_eq!(seen[1].1, 989, "{seen:?}");
    assert_eq!(seen[2].1, 998, "{seen:?}");
    // 200 a minute: blocks of 2. 500 calls over both instances, 25 at a time:
    // never more than the limit, and at most one block per other instance less.
    let token = api_token(&one.db, &[Scope::KeysRead], Some(200)).await;
    let mut allowed = 0;
    for round in 0..20 {
        let calls = (0..25).map(|i| {
            let addr = if (round + i) % 2 == 0 {
                one.addr.clone()
            } else {
                two.addr.clone()
            };
            call(addr, token.clone())
        });
        allowed += join_all(calls)
            .await
            .iter()
            .filter(|(s, _)| *s == 200)
            .count();
    }
    assert!((198..=200).contains(&allowed), "{allowed} allowed of 200");
}
