//! An admin's day over HTTP (issue 11): session expiry for htmx requests, polls
//! that neither keep a session alive nor flood the audit trail, return to the
//! previous page after login (never to another site), the CSRF token as a header,
//! messages in words, live sync state, key alias templates, retired models.
use std::time::Duration;

use mama::entities::admin_session;
use sea_orm::{EntityTrait, sea_query::Expr};

use crate::{
    helpers::*,
    users::{add_service, catalogue, create_users},
};

/// The headers htmx sends for a poll marked `hx-headers='{"X-Mama-Background": "1"}'`.
async fn poll(b: &Browser, path: &str, from: &str) -> reqwest::Response {
    b.client
        .get(b.url(path))
        .header("HX-Request", "true")
        .header("X-Mama-Background", "1")
        .header("HX-Current-URL", b.url(from))
        .send()
        .await
        .unwrap()
}

async fn last_seen(app: &TestApp) -> chrono::DateTime<chrono::Utc> {
    admin_session::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.last_seen_at)
        .max()
        .expect("a session")
}

/// Moves every session's last activity `secs` into the past (no waiting).
async fn idle_for(app: &TestApp, secs: i64) {
    admin_session::Entity::update_many()
        .col_expr(
            admin_session::Column::LastSeenAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::seconds(secs)),
        )
        .exec(&app.db)
        .await
        .unwrap();
}

async fn count(app: &TestApp, action: &str) -> usize {
    app.events()
        .await
        .iter()
        .filter(|e| e.action == action)
        .count()
}

/// Ten minutes of an open tab at the default 2-second poll are 300 polls, sent
/// here back to back. The idle timeout is 10 minutes, and the session's last
/// activity is set 40 s back first: any request that counted as activity would
/// move it (the row is touched once idle ≥ 1/20 of the timeout, 30 s), whatever
/// the machine's speed.
const TEN_MINUTES_OF_POLLS: usize = 300;

async fn ten_minutes_of(app: &TestApp, b: &Browser, path: &str, from: &str) -> Vec<u16> {
    let mut statuses = vec![];
    for _ in 0..TEN_MINUTES_OF_POLLS {
        let r = poll(b, path, from).await;
        statuses.push(r.status().as_u16());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = app;
    statuses
}

#[tokio::test]
async fn ten_minutes_of_an_open_sync_tab_write_a_handful_of_events_and_do_not_keep_the_session_alive()
 {
    let app = spawn_app_with(|s| s.session_idle_timeout = Duration::from_secs(600)).await;
    let b = app.super_admin().await;
    assert_eq!(b.get("/sync").await.status(), 200);
    idle_for(&app, 40).await;
    let seen = last_seen(&app).await;
    let before = count(&app, "sync.view").await;
    let statuses = ten_minutes_of(&app, &b, "/sync/status", "/sync").await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let stored = count(&app, "sync.view").await - before;
    assert!(
        stored <= 3,
        "{TEN_MINUTES_OF_POLLS} polls of an unchanged /sync stored {stored} events"
    );
    assert_eq!(last_seen(&app).await, seen, "polls are not activity");

    // Once the idle time has passed, the next poll is refused and sends the page to
    // /login, saying why and where it was.
    idle_for(&app, 601).await;
    let r = poll(&b, "/sync/status", "/sync").await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers().get("hx-redirect").unwrap(),
        "/login?expired=1&next=%2Fsync"
    );
    let last = app.events().await.pop().unwrap();
    assert_eq!(
        (last.action.as_str(), last.outcome.as_str()),
        ("sync.view", "denied")
    );
    assert_eq!(last.http_status, Some(401));
    assert!(last.details.contains("\"session\":\"expired\""));
    assert_eq!(
        location(&b.get("/sync").await),
        "/login?next=%2Fsync",
        "the session is over"
    );
}

