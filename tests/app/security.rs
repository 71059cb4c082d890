//! Issue 12: logins that cannot be raced or flooded, the operator's way back in,
//! honest client addresses, and the smaller hardening items.
use std::{process::Command, time::Duration};

use futures_util::future::join_all;
use mama::admins::queries;

use crate::helpers::*;

/// A fresh browser that logs in as if from `ip` (the app must trust 127.0.0.1).
async fn login_from(app: &TestApp, ip: &str, user: &str, pass: &str) -> reqwest::Response {
    let b = app.browser();
    let body = b
        .client
        .get(b.url("/login"))
        .header("x-forwarded-for", ip)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = scrape_csrf(&body).expect("login page has a CSRF token");
    note_secret(pass);
    b.client
        .post(b.url("/login"))
        .header("x-forwarded-for", ip)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("username", user),
            ("password", pass),
        ])
        .send()
        .await
        .unwrap()
}

async fn actions(app: &TestApp, prefix: &str) -> Vec<String> {
    app.events()
        .await
        .into_iter()
        .map(|e| e.action)
        .filter(|a| a.starts_with(prefix))
        .collect()
}

fn count(v: &[String], action: &str) -> usize {
    v.iter().filter(|a| *a == action).count()
}

fn mama_cli(database_url: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mama"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .env_remove("MAMA_SECRET_KEY")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test]
async fn thirty_two_parallel_wrong_passwords_lock_the_account_after_exactly_the_configured_failures()
 {
    let app = spawn_app_with(|s| {
        s.login_ip_free_failures = 1000;
        s.security.anonymous_per_minute = 10_000;
        s.security.hash_wait = Duration::from_secs(60);
    })
    .await;
    let browsers: Vec<Browser> = (0..32).map(|_| app.browser()).collect();
    for b in &browsers {
        b.csrf().await;
    }
    let rs = join_all(browsers.iter().map(|b| b.login("admin", "wrong password!"))).await;
    assert!(rs.iter().all(|r| r.status() == 401), "one answer for all");
    let a = actions(&app, "auth.").await;
    assert_eq!(
        count(&a, "auth.login.failure") + count(&a, "auth.lockout"),
        5,
        "exactly the configured number of guesses were checked: {a:?}"
    );
    assert_eq!(count(&a, "auth.lockout"), 1);
    assert_eq!(count(&a, "auth.login.locked"), 27);
    let r = app.browser().login("admin", "admin").await;
    assert_eq!(
        r.status(),
        401,
        "the right password is refused while locked"
    );
}

#[tokio::test]
async fn sixty_four_parallel_guesses_from_one_address_get_only_the_free_failures_checked() {
    let app = spawn_app_with(|s| {
        s.login_ip_free_failures = 4;
        s.security.anonymous_per_minute = 10_000;
        s.security.hash_wait = Duration::from_secs(60);
    })
    .await;
    let browsers: Vec<Browser> = (0..64).map(|_| app.browser()).collect();
    for b in &browsers {
        b.csrf().await;
    }
    let rs = join_all(
        browsers
            .iter()
            .enumerate()
            .map(|(i, b)| async move { b.login(&format!("nobody{i}"), "whatever pass").await }),
    )
    .await;
    let throttled = rs.iter().filter(|r| r.status() == 429).count();
    let a = actions(&app, "auth.").await;
    // Free failures, plus the one that starts the back-off.
    assert_eq!(count(&a, "auth.login.failure"), 5, "{a:?}");
    assert_eq!(throttled, 59);
    assert!(
        rs.iter()
            .filter(|r| r.status() == 429)
            .all(|r| r.headers().contains_key("retry-after"))
    );
}

#[tokio::test]
async fn an_attacker_elsewhere_cannot_keep_the_owner_out_of_its_usual_address() {
    let app = spawn_app_with(|s| {
        s.security.trusted_proxies = mama::client_ip::TrustedProxies::parse("127.0.0.1").unwrap();
        s.security.login_account_hourly_cap = 6;
        s.security.anonymous_per_minute = 10_000;
    })
    .await;
    // The owner logs in once from its office address: that address is now known.
    let r = login_from(&app, "198.51.100.10", "admin", "admin").await;
    assert_eq!(location(&r), "/account/password");
    // Attackers on three other addresses spend the per-address lockout and the hourly cap.
    for ip in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        for _ in 0..5 {
            login_from(&app, ip, "admin", "not the password").await;
        }
    }
    let a = actions(&app, "auth.").await;
    assert_eq!(
        count(&a, "auth.login.failure") + count(&a, "auth.lockout"),
        6,
        "the hourly cap bounds guesses from many addresses: {a:?}"
    );
    // A new address is refused even with the right password (the cap is spent) …
    let r = login_from(&app, "203.0.113.99", "admin", "admin").await;
    assert_eq!(r.status(), 401);
    // … but the owner at its usual address gets in.
    let r = login_from(&app, "198.51.100.10", "admin", "admin").await;
    assert_eq!(location(&r), "/account/password");
    let ev = app.events().await;
    let last = ev
        .iter()
        .rfind(|e| e.action == "auth.login.success")
        .unwrap();
    assert_eq!(last.client_ip.as_deref(), Some("198.51.100.10"));
}

