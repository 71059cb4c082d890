//! The users page walked in headless Chromium, by clicking: search, sort by two
//! columns, bulk add to three users, select-all-matching, create from pasted lines,
//! edit in the dialog, reveal a key, delete two. A screenshot per step.
use fantoccini::{Client, Locator};

use crate::{
    helpers::*,
    users::{add_service, catalogue, create_users},
    webdriver::*,
};

async fn select_op(c: &Client, op: &str) {
    c.find(Locator::Id("bulk-op"))
        .await
        .unwrap()
        .select_by_value(op)
        .await
        .unwrap();
}

/// Picks `value` in the picker `id` by keyboard: type into its filter, Enter.
pub async fn pick(c: &Client, id: &str, value: &str) {
    let filter = format!("{id}-filter");
    let el = c
        .find(Locator::Id(&filter))
        .await
        .unwrap_or_else(|e| panic!("#{filter}: {e}"));
    el.click().await.unwrap();
    el.send_keys(value).await.unwrap();
    el.send_keys("\u{E007}").await.unwrap(); // Enter
    let checked = c
        .find(Locator::Css(&format!("#{id} input[value='{value}']")))
        .await
        .unwrap()
        .prop("checked")
        .await
        .unwrap();
    assert_eq!(checked.as_deref(), Some("true"), "{value} picked in #{id}");
}

async fn tick(c: &Client, user_id: &str) {
    click(c, &format!("tr[data-user-id='{user_id}'] input.row-select")).await;
}

