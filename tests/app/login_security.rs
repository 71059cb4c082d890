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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
    let started = std::time::Instant::now();
    let rs = join_all(browsers.iter().enumerate().map(|(i, b)| async move {
        let user = format!("nobody{i}");
        b.post_form(
            "/login",
            &[("username", &user), ("password", "whatever pass")],
        )
        .await
    }))
    .await;
    // The first back-off lasts 1 s; on a slow machine the burst may outlast it and
    // earn one more checked guess per second, never one per request.
    let grace = started.elapsed().as_secs() as usize;
    let throttled = rs.iter().filter(|r| r.status() == 429).count();
    let a = actions(&app, "auth.").await;
    let checked = count(&a, "auth.login.failure");
    // Free failures, plus the one that starts the back-off.
    assert!(
        (5..=5 + grace).contains(&checked),
        "{checked} guesses checked in {grace} s: {a:?}"
    );
    assert_eq!(throttled, 64 - checked);
    assert!(
        rs.iter()
            .filter(|r| r.status() == 429)
            .all(|r| r.headers().contains_key("retry-after"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
    let outcome = |r: &reqwest::Response| match r.status().as_u16() {
        303 if location(r) == "/admins" => "deleted",
        // Refused by the check inside the transaction.
        409 => "refused",
        // The other deletion committed first and ended this admin's session
        // with its account: the request never reached the check.
        303 if location(r).starts_with("/login") => "signed out",
        _ => "unexpected",
    };
    let outcomes = [outcome(&a), outcome(&b)];
    assert_eq!(left, 1, "{outcomes:?}");
    assert_eq!(
        outcomes.iter().filter(|o| **o == "deleted").count(),
        1,
        "{outcomes:?}"
    );
    assert!(!outcomes.contains(&"unexpected"), "{outcomes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_bulk_edit_with_a_long_result_shows_it_on_a_page_not_in_the_cookie() {
    let app = spawn_app().await;
    let b = app.super_admin().await;
    let names: Vec<String> = (0..40)
        .map(|i| format!("provider-with-a-rather-long-name/model-number-{i:03}-of-the-catalogue"))
        .collect();
    let cat: Vec<(&str, bool)> = names.iter().map(|n| (n.as_str(), true)).collect();
    crate::users::catalogue(&app, &cat).await;
    let r = crate::users::create_users(&b, "long1,A\nlong2,B", &[], &[]).await;
    assert_eq!(r.status(), 303);
    let mut f: Vec<(&str, &str)> = vec![("ids", "long1"), ("ids", "long2"), ("op", "models.add")];
    f.extend(names.iter().map(|n| ("models", n.as_str())));
    let r = b.post_form("/users/bulk/apply", &f).await;
    assert_eq!(r.status(), 200, "a committed edit answers with its result");
    let body = r.text().await.unwrap();
    assert!(body.contains("id=\"bulk-result\""), "{body}");
    assert!(body.contains(&names[39]), "the whole result is on the page");
    assert!(b.cookie_header().len() < 4096);
    let (status, _) = b.page("/users").await;
    assert_eq!(status, 200, "the session still works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_built_from_a_user_id_are_percent_encoded() {
    let app = spawn_app().await;
    let b = app.super_admin().await;
    let r = crate::users::create_users(&b, "a+b@corp,A", &[], &[]).await;
    assert_eq!(r.status(), 303);
    let (status, body) = b.page("/users").await;
    assert_eq!(status, 200);
    assert!(body.contains("href=\"/users/a%2Bb%40corp\""), "{body}");
    let (status, body) = b.page("/users/a%2Bb%40corp").await;
    assert_eq!(status, 200);
    assert!(body.contains("href=\"/audit?user=a%2Bb%40corp\""), "{body}");
    assert!(body.contains("href=\"/sync?user=a%2Bb%40corp\""), "{body}");
    assert!(
        body.contains("action=\"/users/a%2Bb%40corp/reveal\""),
        "{body}"
    );
    // The history link finds the user's events (a `+` left raw would read as a space).
    let (status, body) = b.page("/audit?user=a%2Bb%40corp").await;
    assert_eq!(status, 200);
    assert!(body.contains("users.bulk_create"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_ids_dot_and_dot_dot_are_refused_in_the_ui_the_cli_and_the_api() {
    let api = crate::api::spawn_api_app(|_| {}).await;
    let app = &api.app;
    let b = app.super_admin().await;
    for id in [".", ".."] {
        let r = crate::users::create_users(&b, &format!("{id},Org"), &[], &[]).await;
        let body = r.text().await.unwrap();
        assert!(body.contains("must not be"), "UI refuses {id:?}: {body}");
        let mut out = vec![];
        let code = mama::users::cli::import(
            &app.db,
            &api.cipher,
            &format!("{id},Org\n"),
            "",
            "",
            false,
            &mut out,
        )
        .await
        .unwrap();
        assert_eq!(code, 1);
        assert!(String::from_utf8_lossy(&out).contains("must not be"));
    }
    let (_, token) = api
        .client(&[mama::api_clients::Scope::KeysRead], None)
        .await;
    let r = api
        .http
        .post(format!("{}/api/v1/keys/lookup", app.addr))
        .bearer_auth(&token)
        .json(&serde_json::json!({"user_ids": ["ok", ".."]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
    assert!(
        body["error"]["details"]["fields"]["user_ids[1]"].is_array(),
        "{body}"
    );
    assert_eq!(
        {
            use sea_orm::{EntityTrait, PaginatorTrait};
            mama::entities::user::Entity::find()
                .count(&app.db)
                .await
                .unwrap()
        },
        0,
        "nothing was created"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_export_defuses_spreadsheet_formulas() {
    let app = spawn_app().await;
    let b = app.super_admin().await;
    let r = crate::users::create_users(
        &b,
        "f1,=HYPERLINK(\"http://evil\")\nf2,+cmd\nf3,@SUM(1)\nf4,plain",
        &[],
        &[],
    )
    .await;
    assert_eq!(r.status(), 303);
    let mut csv = vec![];
    mama::users::cli::export(&app.db, &mut csv).await.unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(
        csv.contains("f1,\"'=HYPERLINK(\"\"http://evil\"\")\","),
        "{csv}"
    );
    assert!(csv.contains("f2,'+cmd,"), "{csv}");
    assert!(csv.contains("f3,'@SUM(1),"), "{csv}");
    assert!(csv.contains("f4,plain,"), "{csv}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_file_and_the_dev_secrets_file_are_created_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("mama-perm-{}", rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("private.db");
    let secrets = dir.join("dev-secrets");
    let out = Command::new(env!("CARGO_BIN_EXE_mama"))
        .args(["admin", "list"])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", db.display()),
        )
        .env("MAMA_DEV_SECRETS_FILE", &secrets)
        .env("RUST_LOG", "warn")
        .env_remove("MAMA_SECRET_KEY")
        .env_remove("MAMA_ENCRYPTION_KEY")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&db), 0o600, "the SQLite file");
    if secrets.exists() {
        assert_eq!(mode(&secrets), 0o600, "the dev-secrets file");
    }
    // An existing world-readable file is tightened at start.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let url = mama::config::DatabaseUrl::new(format!("sqlite://{}?mode=rwc", db.display()));
    mama::db::make_sqlite_file_private(&url).unwrap();
    assert_eq!(mode(&db), 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_requests_beyond_the_per_address_rate_get_429_without_an_audit_row() {
    let app = spawn_app_with(|s| s.security.anonymous_per_minute = 5).await;
    let b = app.browser();
    let mut statuses = vec![];
    for _ in 0..8 {
        statuses.push(b.get("/login").await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
    let r = b.get("/login").await;
    assert!(r.headers().contains_key("retry-after"));
    let views = actions(&app, "auth.login.view").await.len();
    assert_eq!(views, 5, "refused requests never reached the database");
    // Static assets and probes are not metered.
    assert_eq!(b.get("/healthz").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_reveals_past_the_hourly_threshold_raise_an_alert_then_hit_the_limit() {
    let app = spawn_app_with(|s| {
        s.security.reveal_alert_per_hour = 2;
        s.security.reveal_limit_per_hour = 3;
    })
    .await;
    let b = app.super_admin().await;
    crate::users::create_users(&b, "k1,A", &[], &[]).await;
    b.page("/users/k1").await;
    let mut statuses = vec![];
    for _ in 0..4 {
        statuses.push(b.post_form("/users/k1/reveal", &[]).await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    let ev = app.events().await;
    let alerts: Vec<_> = ev
        .iter()
        .filter(|e| e.action == "security.alert.key_reveals")
        .collect();
    assert_eq!(alerts.len(), 1, "one alert per crossing");
    assert!(
        alerts[0].details.contains("\"reveals_last_hour\":3"),
        "{}",
        alerts[0].details
    );
    let refused = ev
        .iter()
        .filter(|e| e.action == "user.key.reveal" && e.outcome == "denied")
        .count();
    assert_eq!(refused, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_and_old_throttle_rows_are_purged_periodically() {
    let app = spawn_app_with(|s| s.security.purge_interval = Duration::from_millis(200)).await;
    let b = app.super_admin().await;
    app.browser().login("ghost", "a wrong password").await;
    let old = (chrono::Utc::now() - chrono::Duration::days(2))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    // A second session, idle for two days, and an old throttle row.
    let b2 = app.browser();
    b2.login("admin", STRONG_PASSWORD).await;
    let count = |sql: &'static str| {
        let db = app.db.clone();
        async move {
            use sea_orm::ConnectionTrait;
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(
                    db.get_database_backend(),
                    sql,
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get_by_index::<i64>(0).unwrap()
        }
    };
    // Both sessions exist before one is aged (the purger runs every 200 ms, so
    // counting after the ageing would race with it).
    assert_eq!(count("SELECT COUNT(*) FROM admin_sessions").await, 2);
    app.sql(&format!(
        "UPDATE admin_sessions SET last_seen_at = '{old}', created_at = '{old}' \
         WHERE id = (SELECT MIN(id) FROM admin_sessions)"
    ))
    .await;
    app.sql(&format!(
        "INSERT INTO login_throttle (client_ip, failures, blocked_until, updated_at) \
         VALUES ('192.0.2.99', 3, NULL, '{old}')"
    ))
    .await;
    let mut left = (2, 1);
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = (
            count("SELECT COUNT(*) FROM admin_sessions").await,
            count("SELECT COUNT(*) FROM login_throttle WHERE client_ip = '192.0.2.99'").await,
        );
        if left == (1, 0) {
            break;
        }
    }
    assert_eq!(left, (1, 0), "the stale session and throttle row are gone");
    let recent = count("SELECT COUNT(*) FROM login_throttle WHERE client_ip = '127.0.0.1'").await;
    assert_eq!(recent, 1, "a current row stays");
    let _ = b;
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

/// Kills the child when the test ends, even on a failed assertion.
struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_mama_binary_stays_within_100_mb_of_its_idle_rss_under_128_parallel_bad_logins() {
    use base64::Engine;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let database_url = fresh_database().await;
    let dir = std::env::temp_dir();
    let child = Command::new(env!("CARGO_BIN_EXE_mama"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url.as_str())
        .env("MAMA_BIND", format!("127.0.0.1:{port}"))
        .env("MAMA_SECRET_KEY", b64(&mama::config::random_bytes::<64>()))
        .env(
            "MAMA_ENCRYPTION_KEY",
            b64(&mama::config::random_bytes::<32>()),
        )
        // Let every attempt reach the password check: this measures the hashing bound.
        .env("MAMA_LOGIN_IP_FREE_FAILURES", "1000000")
        .env("MAMA_ANONYMOUS_RATE_PER_MINUTE", "1000000")
        .env("MAMA_PASSWORD_HASH_WAIT_MS", "60000")
        .env("RUST_LOG", "warn")
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("mama-rss-{port}.log"))).unwrap())
        .spawn()
        .expect("start mama");
    let child = Child(child);
    let pid = child.0.id();
    let app = TestApp {
        addr: format!("http://127.0.0.1:{port}"),
        port,
        db: sea_orm::Database::connect(database_url.as_str())
            .await
            .unwrap(),
        database_url: database_url.clone(),
        owns_database: false,
    };
    let mut up = false;
    for _ in 0..600 {
        if let Ok(r) = reqwest::get(format!("{}/healthz", app.addr)).await
            && r.status() == 200
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "mama answered /healthz");
    // One client per attacker, no connection reuse (a kept-alive connection the
    // server closes while idle would fail a request for reasons of its own).
    let attacker = || {
        reqwest::Client::builder()
            .cookie_store(true)
            .pool_max_idle_per_host(0)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    };
    let login_page = |c: reqwest::Client| {
        let url = format!("{}/login", app.addr);
        async move {
            let body = c.get(&url).send().await.unwrap().text().await.unwrap();
            (c, scrape_csrf(&body).expect("a CSRF token"))
        }
    };
    let flood = |clients: Vec<(reqwest::Client, String)>, round: usize| {
        let url = format!("{}/login", app.addr);
        async move {
            join_all(clients.into_iter().enumerate().map(|(i, (c, csrf))| {
                let url = url.clone();
                async move {
                    let user = format!("flood{round}-{i}");
                    c.post(&url)
                        .form(&[
                            ("csrf_token", csrf.as_str()),
                            ("username", user.as_str()),
                            ("password", "not the password"),
                        ])
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0)
                }
            }))
            .await
        }
    };
    // Warm: one login ran, so every lazy structure exists.
    let warm = join_all((0..1).map(|_| login_page(attacker()))).await;
    assert_eq!(flood(warm, 99).await, [401]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle = rss_kib(pid, "VmRSS:");
    for round in 0..2 {
        let mut clients = vec![];
        for _ in 0..128 {
            clients.push(login_page(attacker()).await);
        }
        let rs = flood(clients, round).await;
        assert!(rs.iter().all(|s| *s == 401), "round {round}: {rs:?}");
    }
    let peak = rss_kib(pid, "VmHWM:");
    let growth_mb = (peak.saturating_sub(idle)) as f64 * 1024.0 / 1e6;
    eprintln!(
        "mama RSS: idle {:.1} MB, peak {:.1} MB, growth {growth_mb:.1} MB under 2 x 128 parallel bad logins",
        idle as f64 * 1024.0 / 1e6,
        peak as f64 * 1024.0 / 1e6
    );
    assert!(growth_mb <= 100.0, "peak RSS grew by {growth_mb:.1} MB");
}
