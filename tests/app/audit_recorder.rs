use crate::helpers::*;

#[tokio::test]
async fn every_request_gets_exactly_one_event_whose_id_is_the_response_header() {
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    let adam = app.account(&sa, "adam", "admin").await;
    let anon = app.browser();
    let cases: Vec<(reqwest::Response, &str, &str, u16)> = vec![
        (anon.get("/login").await, "auth.login.view", "success", 200),
        (
            anon.login("admin", "not it at all").await,
            "auth.login.failure",
            "denied",
            401,
        ),
        (anon.get("/users").await, "user.list", "denied", 303),
        (
            anon.get("/no/such/page").await,
            "http.not_found",
            "invalid",
            404,
        ),
        (sa.get("/admins").await, "admin.list", "success", 200),
        (
            sa.get("/admins/424242/delete").await,
            "admin.view",
            "invalid",
            404,
        ),
        (
            sa.get("/admins/not-a-number/delete").await,
            "admin.view",
            "invalid",
            404,
        ),
        (adam.get("/admins").await, "admin.list", "denied", 403),
        (
            sa.post_form("/admins", &[("username", ""), ("role", "admin")])
                .await,
            "admin.create",
            "invalid",
            422,
        ),
        (
            sa.get("/audit?before=abc").await,
            "audit.list",
            "invalid",
            400,
        ),
    ];
    for (r, action, outcome, status) in cases {
        assert_eq!(r.status().as_u16(), status, "{action}");
        let ev = app.event_for(&request_id(&r)).await;
        assert_eq!(
            (ev.action.as_str(), ev.outcome.as_str(), ev.http_status),
            (action, outcome, Some(status as i32)),
            "{}",
            ev.path.clone().unwrap_or_default()
        );
        assert!(ev.client_ip.as_deref() == Some("127.0.0.1"));
        assert!(ev.method.is_some() && ev.path.is_some());
    }
    // Static assets and probes carry a request ID but are not audited.
    let before = app.events().await.len();
    for p in ["/static/app.css", "/healthz", "/readyz"] {
        let r = anon.get(p).await;
        assert_eq!(r.status(), 200, "{p}");
        request_id(&r);
    }
    assert_eq!(app.events().await.len(), before);
}

#[tokio::test]
async fn error_pages_are_friendly_and_show_the_request_id() {
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    let adam = app.account(&sa, "adam", "admin").await;
    let r = adam.get("/admins").await;
    let rid = request_id(&r);
    let body = r.text().await.unwrap();
    assert!(body.contains("Not allowed") && body.contains(&rid) && body.contains("<nav"));
    let r = sa.get("/nothing-here").await;
    let rid = request_id(&r);
    let body = r.text().await.unwrap();
    assert!(body.contains("Page not found") && body.contains(&rid));
    let r = sa.get("/api/v1/nothing").await;
    assert_eq!(r.status(), 404);
    let rid = request_id(&r);
    let json: serde_json::Value = r.json().await.unwrap();
    assert_eq!(json["error"]["code"], "NOT_FOUND");
    assert_eq!(json["error"]["request_id"], rid.as_str());
}

#[tokio::test]
async fn a_read_whose_event_cannot_be_stored_answers_503() {
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    assert_eq!(sa.get("/admins").await.status(), 200);
    app.break_audit_store().await;
    let r = sa.get("/admins").await;
    assert_eq!(r.status(), 503);
    request_id(&r);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("Temporarily unavailable") && !body.contains("<td>admin</td>"),
        "the page is not served unrecorded"
    );
    let r = app.browser().get("/login").await;
    assert_eq!(r.status(), 503);
}

#[tokio::test]
async fn a_write_whose_event_cannot_be_stored_is_rolled_back() {
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    sa.page("/admins/new").await;
    let b = app.browser();
    b.csrf().await;
    app.break_audit_store().await;
    let r = sa.create_account("ghost", "admin", STRONG_PASSWORD).await;
    assert_eq!(r.status(), 503);
    assert!(
        mama::admins::queries::find_by_username(&app.db, "ghost")
            .await
            .unwrap()
            .is_none(),
        "no unaudited write"
    );
    // A failed login's counters roll back too.
    let r = b
        .post_form(
            "/login",
            &[("username", "admin"), ("password", "wrong again")],
        )
        .await;
    assert_eq!(r.status(), 503);
    let a = mama::admins::queries::find_by_username(&app.db, "admin")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.failed_logins, 0);
    app.restore_audit_store().await;
    let r = sa.create_account("ghost", "admin", STRONG_PASSWORD).await;
    assert_eq!(r.status(), 303, "works again once the store is back");
}

#[tokio::test]
async fn no_password_ever_reaches_the_audit_trail() {
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    let _adam = app.account(&sa, "adam", "admin").await;
    app.browser()
        .login("admin", "a wrong but secret guess")
        .await;
    // A password typed into the username field is not recorded as such.
    app.browser()
        .login("my secret in the wrong field", "x")
        .await;
    sa.post_form(
        "/admins",
        &[
            ("username", "x y"),
            ("role", "admin"),
            ("password", "secret-candidate-1"),
            ("confirm_password", "secret-candidate-2"),
        ],
    )
    .await;
    let secrets = [
        STRONG_PASSWORD,
        "my secret in the wrong field",
        "initial passphrase 1",
        "a wrong but secret guess",
        "secret-candidate-1",
        "secret-candidate-2",
    ];
    for ev in app.events().await {
        let row = format!("{ev:?}");
        for s in &secrets {
            assert!(!row.contains(s), "secret {s:?} in {row}");
        }
    }
}
