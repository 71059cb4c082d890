use std::time::Duration;

use crate::helpers::*;

#[tokio::test]
async fn the_seeded_admin_must_change_its_password_before_anything_else() {
    let app = spawn_app().await;
    let b = app.browser();
    let r = b.login("admin", "admin").await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account/password");
    // Every other page, and every form POST, is redirected to the password page.
    for path in ["/users", "/admins", "/audit", "/admins/new", "/"] {
        let r = b.get(path).await;
        let loc = location(&r);
        assert!(
            r.status() == 303 && (loc == "/account/password" || path == "/"),
            "{path}: {} {loc}",
            r.status()
        );
    }
    let r = b.create_account("eve", "admin", STRONG_PASSWORD).await;
    assert_eq!(
        (r.status().as_u16(), location(&r).as_str()),
        (303, "/account/password")
    );
    assert!(
        mama::admins::queries::find_by_username(&app.db, "eve")
            .await
            .unwrap()
            .is_none(),
        "no admin created"
    );
    let (status, body) = b.page("/account/password").await;
    assert_eq!(status, 200);
    assert!(body.contains("You must choose a new password"));

    let r = b.change_password("admin", STRONG_PASSWORD).await;
    assert_eq!(
        (r.status().as_u16(), location(&r).as_str()),
        (303, "/users")
    );
    assert_eq!(b.get("/users").await.status(), 200);
    assert_eq!(b.get("/admins").await.status(), 200);
    // The old password no longer works; the new one does and goes straight to /users.
    let b2 = app.browser();
    assert_eq!(b2.login("admin", "admin").await.status(), 401);
    let r = b2.login("admin", STRONG_PASSWORD).await;
    assert_eq!(
        (r.status().as_u16(), location(&r).as_str()),
        (303, "/users")
    );
}

