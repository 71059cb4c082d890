//! `/api/v1`: the bearer guard, the lookup contract, scopes, rate limits, the
//! audit event of every call, the OpenAPI document and a fuzz of hostile bodies.
use mama::{
    api_clients::{
        Scope,
        service::{NewClient, create_client},
    },
    crypto::KeyCipher,
    entities::{model, service},
    users::service::{NewUser, create_user},
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::{Value, json};

use crate::helpers::{TestApp, rand_suffix, request_id, spawn_app_with};

pub struct ApiApp {
    pub app: TestApp,
    pub cipher: KeyCipher,
    pub http: reqwest::Client,
}

/// mama with the encryption key kept, so tests can create users directly.
pub async fn spawn_api_app(tweak: impl FnOnce(&mut mama::config::Settings)) -> ApiApp {
    let mut cipher = None;
    let app = spawn_app_with(|s| {
        tweak(s);
        cipher = Some(KeyCipher::new(&s.secrets.encryption_key));
    })
    .await;
    ApiApp {
        app,
        cipher: cipher.unwrap(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

impl ApiApp {
    pub async fn client(&self, scopes: &[Scope], rate_limit: Option<i32>) -> (i32, String) {
        let (c, token) = create_client(
            &self.app.db,
            NewClient {
                name: format!("client-{}", rand_suffix()),
                scopes: scopes.to_vec(),
                rate_limit_per_minute: rate_limit,
                created_by: Some("test".into()),
            },
        )
        .await
        .unwrap();
        (c.id, token.0)
    }

    pub async fn service(&self, name: &str) {
        let now = chrono::Utc::now();
        service::ActiveModel {
            name: Set(name.into()),
            description: Set(String::new()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&self.app.db)
        .await
        .unwrap();
    }

    pub async fn user(&self, user_id: &str, models: &[&str], services: &[&str]) {
        let txn = mama::db::begin_write(&self.app.db).await.unwrap();
        create_user(
            &txn,
            &self.cipher,
            NewUser {
                user_id: user_id.into(),
                organisation: format!("org of {user_id}"),
                key_alias: Some(format!("alias-{user_id}")),
                models: models.iter().map(|s| s.to_string()).collect(),
                services: services.iter().map(|s| s.to_string()).collect(),
                extra: "note".into(),
                limits: Default::default(),
            },
            None,
        )
        .await
        .unwrap();
        txn.commit().await.unwrap();
    }

    /// The stored key of `user_id`, decrypted.
    pub async fn key_of(&self, user_id: &str) -> String {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        use secrecy::ExposeSecret;
        let u = mama::entities::user::Entity::find()
            .filter(mama::entities::user::Column::UserId.eq(user_id))
            .one(&self.app.db)
            .await
            .unwrap()
            .unwrap();
        self.cipher
            .decrypt(&u.user_id, &u.key_ciphertext, &u.key_sha256)
            .unwrap()
            .expose_secret()
            .to_string()
    }

    pub async fn lookup_raw(
        &self,
        token: Option<&str>,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut rb = self
            .http
            .post(format!("{}/api/v1/keys/lookup", self.app.addr))
            .body(body);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(ct) = content_type {
            rb = rb.header("content-type", ct);
        }
        rb.send().await.unwrap()
    }

    pub async fn lookup(&self, token: &str, body: Value) -> reqwest::Response {
        self.lookup_raw(Some(token), Some("application/json"), body.to_string())
            .await
    }

    pub async fn get(&self, token: Option<&str>, path: &str) -> reqwest::Response {
        let mut rb = self.http.get(format!("{}{path}", self.app.addr));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        rb.send().await.unwrap()
    }
}

/// Status, request ID, body as JSON.
async fn parts(r: reqwest::Response) -> (u16, String, Value) {
    let status = r.status().as_u16();
    let rid = request_id(&r);
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, rid, body)
}

fn details(ev: &mama::entities::audit_event::Model) -> Value {
    serde_json::from_str(&ev.details).unwrap()
}

#[tokio::test]
async fn a_lookup_answers_in_request_order_folds_duplicates_and_lists_the_missing() {
    let a = spawn_api_app(|_| {}).await;
    let sfx = rand_suffix();
    let (svc_b, svc_a) = (format!("svc-b-{sfx}"), format!("svc-a-{sfx}"));
    a.service(&svc_b).await;
    a.service(&svc_a).await;
    let (alice, bob) = (format!("alice-{sfx}"), format!("bob-{sfx}"));
    a.user(&alice, &["gpt-4o", "claude"], &[&svc_b, &svc_a])
        .await;
    a.user(&bob, &[], &[]).await;
    let (client_id, token) = a.client(&[Scope::KeysRead], None).await;

    let r = a
        .lookup(
            &token,
            json!({"user_ids": [bob, "ghost", alice, bob, "ghost"]}),
        )
        .await;
    let (status, rid, body) = parts(r).await;
    assert_eq!(status, 200, "{body}");
    let users = body["users"].as_array().unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(users[0]["user_id"], bob.as_str());
    assert_eq!(users[1]["user_id"], alice.as_str());
    assert_eq!(body["not_found"], json!(["ghost"]));
    let al = &users[1];
    let alice_key = a.key_of(&alice).await;
    assert!(alice_key.starts_with("sk-"));
    assert_eq!(al["key"], alice_key.as_str());
    assert_eq!(al["organisation"], format!("org of {alice}"));
    assert_eq!(al["key_alias"], format!("alias-{alice}"));
    assert_eq!(al["models"], json!(["claude", "gpt-4o"]));
    assert_eq!(al["services"], json!([svc_a, svc_b]));
    assert_eq!(al["extra"], "note");
    assert_eq!(al["sync_state"], "pending");
    assert!(al["updated_at"].as_str().is_some());
    assert_eq!(users[0]["models"], json!([]));

    let ev = a.app.event_for(&rid).await;
    assert_eq!(ev.action, "api.keys.lookup");
    assert_eq!(ev.actor_kind, "api_client");
    assert_eq!(ev.actor_id, Some(client_id.to_string()));
    assert_eq!(ev.outcome, "success");
    assert_eq!(ev.http_status, Some(200));
    assert_eq!(ev.target_count, 3);
    let targets: Vec<String> = serde_json::from_str(&ev.targets).unwrap();
    assert_eq!(targets, [bob.clone(), "ghost".into(), alice.clone()]);
    let d = details(&ev);
    assert_eq!(d["scope"], "keys:read");
    assert_eq!(d["requested"], 3);
    assert_eq!(d["found"], 2);
    assert_eq!(d["not_found_count"], 1);
    assert_eq!(d["not_found"], json!(["ghost"]));
    // No key anywhere in the audit trail.
    let bob_key = a.key_of(&bob).await;
    for e in a.app.events().await {
        let row = format!("{e:?}");
        assert!(!row.contains(&alice_key) && !row.contains(&bob_key) && !row.contains(&token));
    }
    // "Who saw alice?" is answerable from the target index.
    let seen = mama::audit::queries::search(
        &a.app.db,
        &mama::audit::queries::AuditFilter {
            target_user: Some(alice.clone()),
            ..Default::default()
        },
        None,
        10,
    )
    .await
    .unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].request_id, rid);
}

#[tokio::test]
async fn missing_wrong_and_revoked_tokens_get_401_and_each_refusal_is_audited() {
    let a = spawn_api_app(|_| {}).await;
    let (id, token) = a.client(&[Scope::KeysRead], None).await;
    let body = json!({"user_ids": ["x"]}).to_string();

    let (s, rid, b) = parts(
        a.lookup_raw(None, Some("application/json"), body.clone())
            .await,
    )
    .await;
    assert_eq!(s, 401);
    assert_eq!(b["error"]["code"], "UNAUTHORIZED");
    assert_eq!(b["error"]["request_id"], rid.as_str());
    assert!(b["error"]["message"].as_str().unwrap().contains("Bearer"));
    let ev = a.app.event_for(&rid).await;
    assert_eq!(
        (
            ev.action.as_str(),
            ev.outcome.as_str(),
            ev.actor_kind.as_str()
        ),
        ("api.keys.lookup", "denied", "anonymous")
    );

    // Another last character (a token may well end in `x` already).
    let last = if token.ends_with('x') { 'y' } else { 'x' };
    let wrong = format!("{}{last}", &token[..token.len() - 1]);
    let (s, rid, b) = parts(
        a.lookup_raw(Some(&wrong), Some("application/json"), body.clone())
            .await,
    )
    .await;
    assert_eq!(s, 401);
    assert_eq!(b["error"]["message"], "invalid API token");
    assert!(!format!("{:?}", a.app.event_for(&rid).await).contains(&wrong));

    let (s, _, _) = parts(
        a.lookup_raw(Some(&token), Some("application/json"), body.clone())
            .await,
    )
    .await;
    assert_eq!(s, 200);
    mama::api_clients::service::revoke_client(&a.app.db, id)
        .await
        .unwrap();
    let (s, rid, b) = parts(
        a.lookup_raw(Some(&token), Some("application/json"), body.clone())
            .await,
    )
    .await;
    assert_eq!(s, 401, "revocation takes effect at once");
    assert!(b["error"]["message"].as_str().unwrap().contains("revoked"));
    let ev = a.app.event_for(&rid).await;
    assert_eq!(
        ev.actor_id,
        Some(id.to_string()),
        "the refused client is named"
    );
    assert_eq!(ev.outcome, "denied");
}

#[tokio::test]
async fn a_token_without_the_needed_scope_gets_403_on_every_endpoint() {
    let a = spawn_api_app(|_| {}).await;
    let (_, keys_only) = a.client(&[Scope::KeysRead], None).await;
    let (_, models_only) = a.client(&[Scope::ModelsRead], None).await;

    let (s, rid, b) = parts(a.lookup(&models_only, json!({"user_ids": ["a"]})).await).await;
    assert_eq!(s, 403);
    assert_eq!(b["error"]["code"], "FORBIDDEN");
    let ev = a.app.event_for(&rid).await;
    assert_eq!(ev.outcome, "denied");
    assert_eq!(details(&ev)["missing_scope"], "keys:read");
    assert_eq!(ev.target_count, 0, "nothing was read");

    let (s, _, _) = parts(a.get(Some(&keys_only), "/api/v1/models").await).await;
    assert_eq!(s, 403);
    let (s, rid, _) = parts(a.get(Some(&keys_only), "/api/v1/audit/events").await).await;
    assert_eq!(s, 403);
    assert_eq!(a.app.event_for(&rid).await.action, "api.audit.list");
    let (s, _, _) = parts(a.get(Some(&models_only), "/api/v1/models").await).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn bad_bodies_get_4xx_errors_naming_the_problem_and_are_audited_as_invalid() {
    let a = spawn_api_app(|s| s.api_max_lookup_ids = 5).await;
    let (_, token) = a.client(&[Scope::KeysRead], None).await;
    let cases: Vec<(Option<&str>, String, u16, &str, &str)> = vec![
        (
            Some("text/plain"),
            r#"{"user_ids":["a"]}"#.into(),
            400,
            "INVALID_REQUEST",
            "Content-Type",
        ),
        (
            None,
            r#"{"user_ids":["a"]}"#.into(),
            400,
            "INVALID_REQUEST",
            "Content-Type",
        ),
        (
            Some("application/json"),
            "".into(),
            400,
            "INVALID_REQUEST",
            "empty",
        ),
        (
            Some("application/json"),
            r#"{"user_ids":["a"]"#.into(),
            400,
            "INVALID_REQUEST",
            "malformed JSON",
        ),
        (
            Some("application/json"),
            r#"{"user_ids":[]}"#.into(),
            422,
            "VALIDATION_ERROR",
            "at least one",
        ),
        (
            Some("application/json"),
            r#"{"user_ids":[1,2]}"#.into(),
            422,
            "VALIDATION_ERROR",
            "expected a string",
        ),
        (
            Some("application/json"),
            r#"{"user_ids":["a"],"admin":true}"#.into(),
            422,
            "VALIDATION_ERROR",
            "unknown field `admin`",
        ),
        (
            Some("application/json"),
            r#"{"ids":["a"]}"#.into(),
            422,
            "VALIDATION_ERROR",
            "unknown field",
        ),
        (
            Some("application/json"),
            r#"{}"#.into(),
            422,
            "VALIDATION_ERROR",
            "missing field `user_ids`",
        ),
        (
            Some("application/json"),
            r#"{"user_ids":["a","b","c","d","e","f"]}"#.into(),
            413,
            "INVALID_REQUEST",
            "at most 5",
        ),
    ];
    for (ct, body, status, code, needle) in cases {
        let (s, rid, b) = parts(a.lookup_raw(Some(&token), ct, body.clone()).await).await;
        assert_eq!(s, status, "{body}: {b}");
        assert_eq!(b["error"]["code"], code, "{body}");
        let msg = b["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains(needle),
            "{body}: {msg:?} should mention {needle:?}"
        );
        let ev = a.app.event_for(&rid).await;
        assert_eq!(ev.outcome, "invalid", "{body}");
        assert_eq!(ev.http_status, Some(i32::from(status)));
    }
    let r = a.lookup(&token, json!({"user_ids": ["a", ""]})).await;
    let (s, _, b) = parts(r).await;
    assert_eq!(s, 422);
    assert!(
        b["error"]["details"]["fields"]["user_ids[1]"].is_array(),
        "{b}"
    );
    // Five distinct IDs (after folding, still at most five) pass.
    let r = a
        .lookup(&token, json!({"user_ids": ["a", "b", "c", "d", "a"]}))
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn every_authenticated_response_has_rate_limit_headers_and_an_empty_bucket_gets_429() {
    let a = spawn_api_app(|_| {}).await;
    let (_, token) = a.client(&[Scope::KeysRead], Some(3)).await;
    let (_, other) = a.client(&[Scope::KeysRead], Some(3)).await;
    // The shared limit counts per calendar minute: start clear of its edge.
    crate::helpers::clear_of_minute_edge().await;
    let h = |r: &reqwest::Response, n: &str| {
        r.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let r = a.lookup(&token, json!({"user_ids": ["a"]})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(h(&r, "x-ratelimit-limit"), "3");
    assert_eq!(h(&r, "x-ratelimit-remaining"), "2");
    assert!(h(&r, "x-ratelimit-reset").parse::<u64>().unwrap() <= 60);
    // Errors after authentication carry them too.
    let r = a
        .lookup_raw(Some(&token), Some("application/json"), "{")
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(h(&r, "x-ratelimit-remaining"), "1");
    let r = a.lookup(&token, json!({"user_ids": ["a"]})).await;
    assert_eq!(h(&r, "x-ratelimit-remaining"), "0");
    let r = a.lookup(&token, json!({"user_ids": ["a"]})).await;
    assert_eq!(r.status(), 429);
    // The shared window (the default) frees the client when the minute ends.
    let retry: u64 = h(&r, "retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(h(&r, "x-ratelimit-reset"), retry.to_string());
    assert_eq!(h(&r, "x-ratelimit-limit"), "3");
    let (_, rid, b) = parts(r).await;
    assert_eq!(b["error"]["code"], "RATE_LIMIT_EXCEEDED");
    let ev = a.app.event_for(&rid).await;
    assert_eq!(
        (ev.action.as_str(), ev.outcome.as_str(), ev.http_status),
        ("api.keys.lookup", "denied", Some(429))
    );
    // Each client has its own bucket.
    assert_eq!(
        a.lookup(&other, json!({"user_ids": ["a"]})).await.status(),
        200
    );
    // No token: no bucket, no headers.
    let r = a.lookup_raw(None, Some("application/json"), "{}").await;
    assert!(r.headers().get("x-ratelimit-limit").is_none());
}

#[tokio::test]
async fn the_models_endpoint_lists_the_catalogue_with_the_special_values_first() {
    let a = spawn_api_app(|_| {}).await;
    let (_, token) = a.client(&[Scope::ModelsRead], None).await;
    let now = chrono::Utc::now();
    for (name, available) in [("gpt-4o", true), ("old-model", false)] {
        model::ActiveModel {
            name: Set(name.into()),
            available: Set(available),
            first_seen_at: Set(now),
            last_seen_at: Set(Some(now)),
            details: Set(None),
        }
        .insert(&a.app.db)
        .await
        .unwrap();
    }
    let (s, rid, b) = parts(a.get(Some(&token), "/api/v1/models").await).await;
    assert_eq!(s, 200, "{b}");
    let names: Vec<(&str, bool, bool)> = b["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap(),
                m["available"].as_bool().unwrap(),
                m["special"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("all-team-models", true, true),
            ("all-proxy-models", true, true),
            ("gpt-4o", true, false),
            ("old-model", false, false)
        ]
    );
    let ev = a.app.event_for(&rid).await;
    assert_eq!(
        (ev.action.as_str(), details(&ev)["scope"].as_str()),
        ("api.models.list", Some("models:read"))
    );
}

#[tokio::test]
async fn the_audit_events_endpoint_filters_and_pages_with_a_cursor() {
    let a = spawn_api_app(|_| {}).await;
    let (_, keys) = a.client(&[Scope::KeysRead], None).await;
    let (_, auditor) = a.client(&[Scope::AuditRead], None).await;
    let target = format!("u-{}", rand_suffix());
    for _ in 0..3 {
        a.lookup(&keys, json!({"user_ids": [target]})).await;
    }
    a.lookup(&keys, json!({"user_ids": ["someone-else"]})).await;
    let path = format!("/api/v1/audit/events?action=api.keys.lookup&user_id={target}&limit=2");
    let (s, _, b) = parts(a.get(Some(&auditor), &path).await).await;
    assert_eq!(s, 200, "{b}");
    let page1 = b["events"].as_array().unwrap();
    assert_eq!(page1.len(), 2);
    assert!(page1.iter().all(|e| e["targets"] == json!([target])));
    assert_eq!(page1[0]["actor"]["kind"], "api_client");
    let cursor = b["next_cursor"].as_i64().expect("a next page");
    let (_, _, b) = parts(
        a.get(Some(&auditor), &format!("{path}&cursor={cursor}"))
            .await,
    )
    .await;
    assert_eq!(b["events"].as_array().unwrap().len(), 1);
    assert!(b["next_cursor"].is_null());
    // Several actions, comma-separated or repeated; outcome filter.
    let (s, _, b) = parts(a.get(Some(&auditor), "/api/v1/audit/events?action=api.keys.lookup,api.models.list&action=api.audit.list&outcome=success").await).await;
    assert_eq!(s, 200);
    assert!(b["events"].as_array().unwrap().len() >= 5);
    for (q, status, field) in [
        ("since=yesterday", 422, "since"),
        ("limit=5000", 422, "limit"),
        ("action=no.such.action", 422, "action"),
        ("outcome=maybe", 422, "outcome"),
        ("bogus=1", 400, ""),
        ("cursor=abc", 400, ""),
    ] {
        let (s, _, b) = parts(
            a.get(Some(&auditor), &format!("/api/v1/audit/events?{q}"))
                .await,
        )
        .await;
        assert_eq!(s, status, "{q}: {b}");
        if !field.is_empty() {
            assert!(
                b["error"]["details"]["fields"][field].is_array(),
                "{q}: {b}"
            );
        }
    }
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_describes_every_api_route() {
    let a = spawn_api_app(|_| {}).await;
    let (s, rid, doc) = parts(a.get(None, "/api/v1/openapi.json").await).await;
    assert_eq!(s, 200);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    for (path, method) in [
        ("/api/v1/keys/lookup", "post"),
        ("/api/v1/models", "get"),
        ("/api/v1/audit/events", "get"),
        ("/api/v1/openapi.json", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(doc["components"]["schemas"]["UserKey"]["properties"]["key"].is_object());
    assert_eq!(a.app.event_for(&rid).await.action, "api.docs");
    // Swagger UI is served from the binary.
    let r = a.get(None, "/api/v1/docs").await;
    assert_eq!(r.status(), 308);
    let r = a.get(None, "/api/v1/docs/").await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("swagger-ui-bundle.js"));
    let r = a.get(None, "/api/v1/docs/swagger-initializer.js").await;
    assert!(r.text().await.unwrap().contains("/api/v1/openapi.json"));
    assert_eq!(a.get(None, "/api/v1/docs/nope.js").await.status(), 404);
    // An unknown API path answers JSON.
    let (s, _, b) = parts(a.get(None, "/api/v1/nothing").await).await;
    assert_eq!(s, 404);
    assert_eq!(b["error"]["code"], "NOT_FOUND");
}

#[tokio::test]
async fn hostile_bodies_never_cause_a_5xx() {
    let a = spawn_api_app(|_| {}).await;
    let (_, token) = a.client(&[Scope::KeysRead], Some(1_000_000)).await;
    let deep_array = format!(
        "{{\"user_ids\": {}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let deep_object = "{\"user_ids\":".repeat(50_000);
    let huge_string = format!("{{\"user_ids\": [\"{}\"]}}", "a".repeat(3_000_000));
    let huge_not_array = format!("{{\"user_ids\": \"{}\"}}", "b".repeat(3_000_000));
    let many_ids =
        json!({"user_ids": (0..100_000).map(|i| format!("u{i}")).collect::<Vec<_>>()}).to_string();
    let too_big = "x".repeat(5 << 20);
    let mut bodies: Vec<Vec<u8>> = vec![
        deep_array.into_bytes(),
        deep_object.into_bytes(),
        huge_string.into_bytes(),
        huge_not_array.into_bytes(),
        many_ids.into_bytes(),
        too_big.into_bytes(),
        b"{\"user_ids\": [\"\xff\xfe\"]}".to_vec(),
        b"\xef\xbb\xbf{\"user_ids\": [\"a\"]}".to_vec(),
        b"null".to_vec(),
        b"42".to_vec(),
        b"\"user_ids\"".to_vec(),
        b"{\"user_ids\": null}".to_vec(),
        b"{\"user_ids\": [null, 1, 2.5, true, {}, []]}".to_vec(),
        b"{\"user_ids\": [\"\\ud800\"]}".to_vec(),
        b"{\"user_ids\": [\"a\\u0000b\"]}".to_vec(),
        b"{\"user_ids\": [\"a\"], \"user_ids\": [\"b\"]}".to_vec(),
        b"{\"user_ids\": [\"' OR 1=1 --\", \"%\", \"_\", \"\\\\\"]}".to_vec(),
        b"{\"user_ids\": [1e999]}".to_vec(),
        vec![0u8; 1000],
    ];
    // A few deterministic pseudo-random byte soups.
    let mut x: u32 = 0x9e37_79b9;
    for len in [1usize, 7, 64, 4096] {
        bodies.push(
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    (x & 0xff) as u8
                })
                .collect(),
        );
    }
    for body in bodies {
        let preview = String::from_utf8_lossy(&body[..body.len().min(40)]).to_string();
        let len = body.len();
        let sent = a
            .http
            .post(format!("{}/api/v1/keys/lookup", a.app.addr))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        let r = match sent {
            Ok(r) => r,
            // mama may answer 413 and close before a too-large body is fully sent.
            Err(e) => {
                assert!(
                    len > mama::api::contract::MAX_BODY_BYTES,
                    "{preview:?}: {e}"
                );
                continue;
            }
        };
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert!(
            (200..500).contains(&status),
            "{preview:?} → {status}: {text:.200}"
        );
        assert!(
            text.len() < 100_000 || status == 200,
            "{preview:?}: error body echoes the input"
        );
    }
    // The server is still healthy.
    assert_eq!(
        a.lookup(&token, json!({"user_ids": ["a"]})).await.status(),
        200
    );
}

#[tokio::test]
async fn a_lookup_whose_audit_event_cannot_be_stored_answers_503_without_any_key() {
    let a = spawn_api_app(|_| {}).await;
    let user = format!("u-{}", rand_suffix());
    a.user(&user, &["m"], &[]).await;
    let (_, token) = a.client(&[Scope::KeysRead], None).await;
    let key = a.key_of(&user).await;
    a.app.break_audit_store().await;
    let r = a.lookup(&token, json!({"user_ids": [user]})).await;
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert_eq!(status, 503, "{text}");
    assert!(!text.contains(&key));
    assert!(text.contains("SERVICE_UNAVAILABLE"));
}
