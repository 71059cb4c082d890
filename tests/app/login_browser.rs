//! The first login, walked in headless Chromium as a person would.
use fantoccini::Locator;

use crate::{helpers::*, webdriver::*};

#[tokio::test]
async fn a_person_walks_the_first_login_and_creates_an_admin() {
    let Some(c) = browser().await else { return };
    let app = spawn_app().await;
    c.goto(&format!("{}/login", app.addr)).await.unwrap();
    screenshot(&c, "foundation-01-login").await;
    fill(&c, "username", "admin").await;
    fill(&c, "password", "admin").await;
    click(&c, "#submit").await;
    c.wait()
        .for_element(Locator::Id("forced-notice"))
        .await
        .unwrap();
    assert!(
        c.current_url()
            .await
            .unwrap()
            .as_str()
            .ends_with("/account/password")
    );
    screenshot(&c, "foundation-02-forced-change").await;

    // A common password is refused at its field.
    fill(&c, "current_password", "admin").await;
    fill(&c, "new_password", "password123").await;
    fill(&c, "confirm_password", "password123").await;
    click(&c, "#submit").await;
    c.wait()
        .for_element(Locator::Id("new_password-error"))
        .await
        .unwrap();
    screenshot(&c, "foundation-03-common-password-refused").await;

    fill(&c, "current_password", "admin").await;
    fill(&c, "new_password", STRONG_PASSWORD).await;
    fill(&c, "confirm_password", STRONG_PASSWORD).await;
    click(&c, "#submit").await;
    c.wait()
        .for_element(Locator::Css("article.flash"))
        .await
        .unwrap();
    assert!(text(&c).await.contains("Your password has been changed"));
    screenshot(&c, "foundation-04-password-changed").await;

    click(&c, "#nav-admins").await;
    c.wait()
        .for_element(Locator::Id("new-admin"))
        .await
        .unwrap();
    click(&c, "#new-admin").await;
    c.wait().for_element(Locator::Id("role")).await.unwrap();
    fill(&c, "username", "alice").await;
    fill(&c, "password", "initial passphrase 1").await;
    fill(&c, "confirm_password", "initial passphrase 1").await;
    screenshot(&c, "foundation-05-new-admin-form").await;
    click(&c, "#submit").await;
    c.wait()
        .for_element(Locator::Css("tr[data-username=alice]"))
        .await
        .unwrap();
    assert!(text(&c).await.contains("Created admin “alice”"));
    screenshot(&c, "foundation-06-admin-created").await;

    click(&c, "#logout").await;
    c.wait().for_element(Locator::Id("username")).await.unwrap();
    assert!(text(&c).await.contains("You have logged out"));
    screenshot(&c, "foundation-07-logged-out").await;

    fill(&c, "username", "alice").await;
    fill(&c, "password", "initial passphrase 1").await;
    click(&c, "#submit").await;
    c.wait()
        .for_element(Locator::Id("forced-notice"))
        .await
        .unwrap();
    fill(&c, "current_password", "initial passphrase 1").await;
    fill(&c, "new_password", "alice has a long phrase").await;
    fill(&c, "confirm_password", "alice has a long phrase").await;
    click(&c, "#submit").await;
    c.wait().for_element(Locator::Id("whoami")).await.unwrap();
    let page = text(&c).await;
    assert!(page.contains("alice · Admin"), "{page}");
    assert!(
        c.find(Locator::Id("nav-admins")).await.is_err(),
        "an admin sees no admin management"
    );
    screenshot(&c, "foundation-08-logged-in-as-alice").await;
    c.close().await.unwrap();

    let actions: Vec<String> = app.events().await.into_iter().map(|e| e.action).collect();
    for a in [
        "auth.login.success",
        "account.password.change",
        "admin.create",
        "auth.logout",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} audited");
    }
}
