use crate::helpers::*;

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let b = app.browser();
    for path in [
        "/login",
        "/nope",
        "/static/vendor/pico-2.1.1.min.css",
        "/healthz",
        "/users",
    ] {
        let r = b.get(path).await;
        let h = r.headers();
        let csp = h
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: CSP"))
            .to_str()
            .unwrap();
        assert!(
            csp.contains("script-src 'self'")
                && !csp.contains("unsafe-inline")
                && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
        assert_eq!(h.get("referrer-policy").unwrap(), "no-referrer");
        assert!(h.get("x-request-id").is_some());
    }
}

#[tokio::test]
async fn pages_load_only_local_assets_and_no_inline_script() {
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    for path in [
        "/login",
        "/users",
        "/admins",
        "/admins/new",
        "/audit",
        "/account/password",
    ] {
        let (status, body) = sa.page(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            !body.contains("http://") && !body.contains("https://") && !body.contains("//cdn"),
            "{path} loads nothing remote"
        );
        for chunk in body.split("<script").skip(1) {
            assert!(
                chunk.trim_start().starts_with("src=\"/static/"),
                "{path}: inline script"
            );
        }
        assert!(!body.contains(" style=\""), "{path}: inline style");
    }
    for asset in [
        "/static/vendor/pico-2.1.1.min.css",
        "/static/vendor/htmx-2.0.11.min.js",
        "/static/app.js",
        "/static/app.css",
    ] {
        let r = sa.get(asset).await;
        assert_eq!(r.status(), 200, "{asset}");
        assert!(
            r.headers()
                .get("cache-control")
                .unwrap()
                .to_str()
                .unwrap()
                .contains("max-age")
        );
    }
}

#[tokio::test]
async fn navigation_follows_the_role() {
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    let adam = app.account(&sa, "adam", "admin").await;
    let audrey = app.account(&sa, "audrey", "auditor").await;
    let (_, body) = sa.page("/users").await;
    assert!(
        body.contains("id=\"nav-users\"")
            && body.contains("id=\"nav-admins\"")
            && body.contains("id=\"nav-audit\"")
    );
    let (_, body) = adam.page("/users").await;
    assert!(body.contains("id=\"nav-users\"") && !body.contains("id=\"nav-admins\""));
    // Auditors land on /users after login (the /login contract) and are sent to /audit.
    let r = audrey.get("/users").await;
    assert_eq!(location(&r), "/audit");
    let (_, body) = audrey.page("/audit").await;
    assert!(
        body.contains("id=\"nav-audit\"")
            && !body.contains("id=\"nav-users\"")
            && !body.contains("id=\"nav-admins\"")
    );
}

#[tokio::test]
async fn system_notices_show_on_every_page() {
    // Without LiteLLM, every page says so (issue: "the UI shows a clear banner").
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    for page in ["/users", "/audit", "/admins"] {
        let (_, body) = sa.page(page).await;
        assert!(
            body.contains("system-notice") && body.contains("LiteLLM is not configured"),
            "{page}"
        );
    }
    // With a LiteLLM that answers, there is nothing to say.
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/v1/models"))
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({"data": []})),
        )
        .mount(&server)
        .await;
    let uri = server.uri();
    let app = spawn_app_with(|s| {
        s.litellm = Some(mama::config::LiteLlmSettings {
            base_url: uri,
            master_key: secrecy::SecretString::from("sk-test".to_string()),
            timeout: std::time::Duration::from_secs(2),
        })
    })
    .await;
    let sa = app.super_admin().await;
    let (_, body) = sa.page("/users").await;
    assert!(!body.contains("system-notice"), "{body}");
}
