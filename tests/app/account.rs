use crate::helpers::*;

async fn change(b: &Browser, current: &str, new: &str, confirm: &str) -> (u16, String) {
    let r = b
        .post_form(
            "/account/password",
            &[
                ("current_password", current),
                ("new_password", new),
                ("confirm_password", confirm),
            ],
        )
        .await;
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn each_password_rule_is_enforced_with_a_message_naming_the_field() {
    let app = spawn_app().await;
    let b = app.browser();
    b.login("admin", "admin").await;
    b.page("/account/password").await;
    let long = "x".repeat(129);
    let cases: Vec<(&str, &str, &str, &str)> = vec![
        ("admin", "short", "short", "at least 8 characters"),
        ("admin", &long, &long, "at most 128 characters"),
        ("admin", "password", "password", "most commonly used"),
        ("admin", "iloveyou", "iloveyou", "most commonly used"),
        ("admin", "PASSWORD1", "PASSWORD1", "most commonly used"),
        (
            "admin",
            "a good long phrase",
            "a different phrase",
            "do not match",
        ),
        (
            "wrong current",
            STRONG_PASSWORD,
            STRONG_PASSWORD,
            "current password is not correct",
        ),
        (
            "",
            STRONG_PASSWORD,
            STRONG_PASSWORD,
            "Enter your current password",
        ),
        ("admin", "", "", "Enter a new password"),
    ];
    for (cur, new, confirm, msg) in cases {
        let (status, body) = change(&b, cur, new, confirm).await;
        assert_eq!(status, 422, "{msg}");
        assert!(body.contains(msg), "expected {msg:?}");
        assert!(
            body.contains("field-error"),
            "the message sits at its field"
        );
    }
    // None of the refused attempts changed anything: the forced change still works.
    let (status, _) = change(&b, "admin", STRONG_PASSWORD, STRONG_PASSWORD).await;
    assert_eq!(status, 303);
    let sa = &b;
    // The username itself is refused ("admin" is too short anyway; use a longer name).
    let r = sa
        .create_account("longusername", "admin", "longusername")
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("same as the username"));
    // 64 characters of unicode are fine.
    let phrase: String = "ä".repeat(64);
    let (status, _) = change(sa, STRONG_PASSWORD, &phrase, &phrase).await;
    assert_eq!(status, 303);
    assert_eq!(app.browser().login("admin", &phrase).await.status(), 303);
}

#[tokio::test]
async fn changing_a_password_ends_the_other_sessions_but_not_this_one() {
    let app = spawn_app().await;
    let first = app.super_admin().await;
    let second = app.browser();
    assert_eq!(
        location(&second.login("admin", STRONG_PASSWORD).await),
        "/users"
    );
    assert_eq!(second.get("/users").await.status(), 200);
    first.page("/account/password").await;
    let (status, _) = change(
        &first,
        STRONG_PASSWORD,
        "another long passphrase",
        "another long passphrase",
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(
        first.get("/users").await.status(),
        200,
        "the session that changed it continues"
    );
    let r = second.get("/users").await;
    assert_eq!(
        (r.status().as_u16(), location(&r).as_str()),
        (303, "/login")
    );
    let (_, body) = second.page("/login").await;
    assert!(body.contains("Your session has ended"));
    let ev = app
        .events()
        .await
        .into_iter()
        .rev()
        .find(|e| e.action == "account.password.change")
        .unwrap();
    assert!(
        ev.details.contains("\"other_sessions_ended\":1"),
        "{}",
        ev.details
    );
}
