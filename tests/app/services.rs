//! `/services`: the catalogue of internal services.
use mama::entities::service;
use sea_orm::EntityTrait;

use crate::helpers::*;
use crate::users::{add_service, create_users};

#[tokio::test]
async fn services_are_created_renamed_and_deleted_only_when_unused() {
    let app = spawn_app().await;
    let b = app.super_admin().await;
    add_service(&b, "wiki").await;
    add_service(&b, "mail").await;
    let (_, body) = b.page("/services").await;
    assert!(body.contains("data-service=\"wiki\""));
    create_users(&b, "s1,Org\ns2,Org", &[], &["wiki"]).await;
    let all = service::Entity::find().all(&app.db).await.unwrap();
    let wiki = all.iter().find(|s| s.name == "wiki").unwrap().id;
    let mail = all.iter().find(|s| s.name == "mail").unwrap().id;

    // In use: refused, naming its users.
    let r = b.post_form(&format!("/services/{wiki}/delete"), &[]).await;
    assert_eq!(r.status(), 409);
    let body = r.text().await.unwrap();
    assert!(body.contains("still used by 2 users: s1, s2"), "{body}");
    assert!(
        service::Entity::find_by_id(wiki)
            .one(&app.db)
            .await
            .unwrap()
            .is_some()
    );

    // Rename: its users are re-synced (services travel in the key metadata).
    let r = b
        .post_form(
            &format!("/services/{wiki}/rename"),
            &[("name", "wiki2"), ("description", "the wiki")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let ev = app.event_for(&request_id(&r)).await;
    assert_eq!(ev.action, "service.update");
    let mut t: Vec<String> = serde_json::from_str(&ev.targets).unwrap();
    t.sort();
    assert_eq!(t, vec!["s1", "s2"]);
    assert!(ev.details.contains("\"before\"") && ev.details.contains("wiki2"));

    // A duplicate name is a field error.
    let r = b
        .post_form(&format!("/services/{mail}/rename"), &[("name", "wiki2")])
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("already exists"));

    // Unused: deleted.
    let r = b.post_form(&format!("/services/{mail}/delete"), &[]).await;
    assert_eq!(r.status(), 303);
    assert!(
        service::Entity::find_by_id(mail)
            .one(&app.db)
            .await
            .unwrap()
            .is_none()
    );
    let ev = app.event_for(&request_id(&r)).await;
    assert_eq!(ev.action, "service.delete");
}

#[tokio::test]
async fn bad_service_names_get_field_messages_and_nothing_is_written() {
    let app = spawn_app().await;
    let b = app.super_admin().await;
    b.page("/services").await;
    let big = "a".repeat(10_000);
    for name in [
        "",
        "   ",
        big.as_str(),
        "<b>x</b>",
        "'; DROP TABLE services; --",
        "ünï",
        "a\u{0}b",
    ] {
        let r = b
            .post_form("/services", &[("name", name), ("description", name)])
            .await;
        assert_eq!(r.status(), 422, "{name:.20}");
        let body = r.text().await.unwrap();
        assert!(
            body.contains("field-error") || body.contains("must not contain NUL"),
            "{name:.20}: {body}"
        );
        assert!(!body.contains("<b>x</b>"), "escaped");
    }
    assert!(
        service::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .is_empty()
    );
    // Without the CSRF token: refused.
    assert_eq!(
        b.post_raw("/services", &[("name", "ok")]).await.status(),
        403
    );
    // Unknown IDs are 404s, not 500s.
    assert_eq!(b.post_form("/services/999/delete", &[]).await.status(), 404);
    assert_eq!(
        b.post_form("/services/abc/rename", &[("name", "x")])
            .await
            .status(),
        404
    );
}
