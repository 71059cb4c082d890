//! `/api-clients`: managers create (token shown once, stored hashed) and revoke
//! API clients; auditors cannot; the CLI prints the token on its last line.
use mama::{crypto::sha256_hex, entities::api_client};
use sea_orm::EntityTrait;
use serde_json::json;

use crate::{
    api::spawn_api_app,
    helpers::{STRONG_PASSWORD, location, note_secret, rand_suffix, request_id, spawn_app},
    webdriver,
};

fn token_in(html: &str) -> String {
    let i = html
        .find("value=\"mama_")
        .expect("the page shows the token")
        + 7;
    html[i..].split('"').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_creates_a_client_sees_its_token_once_and_revokes_it() {
    let a = spawn_api_app(|_| {}).await;
    let sa = a.app.super_admin().await;
    let (s, body) = sa.page("/api-clients").await;
    assert_eq!(s, 200);
    assert!(body.contains("No API clients yet"));
    let (s, _) = sa.page("/api-clients/new").await;
    assert_eq!(s, 200);

    // Bad input: field messages, 422, nothing created.
    let r = sa
        .post_form(
            "/api-clients",
            &[("name", "bad<name>"), ("rate_limit_per_minute", "-3")],
        )
        .await;
    assert_eq!(r.status(), 422);
    let rid = request_id(&r);
    let html = r.text().await.unwrap();
    assert!(html.contains("Use letters, digits"));
    assert!(html.contains("Choose at least one scope."));
    assert!(html.contains("Enter a whole number"));
    assert_eq!(a.app.event_for(&rid).await.outcome, "invalid");
    assert!(
        api_client::Entity::find()
            .all(&a.app.db)
            .await
            .unwrap()
            .is_empty()
    );

    let name = format!("billing {}", rand_suffix());
    let r = sa
        .post_form(
            "/api-clients",
            &[
                ("name", &name),
                ("scopes", "keys:read"),
                ("scopes", "models:read"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let rid = request_id(&r);
    let html = r.text().await.unwrap();
    let token = token_in(&html);
    assert!(
        token.starts_with("mama_") && token.len() >= 5 + 32,
        "{token}"
    );
    let rows = api_client::Entity::find().all(&a.app.db).await.unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.token_sha256, sha256_hex(&token));
    assert_eq!(row.scopes, "keys:read models:read");
    assert_eq!(row.created_by.as_deref(), Some("admin"));
    assert!(
        !format!("{row:?}").contains(&token),
        "only the hash is stored"
    );
    let ev = a.app.event_for(&rid).await;
    assert_eq!(
        (ev.action.as_str(), ev.outcome.as_str()),
        ("api_client.create", "success")
    );
    assert!(!ev.details.contains(&token));
    assert!(ev.details.contains(&row.token_hint));

    // The list shows the hint, never the token.
    let (_, list) = sa.page("/api-clients").await;
    assert!(list.contains(&name) && list.contains(&row.token_hint) && !list.contains(&token));

    // Duplicate names are refused.
    let r = sa
        .post_form("/api-clients", &[("name", &name), ("scopes", "keys:read")])
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("already exists"));

    // The token works; last_used_at is recorded.
    assert_eq!(
        a.lookup(&token, json!({"user_ids": ["x"]})).await.status(),
        200
    );
    let row = api_client::Entity::find_by_id(row.id)
        .one(&a.app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(row.last_used_at.is_some());

    // The list's "Revoke…" asks first, naming the client; nothing changes yet.
    let (_, list) = sa.page("/api-clients").await;
    assert!(list.contains(&format!("href=\"/api-clients/{}/revoke\"", row.id)));
    let (s, ask) = sa.page(&format!("/api-clients/{}/revoke", row.id)).await;
    assert_eq!(s, 200);
    assert!(ask.contains("id=\"confirm-revoke\""), "{ask}");
    assert!(ask.contains(&row.name), "{ask}");
    assert_eq!(
        a.lookup(&token, json!({"user_ids": ["x"]})).await.status(),
        200,
        "asking does not revoke"
    );

    // Revoking needs the CSRF token, then takes effect at once.
    let r = sa
        .post_raw(&format!("/api-clients/{}/revoke", row.id), &[])
        .await;
    assert_eq!(r.status(), 403);
    let r = sa
        .post_form(&format!("/api-clients/{}/revoke", row.id), &[])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/api-clients");
    let ev = a.app.event_for(&request_id(&r)).await;
    assert_eq!(ev.action, "api_client.revoke");
    assert_eq!(
        a.lookup(&token, json!({"user_ids": ["x"]})).await.status(),
        401
    );
    let (_, list) = sa.page("/api-clients").await;
    assert!(list.contains("revoked"));
    let (_, ask) = sa.page(&format!("/api-clients/{}/revoke", row.id)).await;
    assert!(ask.contains("was already revoked"), "{ask}");
    assert!(!ask.contains("confirm-revoke"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auditors_cannot_see_or_manage_api_clients() {
    let a = spawn_api_app(|_| {}).await;
    let sa = a.app.super_admin().await;
    let auditor = a
        .app
        .account(&sa, &format!("aud{}", rand_suffix()), "auditor")
        .await;
    let (s, _) = auditor.page("/api-clients").await;
    assert_eq!(s, 403);
    let r = auditor
        .post_form(
            "/api-clients",
            &[("name", "sneaky"), ("scopes", "keys:read")],
        )
        .await;
    assert_eq!(r.status(), 403);
    let ev = a.app.event_for(&request_id(&r)).await;
    assert_eq!(
        (ev.action.as_str(), ev.outcome.as_str()),
        ("api_client.create", "denied")
    );
    assert!(
        api_client::Entity::find()
            .all(&a.app.db)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_creates_a_client_and_prints_the_token_alone_on_the_last_line() {
    use base64::Engine;
    let a = spawn_api_app(|_| {}).await;
    let b64 = base64::engine::general_purpose::STANDARD;
    let name = format!("etl-{}", rand_suffix());
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_mama"))
            .args(args)
            .env("DATABASE_URL", &a.app.database_url)
            .env("MAMA_SECRET_KEY", b64.encode([1u8; 64]))
            .env("MAMA_ENCRYPTION_KEY", b64.encode([2u8; 32]))
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let out = run(&[
        "api-client",
        "create",
        "--name",
        &name,
        "--scope",
        "keys:read",
        "--scope",
        "audit:read",
    ]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = stdout.trim_end().lines().last().unwrap().to_string();
    assert!(
        token.starts_with("mama_") && !token.contains(' '),
        "{stdout}"
    );
    assert_eq!(
        a.lookup(&token, json!({"user_ids": ["x"]})).await.status(),
        200
    );
    let ev = a
        .app
        .events()
        .await
        .into_iter()
        .find(|e| e.action == "api_client.create")
        .expect("the CLI's change is audited");
    assert_eq!(
        (ev.actor_kind.as_str(), ev.actor_name.as_deref()),
        ("system", Some("cli"))
    );
    assert!(!ev.details.contains(&token));

    let out = run(&[
        "api-client",
        "create",
        "--name",
        "x",
        "--scope",
        "keys:write",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--scope"));

    let out = run(&["api-client", "revoke", "--name", &name]);
    assert!(out.status.success());
    assert_eq!(
        a.lookup(&token, json!({"user_ids": ["x"]})).await.status(),
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_docs_and_the_api_client_pages_render_in_chromium() {
    let Some(c) = webdriver::browser().await else {
        return;
    };
    let a = spawn_api_app(|_| {}).await;
    c.goto(&format!("{}/api/v1/docs/", a.app.addr))
        .await
        .unwrap();
    c.wait()
        .for_element(fantoccini::Locator::Css(".opblock-summary-path"))
        .await
        .expect("Swagger UI renders the operations under mama's CSP");
    let text = webdriver::text(&c).await;
    assert!(text.contains("/api/v1/keys/lookup"), "{text}");
    webdriver::screenshot(&c, "api-docs").await;

    c.goto(&format!("{}/login", a.app.addr)).await.unwrap();
    webdriver::fill(&c, "username", "admin").await;
    webdriver::fill(&c, "password", "admin").await;
    webdriver::click(&c, "#submit").await;
    // The forced password change comes after the login's redirect.
    c.wait()
        .for_element(fantoccini::Locator::Id("current_password"))
        .await
        .expect("the forced password change");
    webdriver::fill(&c, "current_password", "admin").await;
    webdriver::fill(&c, "new_password", crate::helpers::STRONG_PASSWORD).await;
    webdriver::fill(&c, "confirm_password", crate::helpers::STRONG_PASSWORD).await;
    webdriver::click(&c, "#submit").await;
    // Leave only once the change has landed (a navigation now would cancel its POST).
    for _ in 0..100 {
        if !c
            .current_url()
            .await
            .unwrap()
            .path()
            .starts_with("/account")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    c.goto(&format!("{}/api-clients/new", a.app.addr))
        .await
        .unwrap();
    webdriver::fill(&c, "name", "reporting").await;
    webdriver::click(&c, "#scope-2").await;
    webdriver::screenshot(&c, "api-clients-new").await;
    webdriver::click(&c, "#submit").await;
    c.wait()
        .for_element(fantoccini::Locator::Id("token"))
        .await
        .unwrap();
    webdriver::screenshot(&c, "api-clients-created").await;
    c.goto(&format!("{}/api-clients", a.app.addr))
        .await
        .unwrap();
    let text = webdriver::text(&c).await;
    assert!(
        text.contains("reporting") && text.contains("models:read"),
        "{text}"
    );
    webdriver::screenshot(&c, "api-clients-list").await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_creates_and_revokes_a_client_by_clicking() {
    use fantoccini::Locator;
    use webdriver::{browser, click, fill, screenshot, text};
    let Some(c) = browser().await else { return };
    let app = spawn_app().await;
    app.super_admin().await;
    c.goto(&format!("{}/login", app.addr)).await.unwrap();
    fill(&c, "username", "admin").await;
    fill(&c, "password", STRONG_PASSWORD).await;
    click(&c, "#submit").await;
    c.wait().for_element(Locator::Id("whoami")).await.unwrap();
    c.goto(&format!("{}/api-clients/new", app.addr))
        .await
        .unwrap();
    fill(&c, "name", "billing-service").await;
    click(&c, "#submit").await;
    c.wait().for_element(Locator::Id("token")).await.unwrap();
    screenshot(&c, "api-clients-01-token-shown-once").await;
    let token = c
        .find(Locator::Id("token"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    note_secret(&token);
    click(&c, "#done").await;
    c.wait()
        .for_element(Locator::Css("tr[data-name=billing-service]"))
        .await
        .unwrap();
    assert!(
        !text(&c).await.contains(&token),
        "the token is shown only once"
    );

    click(&c, "tr[data-name=billing-service] a[id^=revoke-]").await;
    c.wait()
        .for_element(Locator::Id("confirm-revoke"))
        .await
        .unwrap();
    let ask = text(&c).await;
    assert!(ask.contains("Revoke billing-service?"), "{ask}");
    screenshot(&c, "api-clients-02-revoke-asks-first").await;
    click(&c, "#confirm-revoke").await;
    c.wait()
        .for_element(Locator::Css("tr.revoked[data-name=billing-service]"))
        .await
        .unwrap();
    assert!(text(&c).await.contains("Revoked `billing-service`"));
    screenshot(&c, "api-clients-03-revoked").await;
    c.close().await.unwrap();
    let revoked = api_client::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .all(|c| c.revoked_at.is_some());
    assert!(revoked);
}