#[tokio::test]
async fn ten_minutes_of_an_open_users_tab_with_pending_rows_write_a_handful_of_events() {
    // No LiteLLM: new users stay pending, so /users keeps polling their state.
    let app = spawn_app_with(|s| s.session_idle_timeout = Duration::from_secs(600)).await;
    let b = app.super_admin().await;
    create_users(&b, "p1,Org\np2,Org", &[], &[]).await;
    let (_, body) = b.page("/users").await;
    assert!(
        body.contains(r#"hx-get="/users/sync-state?ids=p1,p2""#),
        "{body}"
    );
    assert!(body.contains(r#"hx-headers='{"X-Mama-Background": "1"}'"#));
    idle_for(&app, 40).await;
    let seen = last_seen(&app).await;
    let before = app.events().await.len();
    let statuses = ten_minutes_of(&app, &b, "/users/sync-state?ids=p1,p2", "/users").await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let stored = app.events().await.len() - before;
    assert!(stored <= 3, "300 polls stored {stored} events");
    assert_eq!(last_seen(&app).await, seen, "polls are not activity");
}

#[tokio::test]
async fn users_rows_poll_only_what_is_pending_and_the_poller_stops_when_nothing_is() {
    let app = spawn_app().await;
    let b = app.super_admin().await;
    create_users(&b, "p1,Org\np2,Org", &[], &[]).await;
    app.sql("UPDATE users SET sync_state = 'synced' WHERE user_id = 'p1'")
        .await;
    let r = poll(&b, "/users/sync-state?ids=p1,p2", "/users").await;
    let body = r.text().await.unwrap();
    // Both rows' states are swapped in; only p2 is asked about again.
    assert!(
        body.contains(r#"hx-swap-oob="true" class="sync sync-synced""#),
        "{body}"
    );
    assert!(
        body.contains(r#"hx-get="/users/sync-state?ids=p2""#),
        "{body}"
    );
    app.sql("UPDATE users SET sync_state = 'synced'").await;
    let body = poll(&b, "/users/sync-state?ids=p2", "/users")
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains(r#"<div id="sync-poller"></div>"#), "{body}");
    assert!(!body.contains("hx-get"), "no trigger: polling stops");
    let (_, page) = b.page("/users").await;
    assert!(!page.contains("sync-poller"), "nothing pending, no poller");
}

#[tokio::test]
async fn an_htmx_request_after_expiry_gets_401_and_a_redirect_back_to_its_page() {
    let app = spawn_app().await;
    let b = app.super_admin().await;
    create_users(&b, "bob,Org", &[], &[]).await;
    idle_for(&app, 3600).await;
    // The row click of the edit dialog, from a searched list.
    let r = b
        .client
        .get(b.url("/users/bob"))
        .header("HX-Request", "true")
        .header("HX-Current-URL", b.url("/users?q=bob"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "never a 303 an XHR would follow");
    assert!(r.headers().get("location").is_none());
    assert_eq!(
        r.headers().get("hx-redirect").unwrap(),
        "/login?expired=1&next=%2Fusers%3Fq%3Dbob"
    );
    let body = r.text().await.unwrap();
    assert!(
        !body.contains("name=\"password\""),
        "no login form to swap in"
    );
    let (_, login) = b.page("/login?expired=1&next=%2Fusers%3Fq%3Dbob").await;
    assert!(login.contains("Your session expired"), "{login}");
    assert!(
        login.contains(r#"name="next" value="/users?q=bob""#),
        "{login}"
    );
}

#[tokio::test]
async fn login_returns_to_the_page_given_in_next_but_never_to_another_site() {
    let app = spawn_app().await;
    app.super_admin().await;
    for (next, expected) in [
        ("/audit?action=user.list", "/audit?action=user.list"),
        ("/users?q=bob", "/users?q=bob"),
        ("//evil.example/x", "/users"),
        ("https://evil.example/", "/users"),
        ("/\\evil.example", "/users"),
        ("/%0d%0aSet-Cookie:x", "/%0d%0aSet-Cookie:x"),
        ("/login?next=/x", "/users"),
        ("/logout", "/users"),
        ("javascript:alert(1)", "/users"),
        ("", "/users"),
    ] {
        let b = app.browser();
        b.page(&format!("/login?next={}", urlencode(next))).await;
        let r = b
            .post_form(
                "/login",
                &[
                    ("username", "admin"),
                    ("password", STRONG_PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(
            (r.status().as_u16(), location(&r).as_str()),
            (303, expected),
            "next={next:?}"
        );
    }
    let (_, page) = app.browser().page("/login?next=%2F%2Fevil.example").await;
    assert!(!page.contains("name=\"next\""), "{page}");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn a_state_changing_htmx_request_carries_its_csrf_token_in_a_header() {
    let app = spawn_app().await;
    let b = app.super_admin().await;
    create_users(&b, "bob,Org", &[], &[]).await;
    let token = b.csrf().await;
    let post = |t: &str| {
        b.client
            .post(b.url("/users/bob/reveal"))
            .header("HX-Request", "true")
            .header("X-CSRF-Token", t)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("")
            .send()
    };
    assert_eq!(post("wrong").await.unwrap().status(), 403);
    let r = post(&token).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("revealed-key"));
    // No event's path carries the token.
    for e in app.events().await {
        let p = e.path.unwrap_or_default();
        assert!(!p.contains(&token) && !p.contains("csrf"), "{p}");
    }
}

#[tokio::test]
async fn an_auditor_sent_away_from_users_is_recorded_as_refused_not_as_a_listing() {
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    create_users(&sa, "bob,Org", &[], &[]).await;
    let auditor = app.account(&sa, "aud", "auditor").await;
    let r = auditor.get("/users").await;
    assert_eq!(location(&r), "/audit");
    let e = app.event_for(&request_id(&r)).await;
    assert_eq!(
        (e.action.as_str(), e.outcome.as_str()),
        ("user.list", "denied")
    );
    assert_eq!(e.targets, "[]", "no user was shown");
    assert!(e.details.contains("redirected_to"), "{}", e.details);
}

#[tokio::test]
async fn flash_messages_say_what_happened_in_words_with_a_link_to_follow_the_sync() {
    let app = spawn_app().await;
    let b = app.super_admin().await;
    catalogue(&app, &[("gpt-4o-mini", true)]).await;
    create_users(&b, "u1,A\nu2,A\nu3,A\nu4,A\nu5,A", &[], &[]).await;
    let (_, page) = b.page("/users").await;
    assert!(page.contains("Created 5 users."), "{page}");
    assert!(!page.contains("user(s)") && !page.contains("batch "));
    // Two of five already have the model.
    b.post_form(
        "/users/bulk/apply",
        &[
            ("op", "models.add"),
            ("models", "gpt-4o-mini"),
            ("ids", "u1"),
            ("ids", "u2"),
        ],
    )
    .await;
    b.page("/users").await;
    let r = b
        .post_form(
            "/users/bulk/apply",
            &[
                ("op", "models.add"),
                ("models", "gpt-4o-mini"),
                ("ids", "u1"),
                ("ids", "u2"),
                ("ids", "u3"),
                ("ids", "u4"),
                ("ids", "u5"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let (_, page) = b.page("/users").await;
    assert!(
        page.contains("Added gpt-4o-mini to 3 users. 2 already had it."),
        "{page}"
    );
    assert!(page.contains(r#"class="flash-link">Follow the sync</a>"#));
    assert!(page.contains(r#"href="/sync#batch-"#));
    // One user: singular everywhere.
    let r = b
        .post_form("/users/bulk/preview", &[("op", "delete"), ("ids", "u5")])
        .await;
    let body = r.text().await.unwrap();
    assert!(body.contains("<strong>1</strong> user selected."), "{body}");
    assert!(body.contains(">Delete 1 user</button>"), "{body}");
}

#[tokio::test]
async fn an_empty_list_offers_no_select_all_and_counts_use_plurals() {
    let app = spawn_app().await;
    let b = app.super_admin().await;
    let (_, page) = b.page("/users").await;
    assert!(!page.contains("Select all 0"), "{page}");
    assert!(!page.contains("id=\"all-matching\""));
    assert!(page.contains("0 users"));
    create_users(&b, "solo,Org", &[], &[]).await;
    let (_, page) = b.page("/users").await;
    assert!(
        page.contains(">1 user<") || page.contains(">1 user\n"),
        "{page}"
    );
    assert!(page.contains("Select all 1 user<") || page.contains("Select all 1 user\n"));
}

#[tokio::test]
async fn without_litellm_no_model_is_red_and_a_banner_says_why() {
    let app = spawn_app().await;
    let b = app.super_admin().await;
    catalogue(&app, &[("gpt-4o", true), ("old-model", false)]).await;
    create_users(&b, "erin,Org", &["old-model", "gpt-4o"], &[]).await;
    let (_, body) = b.page("/users").await;
    assert!(body.contains("LiteLLM is not configured"), "{body}");
    assert!(!body.contains("badge-red"), "{body}");
    assert!(!body.contains("no longer offered"), "{body}");
}

#[tokio::test]
async fn the_alias_template_names_new_users_uniquely_and_a_bulk_action_names_the_rest() {
    let app = spawn_app_with(|s| s.key_alias_template = "{user_id}".into()).await;
    let b = app.super_admin().await;
    create_users(&b, "a1,Org\na2,Org", &[], &[]).await;
    let alias = |id: &'static str| {
        let db = app.db.clone();
        async move {
            mama::users::queries::find(&db, id)
                .await
                .unwrap()
                .unwrap()
                .key_alias
        }
    };
    assert_eq!(alias("a1").await.as_deref(), Some("a1"));
    // An alias already held makes that line an error, like any alias.
    app.sql("UPDATE users SET key_alias = 'b1' WHERE user_id = 'a2'")
        .await;
    let r = create_users(&b, "b1,Org", &[], &[]).await;
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("The key alias “b1” is already another user"),
        "{body}"
    );
    // Users without an alias get one in bulk; a clash is counted, not forced.
    app.sql("UPDATE users SET key_alias = NULL").await;
    app.sql("UPDATE users SET key_alias = 'a2' WHERE user_id = 'a1'")
        .await;
    b.page("/users").await;
    let r = b
        .post_form(
            "/users/bulk/preview",
            &[("op", "alias"), ("ids", "a1"), ("ids", "a2")],
        )
        .await;
    let body = r.text().await.unwrap();
    assert!(body.contains("1 user already has one."), "{body}");
    assert!(
        body.contains("1 user cannot get one: the alias is taken."),
        "{body}"
    );
    app.sql("UPDATE users SET key_alias = NULL").await;
    let r = b
        .post_form(
            "/users/bulk/apply",
            &[("op", "alias"), ("ids", "a1"), ("ids", "a2")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(alias("a1").await.as_deref(), Some("a1"));
    assert_eq!(alias("a2").await.as_deref(), Some("a2"));
    let (_, page) = b.page("/users").await;
    assert!(page.contains("Gave 2 users a key alias."), "{page}");
}

#[tokio::test]
async fn models_counts_who_holds_a_retired_model_and_removes_it_from_all_after_a_preview() {
    let app = spawn_app_with(|s| {
        s.litellm = Some(mama::config::LiteLlmSettings {
            base_url: "http://127.0.0.1:9".into(),
            master_key: secrecy::SecretString::from("sk-test".to_string()),
            timeout: Duration::from_secs(1),
        });
        s.sync.worker_enabled = false;
        s.sync.models_refresh = Duration::from_secs(3600);
    })
    .await;
    let b = app.super_admin().await;
    catalogue(&app, &[("gpt-4o", true), ("old-model", false)]).await;
    add_service(&b, "wiki").await;
    create_users(&b, "r1,A\nr2,A\nr3,B", &["old-model", "gpt-4o"], &[]).await;
    create_users(&b, "k1,A", &["gpt-4o"], &[]).await;
    let (_, page) = b.page("/models").await;
    assert!(page.contains("3 users hold it"), "{page}");
    assert!(page.contains("Remove from all 3 users"), "{page}");
    let r = b
        .post_form(
            "/users/bulk/preview",
            &[
                ("op", "models.remove"),
                ("models", "old-model"),
                ("holding_model", "old-model"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(body.contains("Remove old-model from 3 users."), "{body}");
    assert!(body.contains(r#"name="holding_model" value="old-model""#));
    // By the sample's markup: a bare "k1" also turns up in the random CSRF token.
    assert!(body.contains("<code>r1</code>"), "{body}");
    assert!(
        !body.contains("<code>k1</code>"),
        "only holders are selected"
    );
    let r = b
        .post_form(
            "/users/bulk/apply",
            &[
                ("op", "models.remove"),
                ("models", "old-model"),
                ("holding_model", "old-model"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let (_, page) = b.page("/models").await;
    assert!(page.contains("nobody holds it"), "{page}");
    let e = app
        .events()
        .await
        .into_iter()
        .rfind(|e| e.action == "users.bulk_update")
        .unwrap();
    assert_eq!(e.target_count, 3);
}

#[tokio::test]
async fn catalogue_fetches_that_change_nothing_are_stored_once() {
    let Some(url) = std::env::var("MAMA_TEST_LITELLM_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        crate::webdriver::component_available("MAMA_TEST_LITELLM_URL", "the LiteLLM peer");
        eprintln!("skipping catalogue_fetches_that_change_nothing_are_stored_once");
        return;
    };
    let app = spawn_app().await;
    let key =
        std::env::var("MAMA_TEST_LITELLM_MASTER_KEY").unwrap_or_else(|_| "sk-mama-master".into());
    let client = mama::litellm::LiteLlm::new(
        &mama::config::LiteLlmSettings {
            base_url: url.trim_end_matches('/').to_string(),
            master_key: secrecy::SecretString::from(key),
            timeout: Duration::from_secs(10),
        },
        app.db.clone(),
    )
    .unwrap();
    for _ in 0..5 {
        assert!(!client.models().await.unwrap().is_empty());
    }
    let fetches: Vec<_> = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.action == "litellm.models.list")
        .collect();
    assert_eq!(fetches.len(), 1, "five identical fetches, one event");
    assert!(fetches[0].details.contains("\"models\":"));
}

#[tokio::test]
async fn the_page_timer_asks_how_much_idle_time_is_left_without_renewing_it() {
    let app = spawn_app_with(|s| s.session_idle_timeout = Duration::from_secs(600)).await;
    let b = app.super_admin().await;
    idle_for(&app, 100).await;
    let seen = last_seen(&app).await;
    let ask = || async {
        b.client
            .get(b.url("/session/idle"))
            .header("X-Mama-Background", "1")
            .send()
            .await
            .unwrap()
    };
    let r = ask().await;
    assert_eq!(r.status(), 200);
    let left = r.json::<serde_json::Value>().await.unwrap()["idle_left_secs"]
        .as_u64()
        .unwrap();
    assert!((495..=500).contains(&left), "{left}");
    ask().await;
    assert_eq!(last_seen(&app).await, seen, "asking is not activity");
    assert_eq!(count(&app, "auth.session.check").await, 1, "stored once");
    // Activity in another tab (a real page) gives the time back.
    b.get("/users").await;
    let r = ask().await;
    let left = r.json::<serde_json::Value>().await.unwrap()["idle_left_secs"]
        .as_u64()
        .unwrap();
    assert!(left >= 598, "{left}");
    idle_for(&app, 601).await;
    let r = ask().await;
    assert_eq!(location(&r), "/login?expired=1");
}
