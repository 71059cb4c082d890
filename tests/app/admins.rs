use crate::helpers::*;

async fn admin_id(app: &TestApp, username: &str) -> i32 {
    mama::admins::queries::find_by_username(&app.db, username)
        .await
        .unwrap()
        .unwrap()
        .id
}

#[tokio::test]
async fn a_super_admin_creates_an_admin_who_must_change_the_initial_password() {
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    let r = sa
        .create_account(" Alice ", "admin", "initial passphrase 1")
        .await;
    assert_eq!(
        (r.status().as_u16(), location(&r).as_str()),
        (303, "/admins")
    );
    let rid = request_id(&r);
    let ev = app.event_for(&rid).await;
    assert_eq!(
        (
            ev.action.as_str(),
            ev.outcome.as_str(),
            ev.actor_name.as_deref()
        ),
        ("admin.create", "success", Some("admin"))
    );
    assert!(
        ev.details.contains("\"username\":\"alice\"") && !ev.details.contains("initial passphrase")
    );
    let (_, body) = sa.page("/admins").await;
    assert!(
        body.contains("alice")
            && body.contains("must change password")
            && body.contains("Created admin")
    );
    let alice = app.browser();
    assert_eq!(
        location(&alice.login("alice", "initial passphrase 1").await),
        "/account/password"
    );
    // A duplicate username is refused at its field.
    let r = sa.create_account("ALICE", "auditor", STRONG_PASSWORD).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("already exists"));
}

#[tokio::test]
async fn bad_input_on_the_new_account_form_is_named_and_writes_nothing() {
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    let huge = "a".repeat(10_000);
    let cases: Vec<(&str, &str, &str, &str)> = vec![
        ("", "admin", STRONG_PASSWORD, "1 to 64 characters"),
        (&huge, "admin", STRONG_PASSWORD, "1 to 64 characters"),
        (
            "<script>x</script>",
            "admin",
            STRONG_PASSWORD,
            "Use only letters",
        ),
        (
            "robert'); DROP TABLE admins;--",
            "admin",
            STRONG_PASSWORD,
            "Use only letters",
        ),
        ("zoë", "admin", STRONG_PASSWORD, "Use only letters"),
        ("bob", "root", STRONG_PASSWORD, "Choose a role"),
        ("bob", "admin", "short", "at least 8 characters"),
        ("bob", "admin", "qwertyuiop", "most commonly used"),
    ];
    for (u, role, pw, msg) in cases {
        let r = sa.create_account(u, role, pw).await;
        assert_eq!(r.status(), 422, "{msg}");
        let rid = request_id(&r);
        let body = r.text().await.unwrap();
        assert!(body.contains(msg), "{msg}");
        assert!(!body.contains("<script>x</script>"));
        let ev = app.event_for(&rid).await;
        assert_eq!(
            (ev.action.as_str(), ev.outcome.as_str()),
            ("admin.create", "invalid")
        );
        assert!(
            !ev.details.contains(pw) || pw == "admin",
            "no password in the audit trail"
        );
    }
    assert_eq!(
        mama::admins::queries::list(&app.db).await.unwrap().len(),
        1,
        "only the seeded admin"
    );
}

#[tokio::test]
async fn admins_and_auditors_cannot_reach_any_admin_management_route() {
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    let admin = app.account(&sa, "adam", "admin").await;
    let auditor = app.account(&sa, "audrey", "auditor").await;
    let target = admin_id(&app, "admin").await;
    for (who, b) in [("admin", &admin), ("auditor", &auditor)] {
        for path in [
            "/admins".to_string(),
            "/admins/new".into(),
            format!("/admins/{target}/delete"),
            format!("/admins/{target}/password"),
        ] {
            let r = b.get(&path).await;
            assert_eq!(r.status(), 403, "{who} GET {path}");
            let ev = app.event_for(&request_id(&r)).await;
            assert_eq!(ev.outcome, "denied");
            assert_eq!(
                ev.actor_name.as_deref(),
                Some(if who == "admin" { "adam" } else { "audrey" })
            );
        }
        b.page("/account/password").await;
        let posts = [
            (
                "/admins".to_string(),
                vec![
                    ("username", "mallory"),
                    ("role", "super_admin"),
                    ("password", STRONG_PASSWORD),
                    ("confirm_password", STRONG_PASSWORD),
                ],
            ),
            (format!("/admins/{target}/delete"), vec![]),
            (
                format!("/admins/{target}/password"),
                vec![
                    ("password", STRONG_PASSWORD),
                    ("confirm_password", STRONG_PASSWORD),
                ],
            ),
        ];
        for (path, fields) in posts {
            let r = b.post_form(&path, &fields).await;
            assert_eq!(r.status(), 403, "{who} POST {path}");
            let ev = app.event_for(&request_id(&r)).await;
            assert_eq!(ev.outcome, "denied");
            assert!(ev.action.starts_with("admin."), "{}", ev.action);
        }
    }
    // Nothing happened: the super admin still exists with its password, no mallory.
    assert!(
        mama::admins::queries::find_by_username(&app.db, "mallory")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        location(&app.browser().login("admin", STRONG_PASSWORD).await),
        "/users"
    );
    // Their navigation does not even show the page.
    let (_, body) = admin.page("/users").await;
    assert!(!body.contains("href=\"/admins\""));
}

