//! Provisioning by API (`/api/v1/users…`, `/api/v1/services…`, batches) and as
//! code (`mama apply` / `mama export`), and the operators' CLI parity.
use std::time::Duration;

use mama::{
    api_clients::Scope,
    entities::{audit_event, sync_job, user},
    services::cli::{ServicesAction, run_on},
    spec::cli::{apply_text, export_to},
};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::{
    api::{ApiApp, spawn_api_app},
    helpers::rand_suffix,
    litellm::{drain, fast_sync, litellm_info, peer, sorted},
};

impl ApiApp {
    /// A request to `/api/v1{path}` with a JSON body and a bearer token.
    async fn call(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut rb = self
            .http
            .request(method, format!("{}/api/v1{path}", self.app.addr))
            .bearer_auth(token);
        if let Some(b) = body {
            rb = rb
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        rb.send().await.unwrap()
    }

    async fn post(&self, token: &str, path: &str, body: Value) -> reqwest::Response {
        self.call(reqwest::Method::POST, token, path, Some(body), &[])
            .await
    }

    async fn users_count(&self) -> u64 {
        user::Entity::find().count(&self.app.db).await.unwrap()
    }
}

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| json!({"raw": text})),
    )
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_routes_refuse_tokens_without_their_scope_and_accept_x_internal_auth() {
    let a = spawn_api_app(|_| {}).await;
    let (_, read_only) = a.client(&[Scope::KeysRead], None).await;
    let (_, users_only) = a.client(&[Scope::UsersWrite], None).await;
    let (_, services_only) = a.client(&[Scope::ServicesWrite], None).await;
    use reqwest::Method as M;
    let user_routes = [
        (M::GET, "/users", None),
        (
            M::POST,
            "/users",
            Some(json!({"users": [{"user_id": "x"}]})),
        ),
        (M::GET, "/users/x", None),
        (M::PATCH, "/users/x", Some(json!({"organisation": "o"}))),
        (M::DELETE, "/users/x", None),
        (
            M::POST,
            "/users/bulk",
            Some(json!({"user_ids": ["x"], "op": "delete"})),
        ),
        (M::GET, "/batches/b", None),
    ];
    let service_routes = [
        (M::GET, "/services", None),
        (M::POST, "/services", Some(json!({"name": "s"}))),
        (M::PATCH, "/services/s", Some(json!({"name": "t"}))),
        (M::DELETE, "/services/s", None),
    ];
    for (m, path, body) in user_routes.iter() {
        for token in [&read_only, &services_only] {
            let (status, v) =
                json_of(a.call(m.clone(), token, path, body.clone(), &[]).await).await;
            assert_eq!(status, 403, "{m} {path}: {v}");
            assert_eq!(v["error"]["code"], "FORBIDDEN");
        }
    }
    for (m, path, body) in service_routes.iter() {
        for token in [&read_only, &users_only] {
            let (status, _) =
                json_of(a.call(m.clone(), token, path, body.clone(), &[]).await).await;
            assert_eq!(status, 403, "{m} {path}");
        }
    }
    assert_eq!(a.users_count().await, 0, "a refused call wrote nothing");
    let refused = a
        .app
        .events()
        .await
        .into_iter()
        .filter(|e| e.action.starts_with("api.") && e.outcome == "denied")
        .count();
    assert_eq!(refused, 2 * user_routes.len() + 2 * service_routes.len());

    // X-Internal-Auth carries the same token as Bearer, on old and new routes.
    let internal = |path: &str, token: &str| {
        a.http
            .get(format!("{}/api/v1{path}", a.app.addr))
            .header("X-Internal-Auth", token)
    };
    assert_eq!(
        internal("/users", &users_only)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        internal("/services", &services_only)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (_, models_token) = a.client(&[Scope::ModelsRead], None).await;
    assert_eq!(
        internal("/models", &models_token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        internal("/users", "not-a-token")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // Two different credentials are refused, not guessed at.
    let r = internal("/users", &users_only)
        .bearer_auth(&services_only)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let lookup = a
        .http
        .post(format!("{}/api/v1/keys/lookup", a.app.addr))
        .header("X-Internal-Auth", &read_only)
        .header("content-type", "application/json")
        .body(r#"{"user_ids": ["nobody"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(lookup.status(), 200);
    // No token ever lands in the audit trail.
    let events = format!("{:?}", a.app.events().await);
    for t in [&read_only, &users_only, &services_only, &models_token] {
        assert!(!events.contains(t.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_created_listed_filtered_paged_and_read_without_ever_a_key() {
    let a = spawn_api_app(|_| {}).await;
    let (_, token) = a.client(&[Scope::UsersWrite], None).await;
    a.service("chat").await;
    a.service("wiki").await;
    // A catalogue that offers gpt-4o (without one, no model can be called unavailable).
    a.app
        .sql("INSERT INTO models (name, available, first_seen_at) VALUES ('gpt-4o', true, '2026-01-01 00:00:00+00:00')")
        .await;
    let (status, v) = json_of(
        a.post(
            &token,
            "/users",
            json!({"users": [
                {"user_id": "alice", "organisation": "Research", "models": ["gpt-4o", "no-such-model", "all-team-models"],
                 "services": ["chat"], "extra": "desk 4", "key_alias": "alice-laptop"},
                {"user_id": "bob", "organisation": "Sales", "models": ["gpt-4o"], "services": ["chat", "wiki"]},
                {"user_id": "carol", "organisation": "Research"},
            ]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["created"], 3);
    let batch = v["batch_id"].as_str().unwrap().to_string();
    let alice = &v["users"][0];
    assert_eq!(alice["user_id"], "alice");
    assert_eq!(
        names(&alice["models"]),
        ["all-team-models", "gpt-4o", "no-such-model"]
    );
    // Unknown models are accepted and flagged; the specials never are.
    assert_eq!(names(&alice["unavailable_models"]), ["no-such-model"]);
    assert_eq!(alice["sync_state"], "pending");
    assert_eq!(alice["key_alias"], "alice-laptop");
    let keys = [a.key_of("alice").await, a.key_of("bob").await];
    for k in &keys {
        assert!(
            !v.to_string().contains(k.as_str()),
            "a key in the create answer"
        );
    }
    // The batch of the create: 3 jobs, none done (no LiteLLM here).
    let (status, b) = json_of(
        a.get(Some(&token), &format!("/api/v1/batches/{batch}"))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(
        (b["total"].as_i64(), b["pending"].as_i64()),
        (Some(3), Some(3))
    );
    assert_eq!(b["complete"], false);
    assert_eq!(
        a.get(Some(&token), "/api/v1/batches/nope").await.status(),
        404
    );

    // Filters.
    for (query, want) in [
        ("", vec!["alice", "bob", "carol"]),
        ("?q=RESEA", vec!["alice", "carol"]),
        ("?organisation=Sales", vec!["bob"]),
        ("?model=gpt-4o", vec!["alice", "bob"]),
        ("?service=wiki", vec!["bob"]),
        ("?service=chat&organisation=Research", vec!["alice"]),
        ("?sync_state=synced", vec![]),
        ("?sync_state=pending&q=car", vec!["carol"]),
    ] {
        let (status, page) =
            json_of(a.get(Some(&token), &format!("/api/v1/users{query}")).await).await;
        assert_eq!(status, 200, "{query}: {page}");
        let got: Vec<String> = page["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["user_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, want, "{query}");
        for k in &keys {
            assert!(!page.to_string().contains(k.as_str()), "a key in the list");
        }
    }
    // Keyset pages.
    let mut seen = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/api/v1/users?limit=2".to_string(),
            Some(c) => format!("/api/v1/users?limit=2&cursor={c}"),
        };
        let (_, page) = json_of(a.get(Some(&token), &path).await).await;
        for u in page["users"].as_array().unwrap() {
            seen.push(u["user_id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ["alice", "bob", "carol"]);
    // Bad queries are named 4xx.
    for (query, status) in [
        ("?limit=0", 422),
        ("?sync_state=weird", 422),
        ("?cursor=%%%", 400),
        ("?nope=1", 400),
    ] {
        assert_eq!(
            a.get(Some(&token), &format!("/api/v1/users{query}"))
                .await
                .status(),
            status,
            "{query}"
        );
    }
    // One user, with its ETag.
    let r = a.get(Some(&token), "/api/v1/users/bob").await;
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let (_, bob) = json_of(r).await;
    assert_eq!(bob["etag"], json!(etag));
    assert_eq!(names(&bob["services"]), ["chat", "wiki"]);
    assert_eq!(
        a.get(Some(&token), "/api/v1/users/nobody").await.status(),
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_creates_name_every_bad_item_and_field_and_write_nothing() {
    let a = spawn_api_app(|_| {}).await;
    let (_, token) = a.client(&[Scope::UsersWrite], None).await;
    a.service("chat").await;
    a.user("taken", &[], &[]).await;
    let before = a.users_count().await;
    let (status, v) = json_of(
        a.post(
            &token,
            "/users",
            json!({"users": [
                {"user_id": "ok-1", "services": ["chat"]},
                {"user_id": "ok-1"},
                {"user_id": "bad id"},
                {"user_id": "x", "services": ["chat", "chatt"]},
                {"user_id": "y", "colour": "red"},
                {"user_id": "taken"},
                {"user_id": "z", "models": [1]},
                "not an object",
                {"user_id": "w", "key_alias": "alias-taken"},
                {"organisation": "no id"},
            ]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["code"], "VALIDATION_ERROR");
    let fields = v["error"]["details"]["fields"].as_object().unwrap();
    let mut keys: Vec<&str> = fields.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "users[1].user_id",
            "users[2].user_id",
            "users[3].services",
            "users[4].colour",
            "users[5].user_id",
            "users[6].models[0]",
            "users[7]",
            "users[8].key_alias",
            "users[9].user_id",
        ],
        "{v}"
    );
    assert!(
        fields["users[1].user_id"][0]
            .as_str()
            .unwrap()
            .contains("duplicate of users[0]")
    );
    assert!(
        fields["users[3].services"][0]
            .as_str()
            .unwrap()
            .contains("`chatt`")
    );
    assert!(
        fields["users[4].colour"][0]
            .as_str()
            .unwrap()
            .contains("unknown field")
    );
    assert!(
        fields["users[5].user_id"][0]
            .as_str()
            .unwrap()
            .contains("already exists")
    );
    assert_eq!(a.users_count().await, before, "nothing was written");
    assert_eq!(
        sync_job::Entity::find().count(&a.app.db).await.unwrap(),
        1,
        "only the seeded user's job"
    );

    // A taken alias (another user's) is named too.
    let (status, v) = json_of(
        a.post(
            &token,
            "/users",
            json!({"users": [{"user_id": "w", "key_alias": "alias-taken"}]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert!(
        v["error"]["details"]["fields"]["users[0].key_alias"][0]
            .as_str()
            .unwrap()
            .contains("`taken`")
    );

    // Shapes, sizes and encodings.
    for (body, status) in [
        ("", 400),
        ("{", 400),
        ("[]", 422),
        ("{\"users\": []}", 422),
        ("{\"users\": {}}", 422),
        ("{\"users\": [], \"extra\": 1}", 422),
        ("{}", 422),
    ] {
        let r = a
            .http
            .post(format!("{}/api/v1/users", a.app.addr))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{body}");
    }
    let r = a
        .http
        .post(format!("{}/api/v1/users", a.app.addr))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let many: Vec<Value> = (0..10_001)
        .map(|i| json!({"user_id": format!("u{i}")}))
        .collect();
    let (status, v) = json_of(a.post(&token, "/users", json!({"users": many})).await).await;
    assert_eq!(status, 413, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("10000"));
    // 100 MB: refused before it is parsed (the server may close the
    // connection before the client finished sending).
    let huge = format!(
        "{{\"users\": [{{\"user_id\": \"a\", \"extra\": \"{}\"}}]}}",
        "x".repeat(100 << 20)
    );
    match a
        .http
        .post(format!("{}/api/v1/users", a.app.addr))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
    {
        Ok(r) => assert_eq!(r.status(), 413),
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
    assert_eq!(a.users_count().await, before, "nothing was written");
    // No 5xx anywhere in the trail.
    let events = a.app.events().await;
    assert!(events.iter().all(|e| e.http_status.unwrap_or(200) < 500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_merges_fields_and_a_stale_if_match_is_refused_without_a_write() {
    let a = spawn_api_app(|_| {}).await;
    let (_, token) = a.client(&[Scope::UsersWrite], None).await;
    a.service("chat").await;
    a.user("alice", &["m1"], &["chat"]).await;
    let r = a.get(Some(&token), "/api/v1/users/alice").await;
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    // Merge: only models change.
    let r = a
        .call(
            reqwest::Method::PATCH,
            &token,
            "/users/alice",
            Some(json!({"models": ["m2", "m3"]})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status(), 200);
    let new_etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(new_etag, etag);
    let (_, u) = json_of(r).await;
    assert_eq!(names(&u["models"]), ["m2", "m3"]);
    assert_eq!(names(&u["services"]), ["chat"]);
    assert_eq!(u["organisation"], "org of alice");
    assert_eq!(u["key_alias"], "alias-alice");
    // The old ETag is stale now: 412, nothing written.
    let (status, v) = json_of(
        a.call(
            reqwest::Method::PATCH,
            &token,
            "/users/alice",
            Some(json!({"organisation": "lost"})),
            &[("if-match", &etag)],
        )
        .await,
    )
    .await;
    assert_eq!(status, 412, "{v}");
    assert_eq!(v["error"]["details"]["current_etag"], json!(new_etag));
    // key_alias: null removes it; unknown service and field are named.
    let (status, u) = json_of(
        a.call(
            reqwest::Method::PATCH,
            &token,
            "/users/alice",
            Some(json!({"key_alias": null, "extra": "desk 5"})),
            &[],
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{u}");
    assert_eq!(u["key_alias"], Value::Null);
    assert_eq!(u["organisation"], "org of alice");
    for (body, field) in [
        (json!({"services": ["nope"]}), "services"),
        (json!({"colour": "red"}), "colour"),
        (json!({"models": "m"}), "models"),
        (json!({}), "body"),
    ] {
        let (status, v) = json_of(
            a.call(
                reqwest::Method::PATCH,
                &token,
                "/users/alice",
                Some(body.clone()),
                &[],
            )
            .await,
        )
        .await;
        assert_eq!(status, 422, "{body}: {v}");
        assert!(
            v["error"]["details"]["fields"].get(field).is_some(),
            "{body}: {v}"
        );
    }
    let r = a.get(Some(&token), "/api/v1/users/alice").await;
    let (_, now) = json_of(r).await;
    assert_eq!(now["extra"], "desk 5");
    assert_eq!(names(&now["services"]), ["chat"]);
    // The writes are audited with before and after; the refusal with its conflict.
    let events = a.app.events().await;
    let updates: Vec<&audit_event::Model> = events
        .iter()
        .filter(|e| e.action == "api.user.update")
        .collect();
    let ok = updates.iter().find(|e| e.outcome == "success").unwrap();
    let d: Value = serde_json::from_str(&ok.details).unwrap();
    assert_eq!(names(&d["before"]["models"]), ["m1"]);
    assert_eq!(names(&d["after"]["models"]), ["m2", "m3"]);
    assert!(
        updates
            .iter()
            .any(|e| e.http_status == Some(412) && e.outcome == "invalid")
    );
    // DELETE honours If-Match too.
    let (status, _) = json_of(
        a.call(
            reqwest::Method::DELETE,
            &token,
            "/users/alice",
            None,
            &[("if-match", &etag)],
        )
        .await,
    )
    .await;
    assert_eq!(status, 412);
    let (status, v) = json_of(
        a.call(reqwest::Method::DELETE, &token, "/users/alice", None, &[])
            .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["deleted"], "alice");
    assert_eq!(
        a.get(Some(&token), "/api/v1/users/alice").await.status(),
        404
    );
    assert_eq!(
        a.call(reqwest::Method::DELETE, &token, "/users/alice", None, &[])
            .await
            .status(),
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_with_the_same_if_match_never_lose_an_update() {
    let a = spawn_api_app(|_| {}).await;
    let (_, token) = a.client(&[Scope::UsersWrite], None).await;
    a.user("alice", &["m0"], &[]).await;
    for round in 0..5 {
        let r = a.get(Some(&token), "/api/v1/users/alice").await;
        let etag = r.headers()["etag"].to_str().unwrap().to_string();
        let body = |n: u32| json!({"models": [format!("r{round}-w{n}")]});
        let h = [("if-match", etag.as_str())];
        let (r1, r2) = tokio::join!(
            a.call(
                reqwest::Method::PATCH,
                &token,
                "/users/alice",
                Some(body(1)),
                &h
            ),
            a.call(
                reqwest::Method::PATCH,
                &token,
                "/users/alice",
                Some(body(2)),
                &h
            ),
        );
        let (s1, v1) = json_of(r1).await;
        let (s2, v2) = json_of(r2).await;
        let mut statuses = [s1, s2];
        statuses.sort();
        assert_eq!(statuses, [200, 412], "round {round}: {v1} / {v2}");
        let winner = if s1 == 200 { v1 } else { v2 };
        let (_, now) = json_of(a.get(Some(&token), "/api/v1/users/alice").await).await;
        assert_eq!(now["models"], winner["models"], "round {round}");
        assert_eq!(now["version"], winner["version"]);
    }
    // Without If-Match, concurrent merges of different fields both land.
    let (r1, r2) = tokio::join!(
        a.call(
            reqwest::Method::PATCH,
            &token,
            "/users/alice",
            Some(json!({"organisation": "Org X"})),
            &[]
        ),
        a.call(
            reqwest::Method::PATCH,
            &token,
            "/users/alice",
            Some(json!({"extra": "note Y"})),
            &[]
        ),
    );
    assert_eq!((r1.status().as_u16(), r2.status().as_u16()), (200, 200));
    let (_, now) = json_of(a.get(Some(&token), "/api/v1/users/alice").await).await;
    assert_eq!(
        (now["organisation"].as_str(), now["extra"].as_str()),
        (Some("Org X"), Some("note Y"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_post_with_the_same_idempotency_key_returns_the_first_result_and_changes_nothing()
{
    let a = spawn_api_app(|_| {}).await;
    let (_, token) = a
        .client(&[Scope::UsersWrite, Scope::ServicesWrite], None)
        .await;
    let (_, other) = a.client(&[Scope::UsersWrite], None).await;
    let body = json!({"users": [{"user_id": "alice"}, {"user_id": "bob"}]});
    let send = |token: &str, key: &str, body: Value| {
        a.http
            .post(format!("{}/api/v1/users", a.app.addr))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(body.to_string())
            .send()
    };
    let first = send(&token, "k-1", body.clone()).await.unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = first.text().await.unwrap();
    let jobs = sync_job::Entity::find().count(&a.app.db).await.unwrap();
    let again = send(&token, "k-1", body.clone()).await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.text().await.unwrap(), first);
    assert_eq!(a.users_count().await, 2);
    assert_eq!(
        sync_job::Entity::find().count(&a.app.db).await.unwrap(),
        jobs
    );
    // The same key with another body is refused; another client's keys are its own.
    let (status, v) = json_of(
        send(&token, "k-1", json!({"users": [{"user_id": "carol"}]}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        v["error"]["details"]["fields"]
            .get("Idempotency-Key")
            .is_some()
    );
    let (status, v) = json_of(send(&other, "k-1", body.clone()).await.unwrap()).await;
    assert_eq!(
        status, 422,
        "another client's same request is new (and the users exist): {v}"
    );
    // A key stored in the database answers on another instance too.
    let b = crate::helpers::spawn_app_on(&a.app.database_url, |_| {}).await;
    let replay = reqwest::Client::new()
        .post(format!("{}/api/v1/users", b.addr))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("idempotency-key", "k-1")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.text().await.unwrap(), first);
    // Answers are kept for MAMA_IDEMPOTENCY_TTL_HOURS: the purge keeps a young
    // one, and once it is older the same key is a new request (here: the users
    // exist, so 422 instead of the first answer).
    let ttl = std::time::Duration::from_secs(3600);
    assert_eq!(
        mama::api::write::purge_idempotency(&a.app.db, ttl)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        mama::api::write::purge_idempotency(&a.app.db, std::time::Duration::ZERO)
            .await
            .unwrap(),
        1
    );
    let (status, _) = json_of(send(&token, "k-1", body.clone()).await.unwrap()).await;
    assert_eq!(status, 422, "the key was forgotten: a new request");
    // Bulk and services POSTs too.
    let bulk = json!({"user_ids": ["alice"], "op": "models.add", "values": ["m"]});
    let r1 = a
        .call(
            reqwest::Method::POST,
            &token,
            "/users/bulk",
            Some(bulk.clone()),
            &[("idempotency-key", "b-1")],
        )
        .await;
    let (s1, v1) = json_of(r1).await;
    let r2 = a
        .call(
            reqwest::Method::POST,
            &token,
            "/users/bulk",
            Some(bulk.clone()),
            &[("idempotency-key", "b-1")],
        )
        .await;
    let (s2, v2) = json_of(r2).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(v1, v2, "the replay says 1 changed, as the first answer did");
    assert_eq!(v1["changed"], 1);
    let (_, alice) = json_of(a.get(Some(&token), "/api/v1/users/alice").await).await;
    assert_eq!(alice["version"], 2, "changed once");
    let svc = json!({"name": "chat"});
    let s1 = a
        .call(
            reqwest::Method::POST,
            &token,
            "/services",
            Some(svc.clone()),
            &[("idempotency-key", "s-1")],
        )
        .await
        .status();
    let s2 = a
        .call(
            reqwest::Method::POST,
            &token,
            "/services",
            Some(svc.clone()),
            &[("idempotency-key", "s-1")],
        )
        .await
        .status();
    assert_eq!((s1.as_u16(), s2.as_u16()), (201, 201));
    let s3 = a.post(&token, "/services", svc).await.status();
    assert_eq!(s3, 409, "without the key the second add is a duplicate");
    // A bad key is named.
    let (status, _) = json_of(send(&token, &"k".repeat(300), body.clone()).await.unwrap()).await;
    assert_eq!(status, 422);
    let replays = a
        .app
        .events()
        .await
        .into_iter()
        .filter(|e| e.details.contains("idempotent_replay"))
        .count();
    assert!(replays >= 3, "every replay is audited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_changes_preview_the_ui_counts_then_apply_in_one_batch() {
    let a = spawn_api_app(|_| {}).await;
    let (_, token) = a.client(&[Scope::UsersWrite], None).await;
    a.service("chat").await;
    a.service("wiki").await;
    a.user("u1", &["m1"], &["chat"]).await;
    a.user("u2", &["m1", "m2"], &[]).await;
    a.user("u3", &[], &["chat"]).await;
    // Dry run: the preview's counts, nothing written.
    let (status, v) = json_of(
        a.post(
            &token,
            "/users/bulk",
            json!({"user_ids": ["u1", "u2", "ghost"], "op": "models.add", "values": ["m2"], "dry_run": true}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (
            v["selected"].as_u64(),
            v["changed"].as_u64(),
            v["unchanged"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(names(&v["not_found"]), ["ghost"]);
    assert_eq!(names(&v["changed_user_ids"]), ["u1"]);
    assert_eq!(v["summary"][0], "Add m2 to 1 user. 1 user already has it.");
    assert_eq!(v["batch_id"], Value::Null);
    let (_, u1) = json_of(a.get(Some(&token), "/api/v1/users/u1").await).await;
    assert_eq!(names(&u1["models"]), ["m1"], "a dry run writes nothing");
    // The UI computes the same preview (one set of functions).
    let sa = a.app.super_admin().await;
    let preview = sa
        .post_form(
            "/users/bulk/preview",
            &[
                ("ids", "u1"),
                ("ids", "u2"),
                ("ids", "ghost"),
                ("op", "models.add"),
                ("models", "m2"),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(
        preview.contains("Add m2 to 1 user. 1 user already has it."),
        "{preview:.2000}"
    );
    // Apply.
    let (status, v) = json_of(
        a.post(
            &token,
            "/users/bulk",
            json!({"user_ids": ["u1", "u2"], "op": "models.add", "values": ["m2"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let batch = v["batch_id"].as_str().unwrap().to_string();
    let (_, b) = json_of(
        a.get(Some(&token), &format!("/api/v1/batches/{batch}"))
            .await,
    )
    .await;
    assert_eq!(b["total"], 1, "one job per changed user");
    // By filter; services; organisation; rotate; delete.
    let (status, v) = json_of(
        a.post(
            &token,
            "/users/bulk",
            json!({"filter": {"service": "chat"}, "op": "services.add", "values": ["wiki"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(names(&v["changed_user_ids"]), ["u1", "u3"]);
    let (_, v) = json_of(
        a.post(
            &token,
            "/users/bulk",
            json!({"user_ids": ["u1", "u2"], "op": "organisation.set", "values": ["Org Z"]}),
        )
        .await,
    )
    .await;
    assert_eq!(v["changed"], 2);
    let (_, page) = json_of(
        a.get(Some(&token), "/api/v1/users?organisation=Org%20Z")
            .await,
    )
    .await;
    assert_eq!(page["users"].as_array().unwrap().len(), 2);
    let hint_before = a.key_of("u2").await;
    let (_, v) = json_of(
        a.post(
            &token,
            "/users/bulk",
            json!({"user_ids": ["u2"], "op": "rotate_key"}),
        )
        .await,
    )
    .await;
    assert_eq!(v["changed"], 1, "{v}");
    assert_ne!(a.key_of("u2").await, hint_before);
    let (_, v) = json_of(
        a.post(
            &token,
            "/users/bulk",
            json!({"user_ids": ["u3"], "op": "delete"}),
        )
        .await,
    )
    .await;
    assert_eq!(v["changed"], 1);
    assert_eq!(a.get(Some(&token), "/api/v1/users/u3").await.status(), 404);
    // Refusals name the field (and the unknown service).
    for (body, field) in [
        (
            json!({"user_ids": ["u1"], "op": "services.add", "values": ["nope"]}),
            "values",
        ),
        (json!({"user_ids": ["u1"], "op": "explode"}), "op"),
        (
            json!({"user_ids": ["u1"], "filter": {}, "op": "delete"}),
            "user_ids",
        ),
        (json!({"op": "delete"}), "user_ids"),
        (json!({"user_ids": ["ghost"], "op": "delete"}), "user_ids"),
        (
            json!({"user_ids": ["bad id"], "op": "delete"}),
            "user_ids[0]",
        ),
        (
            json!({"user_ids": ["u1"], "op": "delete", "values": ["x"]}),
            "values",
        ),
        (
            json!({"user_ids": ["u1"], "op": "organisation.set"}),
            "values",
        ),
        (
            json!({"filter": {"colour": "red"}, "op": "delete"}),
            "filter.colour",
        ),
        (
            json!({"user_ids": ["u1"], "op": "delete", "force": true}),
            "force",
        ),
    ] {
        let (status, v) = json_of(a.post(&token, "/users/bulk", body.clone()).await).await;
        assert_eq!(status, 422, "{body}: {v}");
        assert!(
            v["error"]["details"]["fields"].get(field).is_some(),
            "{body}: {v}"
        );
        if field == "values" && body["op"] == "services.add" {
            assert!(
                v["error"]["message"].as_str().unwrap().contains("nope"),
                "{v}"
            );
        }
    }
    let ids: Vec<String> = (0..10_001).map(|i| format!("u{i}")).collect();
    let (status, _) = json_of(
        a.post(
            &token,
            "/users/bulk",
            json!({"user_ids": ids, "op": "delete"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 413);
    assert_eq!(a.users_count().await, 2);
    // Each bulk call is one audit event; applied ones carry before and after.
    let events = a.app.events().await;
    let applied: Vec<_> = events
        .iter()
        .filter(|e| e.action == "api.users.bulk" && e.outcome == "success")
        .collect();
    assert_eq!(applied.len(), 5);
    for e in applied {
        let d: Value = serde_json::from_str(&e.details).unwrap();
        assert!(
            d.get("before").is_some() && d.get("after").is_some(),
            "{}",
            e.details
        );
    }
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "api.users.bulk_preview")
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_users_are_created_in_one_call() {
    let a = spawn_api_app(|_| {}).await;
    let (_, token) = a.client(&[Scope::UsersWrite], None).await;
    a.service("chat").await;
    let users: Vec<Value> = (0..10_000)
        .map(|i| {
            json!({"user_id": format!("bulk-{i:05}"), "organisation": format!("Org {}", i % 7),
                        "models": ["gpt-4o"], "services": ["chat"]})
        })
        .collect();
    let r = a
        .http
        .post(format!("{}/api/v1/users", a.app.addr))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(json!({"users": users}).to_string())
        .timeout(Duration::from_secs(300))
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(status, 201, "{:.500}", v.to_string());
    assert_eq!(v["created"], 10_000);
    assert_eq!(a.users_count().await, 10_000);
    let batch = v["batch_id"].as_str().unwrap();
    let (_, b) = json_of(
        a.get(Some(&token), &format!("/api/v1/batches/{batch}"))
            .await,
    )
    .await;
    assert_eq!(b["total"], 10_000);
    let (_, page) = json_of(
        a.get(
            Some(&token),
            "/api/v1/users?service=chat&organisation=Org%203&limit=1000",
        )
        .await,
    )
    .await;
    assert_eq!(page["users"].as_array().unwrap().len(), 1000);
    // And bulk-add a model to all 10,000 in one call.
    let ids: Vec<String> = (0..10_000).map(|i| format!("bulk-{i:05}")).collect();
    let r = a
        .http
        .post(format!("{}/api/v1/users/bulk", a.app.addr))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(json!({"user_ids": ids, "op": "models.add", "values": ["gpt-4o-mini"]}).to_string())
        .timeout(Duration::from_secs(300))
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(status, 200);
    assert_eq!(v["changed"], 10_000);
    let (_, page) = json_of(
        a.get(Some(&token), "/api/v1/users?model=gpt-4o-mini&limit=1")
            .await,
    )
    .await;
    assert_eq!(page["users"][0]["user_id"], "bulk-00000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_are_listed_added_renamed_and_removed_through_the_api() {
    let a = spawn_api_app(|_| {}).await;
    let (_, token) = a
        .client(&[Scope::ServicesWrite, Scope::UsersWrite], None)
        .await;
    let (status, v) = json_of(
        a.post(
            &token,
            "/services",
            json!({"name": "chat", "description": "Chat"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(
        v,
        json!({"name": "chat", "description": "Chat", "users": 0})
    );
    for (body, status, field) in [
        (json!({"name": "chat"}), 409, None),
        (json!({"name": "bad name!"}), 422, Some("name")),
        (json!({"description": "x"}), 422, Some("name")),
        (json!({"name": "ok", "colour": 1}), 422, Some("colour")),
    ] {
        let (s, v) = json_of(a.post(&token, "/services", body.clone()).await).await;
        assert_eq!(s, status, "{body}: {v}");
        if let Some(f) = field {
            assert!(
                v["error"]["details"]["fields"].get(f).is_some(),
                "{body}: {v}"
            );
        }
    }
    a.user("alice", &[], &["chat"]).await;
    let (status, v) = json_of(a.get(Some(&token), "/api/v1/services").await).await;
    assert_eq!(status, 200);
    assert_eq!(v["services"][0]["users"], 1);
    // Rename: its users are re-synced.
    let (status, v) = json_of(
        a.call(
            reqwest::Method::PATCH,
            &token,
            "/services/chat",
            Some(json!({"name": "chat-v2"})),
            &[],
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["name"], "chat-v2");
    assert_eq!(v["description"], "Chat");
    let (_, alice) = json_of(a.get(Some(&token), "/api/v1/users/alice").await).await;
    assert_eq!(names(&alice["services"]), ["chat-v2"]);
    assert_eq!(
        a.call(
            reqwest::Method::PATCH,
            &token,
            "/services/nope",
            Some(json!({"name": "x"})),
            &[]
        )
        .await
        .status(),
        404
    );
    // Delete: refused while used (naming the user), then done.
    let (status, v) = json_of(
        a.call(
            reqwest::Method::DELETE,
            &token,
            "/services/chat-v2",
            None,
            &[],
        )
        .await,
    )
    .await;
    assert_eq!(status, 409);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("alice"),
        "{v}"
    );
    let (s, _) = json_of(
        a.post(
            &token,
            "/users/bulk",
            json!({"user_ids": ["alice"], "op": "services.remove", "values": ["chat-v2"]}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        a.call(
            reqwest::Method::DELETE,
            &token,
            "/services/chat-v2",
            None,
            &[]
        )
        .await
        .status(),
        204
    );
    assert_eq!(
        a.call(
            reqwest::Method::DELETE,
            &token,
            "/services/chat-v2",
            None,
            &[]
        )
        .await
        .status(),
        404
    );
    let events = a.app.events().await;
    for action in [
        "api.service.create",
        "api.service.update",
        "api.service.delete",
    ] {
        let e = events
            .iter()
            .find(|e| e.action == action && e.outcome == "success")
            .unwrap();
        assert!(
            e.details.contains("\"before\"") && e.details.contains("\"after\""),
            "{action}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_covers_every_write_route_and_x_internal_auth() {
    let a = spawn_api_app(|_| {}).await;
    let (_, doc) = json_of(a.get(None, "/api/v1/openapi.json").await).await;
    for (path, methods) in [
        ("/api/v1/users", &["get", "post"][..]),
        ("/api/v1/users/{user_id}", &["get", "patch", "delete"][..]),
        ("/api/v1/users/bulk", &["post"][..]),
        ("/api/v1/batches/{batch_id}", &["get"][..]),
        ("/api/v1/services", &["get", "post"][..]),
        ("/api/v1/services/{name}", &["patch", "delete"][..]),
        ("/api/v1/keys/lookup", &["post"][..]),
    ] {
        for m in methods {
            let op = &doc["paths"][path][m];
            assert!(op.is_object(), "{m} {path} is not documented");
            let sec = op["security"].to_string();
            assert!(
                sec.contains("internal_auth") && sec.contains("bearer"),
                "{m} {path}: {sec}"
            );
        }
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["internal_auth"]["name"],
        "X-Internal-Auth"
    );
    let schemas = &doc["components"]["schemas"];
    for s in [
        "UserOut",
        "BulkRequest",
        "BulkResponse",
        "CreateUsersRequest",
        "ServiceIn",
        "BatchOut",
    ] {
        assert!(schemas[s].is_object(), "{s}");
    }
    assert!(
        schemas["BulkRequest"].to_string().contains("models.add"),
        "an example"
    );
    let post_users = doc["paths"]["/api/v1/users"]["post"].to_string();
    assert!(post_users.contains("Idempotency-Key") && post_users.contains("422"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_created_and_bulk_changed_through_the_api_reach_litellm_exactly() {
    let Some((base, master)) = peer() else { return };
    let a = spawn_api_app(|s| fast_sync(s, &base, &master, Duration::from_secs(10))).await;
    let (_, token) = a
        .client(&[Scope::UsersWrite, Scope::ServicesWrite], None)
        .await;
    let sfx = rand_suffix();
    for s in ["search", "wiki"] {
        assert_eq!(
            a.post(&token, "/services", json!({"name": s}))
                .await
                .status(),
            201
        );
    }
    let ids: Vec<String> = (0..3).map(|i| format!("api-{i}-{sfx}")).collect();
    let (status, v) = json_of(
        a.post(
            &token,
            "/users",
            json!({"users": ids.iter().enumerate().map(|(i, id)| json!({
                "user_id": id, "organisation": "Research", "models": ["gpt-4o"],
                "services": ["wiki"], "extra": format!("desk {i}"), "key_alias": format!("mama-{id}")
            })).collect::<Vec<_>>()}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let (_, v) = json_of(
        a.post(
            &token,
            "/users/bulk",
            json!({"user_ids": &ids[..2], "op": "models.add", "values": ["gpt-4o-mini"]}),
        )
        .await,
    )
    .await;
    let batch = v["batch_id"].as_str().unwrap().to_string();
    let (_, v) = json_of(
        a.post(
            &token,
            "/users/bulk",
            json!({"user_ids": &ids[1..], "op": "services.add", "values": ["search"]}),
        )
        .await,
    )
    .await;
    assert_eq!(v["changed"], 2);
    drain(&a.app).await;
    let (_, b) = json_of(
        a.get(Some(&token), &format!("/api/v1/batches/{batch}"))
            .await,
    )
    .await;
    assert_eq!(
        (b["done"].as_i64(), b["complete"].as_bool()),
        (Some(2), Some(true)),
        "{b}"
    );
    let want = [
        (vec!["gpt-4o", "gpt-4o-mini"], vec!["wiki"]),
        (vec!["gpt-4o", "gpt-4o-mini"], vec!["search", "wiki"]),
        (vec!["gpt-4o"], vec!["search", "wiki"]),
    ];
    for (i, id) in ids.iter().enumerate() {
        let (_, u) = json_of(a.get(Some(&token), &format!("/api/v1/users/{id}")).await).await;
        assert_eq!(u["sync_state"], "synced", "{u}");
        let hash = mama::crypto::sha256_hex(&a.key_of(id).await);
        let info = litellm_info(&base, &master, &hash)
            .await
            .expect("LiteLLM has the key");
        assert_eq!(sorted(&info["models"]), want[i].0, "{id}");
        assert_eq!(info["user_id"], json!(id));
        assert_eq!(info["key_alias"], json!(format!("mama-{id}")));
        assert_eq!(
            info["metadata"],
            json!({"organisation": "Research", "services": want[i].1, "extra": format!("desk {i}"), "managed_by": "mama"})
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_apply_is_a_no_op_and_an_edit_is_planned_exactly_then_applied() {
    let a = spawn_api_app(|_| {}).await;
    a.service("chat").await;
    a.service("wiki").await;
    a.user("alice", &["gpt-4o"], &["chat"]).await;
    a.user("bob", &["gpt-4o", "m2"], &["chat", "wiki"]).await;
    let db = &a.app.db;
    let mut exported = vec![];
    assert_eq!(export_to(db, &mut exported).await.unwrap(), 2);
    let exported = String::from_utf8(exported).unwrap();
    assert!(!exported.contains(&a.key_of("alice").await));
    let cipher = &a.cipher;
    let run = |text: String, dry: bool, prune: bool| async move {
        let mut out = vec![];
        let code = apply_text(db, cipher, "spec.yaml", &text, dry, prune, &mut out)
            .await
            .unwrap();
        (code, String::from_utf8(out).unwrap())
    };
    let (code, out) = run(exported.clone(), true, false).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("plan: 0 to create, 0 to change, 4 unchanged, 0 to delete"),
        "{out}"
    );
    let (code, _) = run(exported.clone(), true, true).await;
    assert_eq!(code, 0, "with --prune too");
    // Edit one user's models.
    let edited = exported.replacen("- m2\n", "- m3\n", 1);
    assert_ne!(edited, exported, "{exported}");
    let (code, out) = run(edited.clone(), true, false).await;
    assert_eq!(code, 2, "{out}");
    let changes: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_start().starts_with(['+', '~', '-']))
        .collect();
    assert_eq!(
        changes,
        ["  ~ change bob: models [gpt-4o, m2] → [gpt-4o, m3]"],
        "{out}"
    );
    assert!(
        out.contains("plan: 0 to create, 1 to change, 3 unchanged, 0 to delete"),
        "{out}"
    );
    let (code, out) = run(edited.clone(), false, false).await;
    assert_eq!(code, 0, "{out}");
    let batch = out.lines().last().unwrap().to_string();
    assert_eq!(
        batch.len(),
        32,
        "the batch id alone on the last line: {out}"
    );
    let jobs = sync_job::Entity::find().all(db).await.unwrap();
    assert_eq!(
        jobs.iter()
            .filter(|j| j.batch_id.as_deref() == Some(&batch))
            .count(),
        1
    );
    let (code, out) = run(edited.clone(), true, false).await;
    assert_eq!(code, 0, "{out}");
    // Create, change and (only with --prune) delete, in one go.
    // Written in the export's own list style.
    let carol = if edited.contains("\n- user_id:") {
        "- user_id: carol\n  organisation: New\n  models: [gpt-4o]\n  services: [wiki]\n"
    } else {
        "  - user_id: carol\n    organisation: New\n    models: [gpt-4o]\n    services: [wiki]\n"
    };
    let next = format!("{edited}{carol}")
        .replace("user_id: alice", "user_id: dave")
        .replace("alias-alice", "alias-dave");
    let (code, out) = run(next.clone(), true, false).await;
    assert_eq!(code, 2);
    assert!(
        out.contains("  + create carol: organisation \"New\", models [gpt-4o], services [wiki]"),
        "{out}"
    );
    assert!(out.contains("  + create dave"), "{out}");
    assert!(
        !out.contains("- delete"),
        "no delete without --prune: {out}"
    );
    let (code, out) = run(next.clone(), true, true).await;
    assert_eq!(code, 2);
    assert!(out.contains("  - delete alice"), "{out}");
    let (code, out) = run(next.clone(), false, true).await;
    assert_eq!(code, 0, "{out}");
    let mut ids: Vec<String> = user::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.user_id)
        .collect();
    ids.sort();
    assert_eq!(ids, ["bob", "carol", "dave"]);
    assert_eq!(run(next, true, true).await.0, 0);
    let applied = a
        .app
        .events()
        .await
        .into_iter()
        .filter(|e| e.action == "spec.apply")
        .count();
    assert_eq!(applied, 2, "each real apply is one audit event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_spec_lists_every_error_with_its_line_and_writes_nothing() {
    let a = spawn_api_app(|_| {}).await;
    a.service("chat").await;
    let text = "services:\n  - name: wiki\n  - name: bad name\nusers:\n  - user_id: ok\n    services: [wiki, chat]\n  - user_id: bad id\n  - user_id: ok\n    services: [nope]\n    models: [\"a b\"]\n";
    let mut out = vec![];
    let code = apply_text(&a.app.db, &a.cipher, "s.yaml", text, false, false, &mut out)
        .await
        .unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, 1, "{out}");
    for want in [
        "s.yaml:line 3: services[1].name",
        "s.yaml:line 7: users[1].user_id",
        "s.yaml:line 8: user `ok` is listed twice (first at line 5)",
        "s.yaml:line 8: users[2].models",
        "s.yaml:line 8: users[2].services: unknown service `nope`",
        "5 error(s) in s.yaml; nothing was written",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    assert_eq!(a.users_count().await, 0);
    // With --prune a service only in the database is not there to use.
    let mut out = vec![];
    let code = apply_text(
        &a.app.db,
        &a.cipher,
        "s.yaml",
        "users:\n  - user_id: x\n    services: [chat]\n",
        true,
        true,
        &mut out,
    )
    .await
    .unwrap();
    assert_eq!(code, 1, "{}", String::from_utf8_lossy(&out));
    // Unknown fields and YAML errors name their line.
    let mut out = vec![];
    let code = apply_text(
        &a.app.db,
        &a.cipher,
        "s.yaml",
        "users:\n  - user_id: x\n    colour: red\n",
        true,
        false,
        &mut out,
    )
    .await
    .unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, 1);
    assert!(out.contains("line 3") && out.contains("colour"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_cli_manages_the_catalogue_and_import_can_create_services() {
    let a = spawn_api_app(|_| {}).await;
    let db = &a.app.db;
    let run = |action: ServicesAction| async move {
        let mut out = vec![];
        let code = run_on(db, action, &mut out).await.unwrap();
        (code, String::from_utf8(out).unwrap())
    };
    assert_eq!(
        run(ServicesAction::Add {
            name: "chat".into(),
            description: "Chat".into()
        })
        .await
        .0,
        0
    );
    let (code, out) = run(ServicesAction::Add {
        name: "chat".into(),
        description: String::new(),
    })
    .await;
    assert_eq!(code, 1);
    assert!(out.contains("already exists"), "{out}");
    assert_eq!(
        run(ServicesAction::Add {
            name: "bad name".into(),
            description: String::new()
        })
        .await
        .0,
        1
    );
    a.user("alice", &[], &["chat"]).await;
    let (code, out) = run(ServicesAction::List).await;
    assert_eq!(code, 0);
    assert_eq!(out, "chat\t1\tChat\n");
    let (code, out) = run(ServicesAction::Rename {
        name: "chat".into(),
        new_name: "chat2".into(),
        description: None,
    })
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 user(s) queued"), "{out}");
    let (code, out) = run(ServicesAction::Remove {
        name: "chat2".into(),
    })
    .await;
    assert_eq!(code, 1);
    assert!(out.contains("alice"), "{out}");
    assert_eq!(
        run(ServicesAction::Remove {
            name: "nope".into()
        })
        .await
        .0,
        1
    );
    // users import --create-services.
    let csv = "user_id,organisation\nimp-1,Org\nimp-2,Org\n";
    let mut out = vec![];
    let code = mama::users::cli::import_with(
        db,
        &a.cipher,
        csv,
        "gpt-4o",
        "chat2,search",
        "",
        false,
        false,
        &mut out,
    )
    .await
    .unwrap();
    assert_eq!(code, 1, "without the flag an unknown service is refused");
    assert!(String::from_utf8_lossy(&out).contains("search"));
    let mut out = vec![];
    let code = mama::users::cli::import_with(
        db,
        &a.cipher,
        csv,
        "gpt-4o",
        "chat2,search",
        "",
        false,
        true,
        &mut out,
    )
    .await
    .unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("created service search"), "{out}");
    let (_, out) = run(ServicesAction::List).await;
    assert_eq!(out, "chat2\t3\tChat\nsearch\t2\t\n");
    let actions: Vec<String> = a.app.events().await.into_iter().map(|e| e.action).collect();
    for want in [
        "service.create",
        "service.update",
        "service.list",
        "users.import",
    ] {
        assert!(actions.iter().any(|x| x == want), "{want}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mama_binary_provisions_with_the_documented_commands_and_exit_codes() {
    use base64::Engine;
    let a = spawn_api_app(|_| {}).await;
    let b64 = base64::engine::general_purpose::STANDARD;
    let dir = std::env::temp_dir().join(format!("mama-prov-{}", rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mama"))
            .args(args)
            .env("DATABASE_URL", &a.app.database_url)
            .env("MAMA_SECRET_KEY", b64.encode([1u8; 64]))
            .env("MAMA_ENCRYPTION_KEY", b64.encode([2u8; 32]))
            .env("RUST_LOG", "warn")
            .current_dir(&dir)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (code, out) = run(&[
        "api-client",
        "create",
        "--name",
        "hr",
        "--scope",
        "users:write",
        "--scope",
        "services:write",
    ]);
    assert_eq!(code, 0, "{out}");
    let token = out.trim_end().lines().last().unwrap().to_string();
    assert_eq!(a.get(Some(&token), "/api/v1/users").await.status(), 200);
    assert_eq!(a.get(Some(&token), "/api/v1/services").await.status(), 200);
    assert_eq!(run(&["services", "add", "chat"]).0, 0);
    let csv = dir.join("users.csv");
    std::fs::write(&csv, "alice,Org A\nbob,Org B\n").unwrap();
    let csv = csv.to_str().unwrap();
    assert_eq!(
        run(&["users", "import", csv, "--services", "chat,wiki"]).0,
        1
    );
    let (code, out) = run(&[
        "users",
        "import",
        csv,
        "--models",
        "gpt-4o",
        "--services",
        "chat,wiki",
        "--create-services",
    ]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(&["services", "list"]);
    assert_eq!((code, out.as_str()), (0, "chat\t2\t\nwiki\t2\t\n"));
    let (code, yaml) = run(&["export", "--format", "yaml"]);
    assert_eq!(code, 0);
    let spec = dir.join("state.yaml");
    std::fs::write(&spec, &yaml).unwrap();
    let spec = spec.to_str().unwrap();
    let (code, out) = run(&["apply", spec, "--dry-run"]);
    assert_eq!(code, 0, "{out}");
    std::fs::write(spec, yaml.replace("Org B", "Org C")).unwrap();
    let (code, out) = run(&["apply", spec, "--dry-run"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("~ change bob: organisation \"Org B\" → \"Org C\""),
        "{out}"
    );
    let (code, out) = run(&["apply", spec]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(run(&["apply", spec, "--dry-run"]).0, 0);
    std::fs::write(spec, "users:\n  - user_id: x\n    servics: []\n").unwrap();
    let (code, out) = run(&["apply", spec]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("line 3"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
