//! An auditor in headless Chromium: filters by a user and an action, opens an
//! event's diff, exports the filtered set as CSV.
use fantoccini::Locator;
use mama::audit::{Action, Event, Outcome};

use crate::{helpers::*, webdriver::*};

#[tokio::test]
async fn an_auditor_filters_by_user_and_action_opens_a_diff_and_exports_csv() {
    let Some(c) = browser().await else { return };
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    app.account(&sa, "audrey", "auditor").await;
    for (action, user, org) in [
        (Action::UserUpdate, "jdoe", "Research"),
        (Action::UserView, "jdoe", ""),
        (Action::UserUpdate, "mroe", "Sales"),
    ] {
        let mut ev = Event::system("alice", action, Outcome::Success);
        ev.targets = vec![user.into()];
        if action == Action::UserUpdate {
            ev.details = serde_json::json!({
                "before": {"organisation": "Marketing", "models": ["gpt-4o"], "key_hint": "…x9Qz"},
                "after": {"organisation": org, "models": ["gpt-4o", "claude-sonnet"], "key_hint": "…x9Qz"}});
        }
        mama::audit::insert(&app.db, &ev).await.unwrap();
    }

    log_in_as(&c, &app.addr, "/login", "audrey").await;
    c.wait().for_element(Locator::Id("filter")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().starts_with("/audit"));
    screenshot(&c, "audit-01-auditor-lands-on-the-trail").await;

    fill(&c, "user", "jdoe").await;
    c.find(Locator::Id("action"))
        .await
        .unwrap()
        .select_by_value("user.update")
        .await
        .unwrap();
    click(&c, "#apply").await;
    c.wait()
        .for_element(Locator::Css("input#user[value=jdoe]"))
        .await
        .unwrap();
    let url = c.current_url().await.unwrap();
    assert!(url.query().unwrap().contains("user=jdoe"));
    assert!(url.query().unwrap().contains("action=user.update"));
    let rows = c.find_all(Locator::Css("#events tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 1, "only jdoe's update");
    screenshot(&c, "audit-02-filtered-by-user-and-action").await;

    click(&c, "#events a.event-link").await;
    c.wait().for_element(Locator::Id("diff")).await.unwrap();
    let page = text(&c).await;
    assert!(
        page.contains("Marketing") && page.contains("Research"),
        "{page}"
    );
    assert!(page.contains("claude-sonnet"));
    screenshot(&c, "audit-03-event-diff").await;
    c.back().await.unwrap();
    c.wait()
        .for_element(Locator::Id("export-csv"))
        .await
        .unwrap();

    let href = c
        .find(Locator::Id("export-csv"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert!(href.contains("user=jdoe") && href.contains("action=user.update"));
    // Fetch the export as the page would download it (with the session cookie).
    let csv = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0]).then(r => r.text()).then(done, e => done('ERR ' + e));",
            vec![serde_json::Value::String(href)],
        )
        .await
        .unwrap();
    let csv = csv.as_str().unwrap().to_string();
    assert!(csv.starts_with("id,occurred_at"), "{csv}");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[1].contains("jdoe") && lines[1].contains("user.update"));
    screenshot(&c, "audit-04-after-export").await;
    c.close().await.unwrap();

    let exports: Vec<_> = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.action == "audit.export")
        .collect();
    assert_eq!(exports.len(), 1);
    assert_eq!(exports[0].actor_name.as_deref(), Some("audrey"));
    assert!(exports[0].details.contains("jdoe"));
}