#[tokio::test]
async fn deleting_an_admin_ends_their_sessions_at_once() {
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    let adam = app.account(&sa, "adam", "admin").await;
    assert_eq!(adam.get("/users").await.status(), 200);
    let id = admin_id(&app, "adam").await;
    let (status, body) = sa.page(&format!("/admins/{id}/delete")).await;
    assert_eq!(status, 200);
    assert!(body.contains("Delete adam"));
    let r = sa.post_form(&format!("/admins/{id}/delete"), &[]).await;
    assert_eq!(
        (r.status().as_u16(), location(&r).as_str()),
        (303, "/admins")
    );
    let ev = app.event_for(&request_id(&r)).await;
    assert_eq!(ev.action, "admin.delete");
    assert!(
        ev.details.contains("\"sessions_ended\":1"),
        "{}",
        ev.details
    );
    let r = adam.get("/users").await;
    assert_eq!(
        (r.status().as_u16(), location(&r).as_str()),
        (303, "/login")
    );
    assert_eq!(adam.login("adam", STRONG_PASSWORD).await.status(), 401);
}

#[tokio::test]
async fn nobody_deletes_themselves_or_the_last_super_admin() {
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    let me = admin_id(&app, "admin").await;
    let (_, body) = sa.page(&format!("/admins/{me}/delete")).await;
    assert!(body.contains("cannot delete your own account"));
    let r = sa.post_form(&format!("/admins/{me}/delete"), &[]).await;
    assert_eq!(r.status(), 409);
    // A second super admin may delete the first, but then not the last one.
    let sb = app.account(&sa, "sally", "super_admin").await;
    let r = sb.post_form(&format!("/admins/{me}/delete"), &[]).await;
    assert_eq!(r.status(), 303);
    let sally = admin_id(&app, "sally").await;
    let adam = app.account(&sb, "adam", "admin").await;
    drop(adam);
    let r = sb.post_form(&format!("/admins/{sally}/delete"), &[]).await;
    assert_eq!(r.status(), 409, "self and last super admin");
    assert_eq!(
        mama::admins::queries::count_role(&app.db, mama::admins::Role::SuperAdmin)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn a_password_reset_forces_a_change_and_ends_the_sessions() {
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    let adam = app.account(&sa, "adam", "admin").await;
    let id = admin_id(&app, "adam").await;
    // Lock adam out first: the reset also unlocks.
    let other = app.browser();
    for _ in 0..5 {
        other.login("adam", "wrong wrong").await;
    }
    assert_eq!(
        other.login("adam", STRONG_PASSWORD).await.status(),
        401,
        "locked (answered like a wrong password)"
    );
    let r = sa
        .post_form(
            &format!("/admins/{id}/password"),
            &[
                ("password", "temporary phrase 9"),
                ("confirm_password", "temporary phrase 9"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.event_for(&request_id(&r)).await.action,
        "admin.password.reset"
    );
    assert_eq!(location(&adam.get("/users").await), "/login");
    let fresh = app.browser();
    assert_eq!(
        location(&fresh.login("adam", "temporary phrase 9").await),
        "/account/password"
    );
    let r = sa
        .post_form(
            &format!("/admins/{id}/password"),
            &[("password", "abc"), ("confirm_password", "abc")],
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = sa
        .post_form(
            "/admins/999999/password",
            &[
                ("password", STRONG_PASSWORD),
                ("confirm_password", STRONG_PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), 404);
}