#[tokio::test]
async fn a_login_without_or_with_a_wrong_csrf_token_is_refused_and_audited() {
    let app = spawn_app().await;
    let b = app.browser();
    b.page("/login").await;
    let r = b
        .post_raw("/login", &[("username", "admin"), ("password", "admin")])
        .await;
    assert_eq!(r.status(), 403);
    let ev = app.event_for(&request_id(&r)).await;
    assert_eq!(
        (ev.action.as_str(), ev.outcome.as_str(), ev.http_status),
        ("auth.login.failure", "denied", Some(403))
    );
    let r = b
        .post_raw(
            "/login",
            &[
                ("csrf_token", "forged"),
                ("username", "admin"),
                ("password", "admin"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("reload the page"));
    // A token from another browser session is no good either.
    let other = app.browser();
    let foreign = other.csrf().await;
    let r = b
        .post_raw(
            "/login",
            &[
                ("csrf_token", foreign.as_str()),
                ("username", "admin"),
                ("password", "admin"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    // No session was created by any of these.
    assert_eq!(b.get("/users").await.status(), 303);
}

#[tokio::test]
async fn five_failures_lock_the_account_even_against_the_right_password() {
    let app = spawn_app().await;
    let b = app.browser();
    for i in 1..=5 {
        let r = b.login("admin", "wrong password").await;
        assert_eq!(r.status(), 401, "attempt {i}");
        let rid = request_id(&r);
        let body = r.text().await.unwrap();
        let ev = app.event_for(&rid).await;
        assert_eq!(ev.outcome, "denied");
        assert!(body.contains("Wrong username or password"), "one answer");
        if i < 5 {
            assert_eq!(ev.action, "auth.login.failure");
        } else {
            assert_eq!(
                ev.action, "auth.lockout",
                "the fifth failure locks and is audited as a lockout"
            );
        }
    }
    let r = b.login("admin", "admin").await;
    assert_eq!(
        r.status(),
        401,
        "locked even with the right password, answered like a wrong one"
    );
    let rid = request_id(&r);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Wrong username or password")
    );
    assert_eq!(app.event_for(&rid).await.action, "auth.login.locked");
    let a = mama::admins::queries::find_by_username(&app.db, "admin")
        .await
        .unwrap()
        .unwrap();
    let pair = mama::admins::queries::ip_throttle(
        &app.db,
        &mama::admins::throttle::pair_key(a.id, "127.0.0.1"),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(pair.failures, 6, "five failures and the refused attempt");
    assert!(pair.updated_at > chrono::Utc::now() - chrono::Duration::minutes(1));
    assert!(
        pair.blocked_until.unwrap() > chrono::Utc::now() + chrono::Duration::minutes(14),
        "locked for 15 minutes from the fifth failure"
    );
}

#[tokio::test]
async fn a_lockout_ends_after_its_configured_duration() {
    let app = spawn_app_with(|s| {
        s.login_max_failures = 2;
        s.login_lockout = Duration::from_secs(2);
    })
    .await;
    let b = app.browser();
    b.login("admin", "nope nope").await;
    b.login("admin", "nope nope").await;
    assert_eq!(b.login("admin", "admin").await.status(), 401);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(
        location(&b.login("admin", "admin").await),
        "/account/password"
    );
}

#[tokio::test]
async fn an_address_with_many_failures_backs_off_exponentially() {
    let app = spawn_app_with(|s| {
        s.login_ip_free_failures = 3;
        s.login_ip_max_backoff = Duration::from_secs(900);
    })
    .await;
    let b = app.browser();
    // Spread over unknown accounts so no account lockout interferes.
    for i in 0..4 {
        let r = b.login(&format!("nobody{i}"), "whatever pass").await;
        assert_eq!(r.status(), 401, "failure {i}");
    }
    let r = b.login("admin", "admin").await;
    assert_eq!(
        r.status(),
        429,
        "the 4th failure blocks the address for 1 s"
    );
    assert!(r.headers().get("retry-after").is_some());
    let rid = request_id(&r);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Too many failed logins from your address")
    );
    let ev = app.event_for(&rid).await;
    assert_eq!(
        (ev.action.as_str(), ev.outcome.as_str()),
        ("auth.login.throttled", "denied")
    );
    let row = mama::admins::queries::ip_throttle(&app.db, "127.0.0.1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.failures, 4);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(b.login("nobody", "still wrong").await.status(), 401);
    let row = mama::admins::queries::ip_throttle(&app.db, "127.0.0.1")
        .await
        .unwrap()
        .unwrap();
    let wait = row.blocked_until.unwrap() - chrono::Utc::now();
    assert!(
        wait > chrono::Duration::milliseconds(1000),
        "the 5th failure doubles the wait: {wait}"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // Success forgives only this account's attempts: the five failures on other
    // accounts still count against the address.
    assert_eq!(
        location(&b.login("admin", "admin").await),
        "/account/password"
    );
    let row = mama::admins::queries::ip_throttle(&app.db, "127.0.0.1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.failures, 5);
}

#[tokio::test]
async fn bad_login_input_names_the_field_and_never_fails() {
    let app = spawn_app().await;
    let b = app.browser();
    let long = "u".repeat(10_000);
    let cases: Vec<(&str, &str, &str)> = vec![
        ("", "x", "Enter your username"),
        ("admin", "", "Enter your password"),
        (&long, "x", "at most 64 characters"),
    ];
    for (u, p, msg) in cases {
        let r = b.login(u, p).await;
        assert_eq!(r.status(), 422, "{msg}");
        let body = r.text().await.unwrap();
        assert!(body.contains(msg), "{msg}");
    }
    let r = b.login("admin\0", "some password").await;
    assert_eq!(r.status(), 422, "NUL is refused by name");
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("username: must not contain NUL")
    );
    for u in ["<script>alert(1)</script>", "' OR 1=1 --", "ädmin😀"] {
        let r = b.login(u, "some password").await;
        assert_eq!(r.status(), 401, "{u:?}");
        let body = r.text().await.unwrap();
        assert!(
            !body.contains("<script>alert(1)</script>"),
            "echoed input is escaped"
        );
    }
    assert_eq!(b.login("admin", &"p".repeat(10_000)).await.status(), 422);
}

#[tokio::test]
async fn a_session_expires_after_the_idle_timeout_and_says_so() {
    let app = spawn_app_with(|s| s.session_idle_timeout = Duration::from_secs(3)).await;
    let b = app.super_admin().await;
    assert_eq!(b.get("/users").await.status(), 200);
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let r = b.get("/users").await;
    assert_eq!(
        (r.status().as_u16(), location(&r).as_str()),
        (303, "/login?expired=1")
    );
    let (_, body) = b.page("/login?expired=1").await;
    assert!(body.contains("Your session expired"), "{body}");
    assert_eq!(
        b.get("/users").await.status(),
        303,
        "the expired session stays ended"
    );
    assert!(
        app.events()
            .await
            .iter()
            .any(|e| e.details.contains("\"session\":\"expired\""))
    );
}

/// Ages this browser's session row by `idle` and `age` (no waiting, so no flakiness).
async fn age_sessions(app: &TestApp, idle_secs: i64, age_secs: i64) {
    use mama::entities::admin_session;
    use sea_orm::{EntityTrait, sea_query::Expr};
    let now = chrono::Utc::now();
    admin_session::Entity::update_many()
        .col_expr(
            admin_session::Column::LastSeenAt,
            Expr::value(now - chrono::Duration::seconds(idle_secs)),
        )
        .col_expr(
            admin_session::Column::CreatedAt,
            Expr::value(now - chrono::Duration::seconds(age_secs)),
        )
        .exec(&app.db)
        .await
        .unwrap();
}

#[tokio::test]
async fn activity_keeps_a_session_alive_until_its_absolute_lifetime() {
    // Defaults: 30 min idle, 8 h absolute.
    let app = spawn_app().await;
    let b = app.super_admin().await;
    age_sessions(&app, 29 * 60, 7 * 3600).await;
    assert_eq!(
        b.get("/users").await.status(),
        200,
        "29 idle minutes, 7 hours old: alive"
    );
    age_sessions(&app, 5, 8 * 3600 + 60).await;
    let r = b.get("/users").await;
    assert_eq!(
        (r.status().as_u16(), location(&r).as_str()),
        (303, "/login?expired=1"),
        "past the absolute lifetime"
    );
    let b = app.browser();
    assert_eq!(location(&b.login("admin", STRONG_PASSWORD).await), "/users");
    age_sessions(&app, 31 * 60, 3600).await;
    assert_eq!(
        location(&b.get("/users").await),
        "/login?expired=1",
        "31 idle minutes"
    );
}

#[tokio::test]
async fn an_htmx_request_without_a_session_is_told_to_redirect() {
    let app = spawn_app().await;
    let b = app.browser();
    let r = b
        .client
        .get(b.url("/users"))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    // 401, not 303: an XHR would follow a 303 and swap the login page into the dialog.
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers().get("hx-redirect").unwrap(), "/login");
    assert!(r.headers().get("location").is_none());
}

#[tokio::test]
async fn logout_ends_the_session_on_the_server_not_just_in_the_browser() {
    let app = spawn_app().await;
    let b = app.super_admin().await;
    assert_eq!(b.get("/users").await.status(), 200);
    let stolen = b.cookie_header();
    assert!(stolen.contains("mama_session="));
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    assert_eq!(
        raw.get(b.url("/users"))
            .header("cookie", &stolen)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = b.logout().await;
    assert_eq!(
        (r.status().as_u16(), location(&r).as_str()),
        (303, "/login")
    );
    let r = raw
        .get(b.url("/users"))
        .header("cookie", &stolen)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), location(&r).as_str()),
        (303, "/login"),
        "a copied cookie is useless after logout"
    );
    assert_eq!(b.get("/users").await.status(), 303);
    let (_, body) = b.page("/login").await;
    assert!(body.contains("You have logged out"));
}

#[tokio::test]
async fn session_cookies_are_http_only_strict_and_secure_when_configured() {
    let app = spawn_app().await;
    let r = app.browser().get("/login").await;
    let c = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        c.contains("HttpOnly") && c.contains("SameSite=Strict") && !c.contains("Secure"),
        "{c}"
    );
    let app = spawn_app_with(|s| s.secure_cookies = true).await;
    let r = app.browser().get("/login").await;
    let c = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(c.contains("Secure") && c.contains("SameSite=Strict"), "{c}");
}

#[tokio::test]
async fn a_cookie_planted_before_login_is_not_logged_in_afterwards() {
    let app = spawn_app().await;
    let b = app.browser();
    b.csrf().await;
    let planted = b.cookie_header();
    assert!(planted.contains("mama_session="));
    assert_eq!(
        location(&b.login("admin", "admin").await),
        "/account/password"
    );
    assert_ne!(b.cookie_header(), planted, "a new session at login");
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = raw
        .get(b.url("/account/password"))
        .header("cookie", &planted)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), location(&r).as_str()),
        (303, "/login?next=%2Faccount%2Fpassword")
    );
}