#[tokio::test]
async fn another_accounts_success_does_not_reset_an_addresss_back_off() {
    let app = spawn_app_with(|s| s.login_ip_free_failures = 100).await;
    let sa = app.super_admin().await;
    for i in 0..3 {
        app.browser()
            .login(&format!("ghost{i}"), "a wrong password")
            .await;
    }
    sa.logout().await;
    let r = sa.login("admin", STRONG_PASSWORD).await;
    assert_eq!(location(&r), "/users");
    let row = queries::ip_throttle(&app.db, "127.0.0.1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.failures, 3,
        "the three failures on other names still count"
    );
}

#[tokio::test]
async fn an_unknown_and_a_locked_account_get_the_same_answer() {
    let app = spawn_app_with(|s| s.login_max_failures = 2).await;
    let b = app.browser();
    b.login("admin", "wrong one 1").await;
    b.login("admin", "wrong one 2").await;
    let locked = b.login("admin", "wrong one 3").await;
    let unknown = b.login("nosuchadmin", "wrong one 3").await;
    assert_eq!(locked.status(), unknown.status());
    assert_eq!(locked.status(), 401);
    let strip = |s: String| s.replace("nosuchadmin", "admin");
    let (l, u) = (
        strip(locked.text().await.unwrap()),
        strip(unknown.text().await.unwrap()),
    );
    let notice = |s: &str| {
        s.lines()
            .filter(|l| l.contains("Wrong username") || l.contains("locked"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(notice(&l), notice(&u));
}

#[tokio::test]
async fn a_flood_beyond_the_hashing_permits_answers_429_with_retry_after_and_is_audited() {
    let app = spawn_app_with(|s| {
        s.security.hash_permits = 1;
        s.security.hash_wait = Duration::from_millis(1);
        s.login_ip_free_failures = 1000;
        s.security.anonymous_per_minute = 10_000;
    })
    .await;
    let browsers: Vec<Browser> = (0..32).map(|_| app.browser()).collect();
    for b in &browsers {
        b.csrf().await;
    }
    let rs = join_all(
        browsers
            .iter()
            .enumerate()
            .map(|(i, b)| async move { b.login(&format!("flood{i}"), "whatever pass").await }),
    )
    .await;
    let busy: Vec<_> = rs.iter().filter(|r| r.status() == 429).collect();
    assert!(!busy.is_empty(), "one permit cannot serve 32 at once");
    assert!(busy.iter().all(|r| r.headers().contains_key("retry-after")));
    let a = actions(&app, "auth.").await;
    assert_eq!(count(&a, "auth.login.busy"), busy.len());
    assert_eq!(
        count(&a, "auth.login.failure") + busy.len(),
        32,
        "every attempt is either checked or told to come back"
    );
}

#[tokio::test]
async fn the_client_address_is_the_right_most_untrusted_forwarded_hop() {
    let trusting = spawn_app_with(|s| {
        s.security.trusted_proxies =
            mama::client_ip::TrustedProxies::parse("127.0.0.0/8,10.0.0.0/8").unwrap();
    })
    .await;
    let b = trusting.browser();
    let r = b
        .client
        .get(b.url("/login"))
        .header("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.1.2.3")
        .send()
        .await
        .unwrap();
    let ev = trusting.event_for(&request_id(&r)).await;
    assert_eq!(ev.client_ip.as_deref(), Some("203.0.113.7"));

    let r = b
        .client
        .get(b.url("/login"))
        .header("forwarded", "for=198.51.100.4;proto=https")
        .send()
        .await
        .unwrap();
    let ev = trusting.event_for(&request_id(&r)).await;
    assert_eq!(ev.client_ip.as_deref(), Some("198.51.100.4"));

    // Not a trusted peer: the headers are ignored.
    let plain = spawn_app().await;
    let b = plain.browser();
    let r = b
        .client
        .get(b.url("/login"))
        .header("x-forwarded-for", "6.6.6.6")
        .send()
        .await
        .unwrap();
    let ev = plain.event_for(&request_id(&r)).await;
    assert_eq!(ev.client_ip.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn hsts_is_sent_only_when_cookies_are_secure() {
    let app = spawn_app_with(|s| s.secure_cookies = true).await;
    let r = app.browser().get("/login").await;
    assert_eq!(
        r.headers().get("strict-transport-security").unwrap(),
        "max-age=31536000"
    );
    let app = spawn_app().await;
    let r = app.browser().get("/login").await;
    assert!(!r.headers().contains_key("strict-transport-security"));
}

#[tokio::test]
async fn a_password_change_gives_the_session_a_new_token() {
    let app = spawn_app().await;
    let b = app.browser();
    b.login("admin", "admin").await;
    let before = b.cookie_header();
    let r = b.change_password("admin", STRONG_PASSWORD).await;
    assert_eq!(r.status(), 303);
    assert_eq!(b.get("/users").await.status(), 200, "still logged in");
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = raw
        .get(b.url("/users"))
        .header("cookie", &before)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), location(&r).as_str()),
        (303, "/login"),
        "the cookie from before the change no longer works"
    );
}

#[tokio::test]
async fn two_super_admins_deleting_each_other_at_once_leave_one() {
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    let other = app.account(&sa, "second", "super_admin").await;
    let admins = queries::list(&app.db).await.unwrap();
    let id_of = |name: &str| admins.iter().find(|a| a.username == name).unwrap().id;
    let (first, second) = (id_of("admin"), id_of("second"));
    sa.page(&format!("/admins/{second}/delete")).await;
    other.page(&format!("/admins/{first}/delete")).await;
    let p1 = format!("/admins/{second}/delete");
    let p2 = format!("/admins/{first}/delete");
    let (a, b) = tokio::join!(sa.post_form(&p1, &[]), other.post_form(&p2, &[]));
    let left = queries::count_role(&app.db, mama::admins::Role::SuperAdmin)
        .await
        .unwrap();
    assert_eq!(left, 1, "statuses {} and {}", a.status(), b.status());
    assert!([a.status().as_u16(), b.status().as_u16()].contains(&409));
}

#[tokio::test]
async fn an_operator_unlocks_and_resets_an_admin_from_the_command_line() {
    let app = spawn_app().await;
    let b = app.browser();
    for i in 0..5 {
        b.login("admin", &format!("wrong one {i}")).await;
    }
    assert_eq!(b.login("admin", "admin").await.status(), 401, "locked");

    let (ok, out, err) = mama_cli(&app.database_url, &["admin", "list"]);
    assert!(ok, "{out}{err}");
    let line = out.lines().find(|l| l.starts_with("admin ")).unwrap();
    assert!(
        line.contains("super_admin") && line.contains("1 addr"),
        "{line}"
    );

    let (ok, out, err) = mama_cli(&app.database_url, &["admin", "unlock", "admin"]);
    assert!(ok, "{out}{err}");
    assert_eq!(
        location(&b.login("admin", "admin").await),
        "/account/password"
    );
    let r = b.change_password("admin", STRONG_PASSWORD).await;
    assert_eq!(r.status(), 303);
    assert_eq!(b.get("/users").await.status(), 200);

    let (ok, out, err) = mama_cli(&app.database_url, &["admin", "reset-password", "admin"]);
    assert!(ok, "{out}{err}");
    let one_time = out.lines().last().unwrap().trim().to_string();
    note_secret(&one_time);
    assert!(
        one_time.len() >= 20 && !one_time.contains(' '),
        "{one_time}"
    );
    assert_eq!(b.get("/users").await.status(), 303, "its sessions ended");
    assert_eq!(
        b.login("admin", STRONG_PASSWORD).await.status(),
        401,
        "the old password is gone"
    );
    let r = b.login("admin", &one_time).await;
    assert_eq!(location(&r), "/account/password", "a change is forced");

    let (ok, _, err) = mama_cli(&app.database_url, &["admin", "unlock", "nobody"]);
    assert!(!ok && err.contains("USERNAME"), "{err}");

    let ev = app.events().await;
    for action in ["admin.list", "admin.unlock", "admin.password.reset"] {
        let e = ev.iter().find(|e| e.action == action).unwrap();
        assert_eq!(
            (e.actor_kind.as_str(), e.outcome.as_str()),
            ("system", "success")
        );
        assert!(!e.details.contains(&one_time));
    }
}