#[tokio::test]
async fn an_admin_manages_users_by_clicking() {
    let Some(c) = browser().await else { return };
    let app = spawn_app().await;
    // Data through the HTTP API of the pages (as another admin tab would).
    let http = app.super_admin().await;
    catalogue(
        &app,
        &[
            ("gpt-4o", true),
            ("gpt-4o-mini", true),
            ("retired-model", false),
        ],
    )
    .await;
    add_service(&http, "wiki").await;
    add_service(&http, "search").await;
    let r = create_users(
        &http,
        "alice,Acme Research\nbob,Globex\ncarol,ACME Labs\ndave,Initech\nerin,Acme Research\nfrank,Umbrella",
        &["gpt-4o"],
        &["wiki"],
    )
    .await;
    assert_eq!(r.status(), 303);
    create_users(
        &http,
        "gina,Hooli",
        &["retired-model", "all-team-models"],
        &[],
    )
    .await;

    log_in(&c, &app.addr, "/login").await;
    wait_css(&c, "#users").await;
    screenshot(&c, "users-01-list").await;
    let body = text(&c).await;
    assert!(body.contains("7 users"), "{body}");

    // Search.
    fill(&c, "search", "acme").await;
    click(&c, "#search-submit").await;
    wait_css(&c, "#search-clear").await;
    let body = text(&c).await;
    assert!(body.contains("3 users matching “acme”"), "{body}");
    assert!(!body.contains("Globex"));
    screenshot(&c, "users-02-search-acme").await;

    // Sort by organisation (twice: reversed), then by ID.
    click(&c, "#sort-organisation").await;
    wait_css(&c, "th[aria-sort='ascending'] #sort-organisation").await;
    click(&c, "#sort-organisation").await;
    wait_css(&c, "th[aria-sort='descending'] #sort-organisation").await;
    let html = c.source().await.unwrap();
    let (a, cr) = (
        html.find("data-user-id=\"alice\"").unwrap(),
        html.find("data-user-id=\"carol\"").unwrap(),
    );
    assert!(
        a < cr,
        "descending organisation: Acme Research before ACME Labs"
    );
    assert!(c.current_url().await.unwrap().as_str().contains("q=acme"));
    screenshot(&c, "users-03-sorted-by-organisation-desc").await;
    click(&c, "#sort-id").await;
    wait_css(&c, "th[aria-sort='ascending'] #sort-id").await;
    screenshot(&c, "users-04-sorted-by-id").await;

    // Select three users and add a model.
    click(&c, "#search-clear").await;
    wait_css(&c, "tr[data-user-id='bob']").await;
    for u in ["bob", "dave", "frank"] {
        tick(&c, u).await;
    }
    select_op(&c, "models.add").await;
    pick(&c, "bulk-models", "gpt-4o-mini").await;
    screenshot(&c, "users-05-three-selected").await;
    click(&c, "#bulk-preview").await;
    wait_css(&c, "#preview-summary").await;
    assert!(text(&c).await.contains("Add gpt-4o-mini to 3 users."));
    screenshot(&c, "users-06-preview-add-model").await;
    click(&c, "#bulk-apply").await;
    wait_css(&c, "article.flash").await;
    screenshot(&c, "users-07-model-added").await;
    assert_eq!(app.models_of("dave").await, vec!["gpt-4o", "gpt-4o-mini"]);
    assert_eq!(app.models_of("alice").await, vec!["gpt-4o"]);

    // Select all matching a search and remove a service.
    fill(&c, "search", "acme").await;
    click(&c, "#search-submit").await;
    wait_css(&c, "#search-clear").await;
    click(&c, "#all-matching").await;
    select_op(&c, "services.remove").await;
    pick(&c, "bulk-services", "wiki").await;
    screenshot(&c, "users-08-all-matching-selected").await;
    click(&c, "#bulk-preview").await;
    wait_css(&c, "#preview-summary").await;
    assert!(text(&c).await.contains("3 users selected"));
    screenshot(&c, "users-09-preview-remove-service").await;
    click(&c, "#bulk-apply").await;
    wait_css(&c, "article.flash").await;
    screenshot(&c, "users-10-service-removed").await;
    assert!(app.services_of("carol").await.is_empty());
    assert_eq!(app.services_of("bob").await, vec!["wiki"]);

    // Create five users from pasted lines; one bad line is shown with its number.
    click(&c, "#create-many").await;
    wait_css(&c, "#lines").await;
    fill(
        &c,
        "lines",
        "user_id,organisation\nnew1,Wayne\nnew2,Wayne\nbad user!,Wayne\nnew3,Stark\nnew4,Stark\nnew5,Stark",
    )
    .await;
    click(&c, "input[name=models][value='gpt-4o']").await;
    click(&c, "#create-preview-btn").await;
    wait_css(&c, "#create-preview").await;
    let body = text(&c).await;
    assert!(
        body.contains("Line 4: The user ID has characters"),
        "{body}"
    );
    assert!(body.contains("5 valid, 1 with errors"));
    c.execute(
        "document.getElementById('create-preview').scrollIntoView()",
        vec![],
    )
    .await
    .unwrap();
    screenshot(&c, "users-11-create-preview-with-bad-line").await;
    click(&c, "#mode-valid").await;
    click(&c, "#create-submit").await;
    wait_css(&c, "article.flash").await;
    screenshot(&c, "users-12-five-created").await;
    for u in ["new1", "new2", "new3", "new4", "new5"] {
        assert_eq!(app.models_of(u).await, vec!["gpt-4o"], "{u}");
    }

    // Edit one in the dialog.
    c.goto(&format!("{}/users?q=gina", app.addr)).await.unwrap();
    wait_css(&c, "tr[data-user-id='gina']").await;
    screenshot(&c, "users-13-red-model").await;
    click(&c, "tr[data-user-id='gina'] a.edit-link").await;
    wait_css(&c, "dialog[open] #edit-form").await;
    screenshot(&c, "users-14-edit-dialog").await;
    fill(&c, "organisation", "Hooli XYZ").await;
    click(&c, "#edit-form input[name=models][value='gpt-4o']").await;
    click(&c, "#edit-save").await;
    wait_css(&c, "article.flash").await;
    screenshot(&c, "users-15-edited").await;
    let g = mama::users::queries::find(&app.db, "gina")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g.organisation, "Hooli XYZ");
    assert_eq!(
        app.models_of("gina").await,
        vec!["all-team-models", "gpt-4o", "retired-model"]
    );

    // Reveal a key (in the dialog).
    click(&c, "tr[data-user-id='gina'] a.edit-link").await;
    wait_css(&c, "dialog[open] #reveal-key").await;
    click(&c, "#reveal-key").await;
    wait_css(&c, "#revealed-key").await;
    let key = c
        .find(Locator::Id("revealed-key"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(mama::crypto::sha256_hex(&key), g.key_sha256);
    screenshot(&c, "users-16-key-revealed").await;
    assert!(
        app.events()
            .await
            .iter()
            .any(|e| e.action == "user.key.reveal" && e.targets.contains("gina"))
    );

    // Delete two.
    c.goto(&format!("{}/users", app.addr)).await.unwrap();
    wait_css(&c, "tr[data-user-id='new4']").await;
    tick(&c, "new4").await;
    tick(&c, "new5").await;
    select_op(&c, "delete").await;
    click(&c, "#bulk-preview").await;
    wait_css(&c, "#confirm_count").await;
    screenshot(&c, "users-17-delete-confirm").await;
    fill(&c, "confirm_count", "2").await;
    click(&c, "#bulk-apply").await;
    wait_css(&c, "article.flash").await;
    screenshot(&c, "users-18-deleted").await;
    assert!(
        mama::users::queries::find(&app.db, "new4")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        mama::users::queries::find(&app.db, "new5")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        mama::users::queries::find(&app.db, "new3")
            .await
            .unwrap()
            .is_some()
    );

    // The services page.
    click(&c, "#nav-services").await;
    wait_css(&c, "#services").await;
    screenshot(&c, "users-19-services").await;
    c.close().await.unwrap();
}
