//! An admin's day in headless Chromium (issue 11): the session expiring after a
//! row click, while /sync polls, and with no click at all; the return to the
//! previous page after login; models and services picked by keyboard in
//! create-many, the dialog and the bulk bar; the dialog at 1366×768 and 1920×1080;
//! and no token in any audited path after walking the pages.
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use mama::entities::admin_session;
use sea_orm::{EntityTrait, sea_query::Expr};

use crate::{
    helpers::*,
    users::{add_service, catalogue, create_users},
    users_browser::pick,
    webdriver::*,
};

const ENTER: &str = "\u{E007}";
const ARROW_DOWN: &str = "\u{E015}";

/// Waits until the browser's URL contains `needle` (the page moved by itself).
async fn wait_url(c: &Client, needle: &str, within: Duration) -> String {
    let start = Instant::now();
    loop {
        let url = c.current_url().await.unwrap().to_string();
        if url.contains(needle) {
            return url;
        }
        assert!(
            start.elapsed() < within,
            "still on {url} after {within:?}, waiting for {needle}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// True when the element's box lies inside the viewport.
async fn in_view(c: &Client, css: &str) -> bool {
    let v = c
        .execute(
            "const r = document.querySelector(arguments[0]).getBoundingClientRect();\
             return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0;",
            vec![serde_json::json!(css)],
        )
        .await
        .unwrap();
    v.as_bool().unwrap()
}

async fn displayed(c: &Client, css: &str) -> bool {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .is_displayed()
        .await
        .unwrap()
}

/// LiteLLM configured but unreachable, so the catalogue set by the test stays.
fn litellm_down(s: &mut mama::config::Settings) {
    s.litellm = Some(mama::config::LiteLlmSettings {
        base_url: "http://127.0.0.1:9".into(),
        master_key: secrecy::SecretString::from("sk-test".to_string()),
        timeout: Duration::from_secs(1),
    });
    s.sync.worker_enabled = false;
    s.sync.models_refresh = Duration::from_secs(3600);
}

#[tokio::test]
async fn after_expiry_a_row_click_lands_on_login_not_inside_the_dialog() {
    let Some(c) = browser().await else { return };
    let app = spawn_app().await;
    let http = app.super_admin().await;
    create_users(&http, "bob,Globex\ncarol,Acme", &[], &[]).await;
    log_in(&c, &app.addr, "/login").await;
    wait_css(&c, "tr[data-user-id='bob']").await;
    // The session is an hour idle on the server (no waiting: the row is aged).
    admin_session::Entity::update_many()
        .col_expr(
            admin_session::Column::LastSeenAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::hours(1)),
        )
        .exec(&app.db)
        .await
        .unwrap();
    click(&c, "tr[data-user-id='bob'] td:nth-child(3)").await;
    let url = wait_url(&c, "/login", Duration::from_secs(10)).await;
    assert!(url.contains("expired=1"), "{url}");
    wait_css(&c, "#login-notice").await;
    let body = text(&c).await;
    assert!(body.contains("Your session expired"), "{body}");
    assert!(c.find(Locator::Css("dialog[open]")).await.is_err());
    screenshot(&c, "day-01-expired-after-row-click").await;
    let e = app
        .events()
        .await
        .into_iter()
        .rfind(|e| e.action == "user.view")
        .unwrap();
    assert_eq!((e.outcome.as_str(), e.http_status), ("denied", Some(401)));
    c.close().await.unwrap();
}

#[tokio::test]
async fn an_open_sync_page_does_not_keep_the_session_alive_and_lands_on_login() {
    let Some(c) = browser().await else { return };
    let app = spawn_app_with(|s| {
        s.session_idle_timeout = Duration::from_secs(4);
        s.ui_poll_interval = Duration::from_millis(300);
    })
    .await;
    app.super_admin().await;
    log_in(&c, &app.addr, "/login").await;
    wait_css(&c, "#users, #no-users").await;
    c.goto(&format!("{}/sync", app.addr)).await.unwrap();
    wait_css(&c, "#sync-counts").await;
    screenshot(&c, "day-02-sync-open").await;
    let opened = Instant::now();
    let url = wait_url(&c, "/login", Duration::from_secs(12)).await;
    let polled_for = opened.elapsed();
    assert!(url.contains("expired=1"), "{url}");
    assert!(url.contains("next=%2Fsync"), "{url}");
    wait_css(&c, "#login-notice").await;
    screenshot(&c, "day-03-sync-expired").await;
    // ~13 polls at 300 ms went by: the trail holds the page, one poll, the refusal.
    let views = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.action == "sync.view")
        .count();
    assert!(
        polled_for > Duration::from_secs(3),
        "expired too early: {polled_for:?}"
    );
    assert!(views <= 4, "{views} sync.view events after {polled_for:?}");
    // The session really is over: another page goes to /login too.
    c.goto(&format!("{}/users", app.addr)).await.unwrap();
    wait_url(&c, "/login", Duration::from_secs(5)).await;
    c.close().await.unwrap();
}

#[tokio::test]
async fn an_idle_page_returns_to_login_by_itself_and_login_returns_to_that_page() {
    let Some(c) = browser().await else { return };
    let app = spawn_app_with(|s| s.session_idle_timeout = Duration::from_secs(3)).await;
    let http = app.super_admin().await;
    create_users(&http, "bob,Globex\ncarol,Acme", &[], &[]).await;
    app.sql("UPDATE users SET sync_state = 'synced'").await;
    log_in(&c, &app.addr, "/login").await;
    wait_css(&c, "#users").await;
    c.goto(&format!("{}/users?q=bob", app.addr)).await.unwrap();
    wait_css(&c, "tr[data-user-id='bob']").await;
    // No click, no poll (nothing pending): only the page's own timer.
    let url = wait_url(&c, "/login", Duration::from_secs(10)).await;
    assert!(url.contains("expired=1"), "{url}");
    wait_css(&c, "#login-notice").await;
    assert!(text(&c).await.contains("Your session expired"));
    screenshot(&c, "day-04-idle-page-expired").await;
    fill(&c, "username", "admin").await;
    fill(&c, "password", STRONG_PASSWORD).await;
    click(&c, "#submit").await;
    wait_css(&c, "#search-clear").await;
    let back = c.current_url().await.unwrap();
    assert_eq!(
        (back.path(), back.query()),
        ("/users", Some("q=bob")),
        "back on the page it was on"
    );
    screenshot(&c, "day-05-back-after-login").await;
    c.close().await.unwrap();
}

#[tokio::test]
async fn models_and_services_are_picked_by_keyboard_in_create_many_the_dialog_and_the_bulk_bar() {
    let Some(c) = browser().await else { return };
    let app = spawn_app_with(litellm_down).await;
    let http = app.super_admin().await;
    catalogue(
        &app,
        &[
            ("gpt-4o", true),
            ("gpt-4o-mini", true),
            ("claude-3-haiku", true),
            ("claude-3-5-sonnet", true),
            ("llama-3-70b", true),
            ("mistral-large", true),
            ("gemini-1.5-pro", true),
            ("o1-mini", true),
            ("retired-model", false),
        ],
    )
    .await;
    add_service(&http, "wiki").await;
    add_service(&http, "search").await;
    add_service(&http, "translate").await;
    log_in(&c, &app.addr, "/login").await;
    wait_css(&c, "#create-many").await;

    // Create-many: type to filter, Enter to pick; ArrowDown moves to the next match.
    click(&c, "#create-many").await;
    wait_css(&c, "#create-models-filter").await;
    fill(&c, "lines", "kim,Acme\nlee,Acme").await;
    pick(&c, "create-models", "gpt-4o-mini").await;
    let f = c.find(Locator::Id("create-services-filter")).await.unwrap();
    f.click().await.unwrap();
    f.send_keys("s").await.unwrap(); // search, translate
    f.send_keys(ARROW_DOWN).await.unwrap();
    f.send_keys(ENTER).await.unwrap();
    wait_css(&c, "#create-services .chip").await;
    screenshot(&c, "day-06-create-many-picked").await;
    click(&c, "#create-preview-btn").await;
    wait_css(&c, "#create-preview").await;
    assert!(
        in_view(&c, "#create-preview h2").await,
        "the preview is in view after submitting"
    );
    screenshot(&c, "day-07-create-many-preview-in-view").await;
    click(&c, "#create-submit").await;
    wait_css(&c, "article.flash").await;
    let body = text(&c).await;
    assert!(body.contains("Created 2 users."), "{body}");
    assert!(body.contains("Follow the sync"), "{body}");
    screenshot(&c, "day-08-created").await;
    assert_eq!(app.models_of("kim").await, vec!["gpt-4o-mini"]);
    assert_eq!(app.services_of("lee").await, vec!["translate"]);

    // The dialog: pick a model by keyboard, Backspace takes the last chip off.
    click(&c, "tr[data-user-id='kim'] a.edit-link").await;
    wait_css(&c, "dialog[open] #edit-models-filter").await;
    pick(&c, "edit-models", "claude-3-haiku").await;
    pick(&c, "edit-services", "wiki").await;
    let f = c.find(Locator::Id("edit-services-filter")).await.unwrap();
    f.send_keys("\u{E003}").await.unwrap(); // Backspace: wiki off again
    pick(&c, "edit-services", "search").await;
    screenshot(&c, "day-09-dialog-picked").await;
    click(&c, "#edit-save").await;
    // The list already shows a flash (from the creation): wait for the redirect.
    wait_url(&c, "q=kim", Duration::from_secs(10)).await;
    wait_css(&c, "article.flash").await;
    assert!(text(&c).await.contains("Saved kim."));
    assert_eq!(
        app.models_of("kim").await,
        vec!["claude-3-haiku", "gpt-4o-mini"]
    );
    assert_eq!(app.services_of("kim").await, vec!["search", "translate"]);

    // The bulk bar shows only what its action needs.
    c.goto(&format!("{}/users", app.addr)).await.unwrap();
    wait_css(&c, "#bulk-op").await;
    c.find(Locator::Id("bulk-op"))
        .await
        .unwrap()
        .select_by_value("services.add")
        .await
        .unwrap();
    assert!(displayed(&c, "#bulk-services").await);
    assert!(!displayed(&c, "#bulk-models").await);
    assert!(!displayed(&c, "#bulk-organisation").await);
    c.find(Locator::Id("bulk-op"))
        .await
        .unwrap()
        .select_by_value("delete")
        .await
        .unwrap();
    assert!(!displayed(&c, "#bulk-services").await && !displayed(&c, "#bulk-models").await);
    c.find(Locator::Id("bulk-op"))
        .await
        .unwrap()
        .select_by_value("models.add")
        .await
        .unwrap();
    assert!(displayed(&c, "#bulk-models").await && !displayed(&c, "#bulk-services").await);
    for u in ["kim", "lee"] {
        click(&c, &format!("tr[data-user-id='{u}'] input.row-select")).await;
    }
    pick(&c, "bulk-models", "o1-mini").await;
    screenshot(&c, "day-10-bulk-bar-models-picked").await;
    click(&c, "#bulk-preview").await;
    wait_css(&c, "#preview-summary").await;
    assert!(text(&c).await.contains("Add o1-mini to 2 users."));
    click(&c, "#bulk-apply").await;
    wait_css(&c, "article.flash").await;
    let body = text(&c).await;
    assert!(body.contains("Added o1-mini to 2 users."), "{body}");
    screenshot(&c, "day-11-bulk-added").await;
    assert!(app.models_of("lee").await.contains(&"o1-mini".to_string()));
    c.close().await.unwrap();
}

#[tokio::test]
async fn the_dialog_fits_1366x768_and_1920x1080_with_save_visible_and_red_models_in_sight() {
    let Some(c) = browser().await else { return };
    let app = spawn_app_with(litellm_down).await;
    let http = app.super_admin().await;
    let names: Vec<String> = (1..=14).map(|i| format!("model-{i:02}")).collect();
    let mut cat: Vec<(&str, bool)> = names.iter().map(|n| (n.as_str(), true)).collect();
    cat.push(("zz-retired", false));
    catalogue(&app, &cat).await;
    for s in ["wiki", "search", "translate", "mail", "calendar", "crm"] {
        add_service(&http, s).await;
    }
    create_users(
        &http,
        "gina,Hooli",
        &["model-03", "zz-retired", "all-team-models"],
        &["wiki"],
    )
    .await;
    log_in(&c, &app.addr, "/login").await;
    wait_css(&c, "tr[data-user-id='gina']").await;
    for (w, h) in [(1366u32, 768u32), (1920, 1080)] {
        c.set_window_size(w, h).await.unwrap();
        c.goto(&format!("{}/users", app.addr)).await.unwrap();
        wait_css(&c, "tr[data-user-id='gina']").await;
        click(&c, "tr[data-user-id='gina'] a.edit-link").await;
        wait_css(&c, "dialog[open] #edit-save").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(in_view(&c, "#edit-save").await, "Save visible at {w}×{h}");
        assert!(
            in_view(&c, "#edit-models label.model-red").await,
            "the retired model is in sight at {w}×{h}"
        );
        screenshot(&c, &format!("day-12-dialog-{w}x{h}")).await;
    }
    c.close().await.unwrap();
}

#[tokio::test]
async fn walking_users_the_dialog_and_sync_puts_no_token_in_any_audited_path() {
    let Some(c) = browser().await else { return };
    let app = spawn_app_with(|s| s.ui_poll_interval = Duration::from_millis(300)).await;
    let http = app.super_admin().await;
    create_users(&http, "bob,Globex", &[], &[]).await;
    log_in(&c, &app.addr, "/login").await;
    wait_css(&c, "tr[data-user-id='bob']").await;
    let token = c
        .execute(
            "return document.querySelector('meta[name=csrf-token]').content",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    click(&c, "tr[data-user-id='bob'] a.edit-link").await;
    wait_css(&c, "dialog[open] #reveal-key").await;
    click(&c, "#reveal-key").await; // an htmx POST: the token goes in a header
    wait_css(&c, "#revealed-key").await;
    screenshot(&c, "day-13-dialog-key-revealed").await;
    c.goto(&format!("{}/sync", app.addr)).await.unwrap();
    wait_css(&c, "#sync-counts").await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // a few polls
    c.goto(&format!("{}/users", app.addr)).await.unwrap();
    wait_css(&c, "#users").await;
    let events = app.events().await;
    assert!(
        events
            .iter()
            .any(|e| e.action == "user.key.reveal" && e.outcome == "success")
    );
    assert!(events.iter().any(|e| e.action == "users.sync_state"));
    for e in &events {
        let p = e.path.clone().unwrap_or_default();
        assert!(
            !p.contains(&token)
                && !p.contains("csrf")
                && !p.contains("token=")
                && !p.contains("key="),
            "audited path carries a secret: {p}"
        );
    }
    c.close().await.unwrap();
}

#[tokio::test]
async fn a_retired_model_is_taken_off_everyone_from_models_after_a_preview() {
    let Some(c) = browser().await else { return };
    let app = spawn_app_with(litellm_down).await;
    let http = app.super_admin().await;
    catalogue(&app, &[("gpt-4o", true), ("old-model", false)]).await;
    create_users(&http, "r1,A\nr2,A\nr3,B", &["old-model", "gpt-4o"], &[]).await;
    create_users(&http, "k1,A", &["gpt-4o"], &[]).await;
    log_in(&c, &app.addr, "/login").await;
    wait_css(&c, "#users").await;
    c.goto(&format!("{}/models", app.addr)).await.unwrap();
    wait_css(&c, "button.remove-retired").await;
    assert!(text(&c).await.contains("3 users hold it"));
    screenshot(&c, "day-14-models-retired-holders").await;
    click(&c, "button.remove-retired[data-model='old-model']").await;
    wait_css(&c, "#preview-summary").await;
    assert!(text(&c).await.contains("Remove old-model from 3 users."));
    screenshot(&c, "day-15-remove-retired-preview").await;
    click(&c, "#bulk-apply").await;
    wait_css(&c, "article.flash").await;
    assert!(text(&c).await.contains("Removed old-model from 3 users."));
    screenshot(&c, "day-16-retired-removed").await;
    assert_eq!(app.models_of("r1").await, vec!["gpt-4o"]);
    c.close().await.unwrap();
}
