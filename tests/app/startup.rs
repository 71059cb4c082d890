use crate::helpers::*;

#[tokio::test]
async fn a_fresh_start_serves_the_login_page_with_a_request_id() {
    let app = spawn_app().await;
    let b = app.browser();
    let r = b.get("/login").await;
    assert_eq!(r.status(), 200);
    let rid = request_id(&r);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("name=\"username\"")
            && body.contains("name=\"password\"")
            && body.contains("name=\"csrf_token\"")
    );
    let ev = app.event_for(&rid).await;
    assert_eq!(ev.action, "auth.login.view");
    assert_eq!(ev.outcome, "success");
}

#[tokio::test]
async fn the_super_admin_is_seeded_once_even_after_a_rename() {
    let app = spawn_app().await;
    app.sql("UPDATE admins SET username = 'root'").await;
    let again = spawn_app_on(&app.database_url, |_| {}).await;
    let all = mama::admins::queries::list(&again.db).await.unwrap();
    assert_eq!(
        all.iter().map(|a| a.username.as_str()).collect::<Vec<_>>(),
        vec!["root"]
    );
    let seeds = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.action == "admin.create" && e.actor_kind == "system")
        .count();
    assert_eq!(seeds, 1);
}

#[tokio::test]
async fn several_instances_can_start_on_one_database_at_once() {
    let url = fresh_database().await;
    let (a, b, c) = tokio::join!(
        spawn_app_on(&url, |_| {}),
        spawn_app_on(&url, |_| {}),
        spawn_app_on(&url, |_| {})
    );
    for app in [&a, &b, &c] {
        assert_eq!(app.browser().get("/login").await.status(), 200);
    }
    assert_eq!(
        mama::admins::queries::list(&a.db).await.unwrap().len(),
        1,
        "seeded exactly once"
    );
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    let b = app.browser();
    let r = b.get("/healthz").await;
    assert_eq!(r.status(), 200);
    let r = b.get("/readyz").await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["database"], "ok");
    assert_eq!(v["litellm"], "not configured");
    assert!(
        v["notices"][0]
            .as_str()
            .unwrap()
            .contains("LiteLLM is not configured")
    );
}

#[tokio::test]
async fn metrics_count_requests_and_read_the_queues() {
    let app = spawn_app().await;
    let b = app.browser();
    b.get("/login").await;
    b.get("/nothing").await;
    let r = b.get("/metrics").await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("mama_http_requests_total{class=\"2xx\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("mama_http_requests_total{class=\"4xx\"} 1"),
        "{text}"
    );
    assert!(text.contains("mama_database_up 1"), "{text}");
}

#[tokio::test]
async fn the_root_sends_a_visitor_to_the_users_page_or_the_login() {
    let app = spawn_app().await;
    let b = app.browser();
    assert_eq!(location(&b.get("/").await), "/users");
    assert_eq!(location(&b.get("/users").await), "/login");
}

#[tokio::test]
async fn in_production_mode_a_first_start_without_an_initial_admin_password_is_refused() {
    let url = fresh_database().await;
    let mut settings = mama::config::Settings::for_tests(&url);
    settings.secrets.required = true;
    let err = match mama::startup::Application::build(settings).await {
        Ok(_) => panic!("mama started in production mode with admin/admin"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("MAMA_INITIAL_ADMIN_PASSWORD"), "{err}");
}

#[tokio::test]
async fn the_initial_admin_password_replaces_admin_admin_and_must_still_be_changed() {
    let app = spawn_app_with(|s| {
        s.secrets.required = true;
        s.secrets.initial_admin_password = Some(secrecy::SecretString::from(
            "first-start-Pa55word!".to_string(),
        ));
    })
    .await;
    let b = app.browser();
    let r = b.login("admin", "admin").await;
    assert_ne!(location(&r), "/account/password", "admin/admin still works");
    let r = b.login("admin", "first-start-Pa55word!").await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account/password");
}

/// The line of `text` that starts with `prefix`, parsed as a number.
fn metric(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
}

#[tokio::test]
async fn metrics_time_requests_per_route_group_and_show_the_queue_the_pool_and_audit_batches() {
    let app = spawn_app().await;
    let b = app.browser();
    b.get("/login").await; // public
    b.get("/users").await; // signed_in (refused: still timed in its group)
    b.get("/sync").await; // manager
    let r = b.get("/api/v1/models").await; // api (refused: no token)
    assert_eq!(r.status(), 401);
    // A job due for 3 s, and one not due yet.
    app.sql(&format!(
        "INSERT INTO sync_jobs (user_ref, operation, payload, state, attempts, next_attempt_at, created_at, updated_at) VALUES \
         ('u1', 'upsert', '{{}}', 'pending', 0, '{}', '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00'), \
         ('u2', 'upsert', '{{}}', 'pending', 0, '2999-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00')",
        (chrono::Utc::now() - chrono::Duration::seconds(3)).format("%Y-%m-%d %H:%M:%S%.6f+00:00")
    ))
    .await;
    let text = b.get("/metrics").await.text().await.unwrap();
    for g in ["public", "signed_in", "manager", "api"] {
        let n = metric(
            &text,
            &format!("mama_http_request_duration_seconds_count{{group=\"{g}\"}}"),
        );
        assert!(n >= 1.0, "{g}: {n}\n{text}");
        let inf = metric(
            &text,
            &format!("mama_http_request_duration_seconds_bucket{{group=\"{g}\",le=\"+Inf\"}}"),
        );
        assert_eq!(inf, n, "{g}");
    }
    assert_eq!(
        metric(
            &text,
            "mama_http_request_duration_seconds_count{group=\"super_admin\"}"
        ),
        0.0
    );
    assert_eq!(metric(&text, "mama_sync_queue_due "), 1.0, "{text}");
    let age = metric(&text, "mama_sync_oldest_due_age_seconds ");
    assert!((2.5..120.0).contains(&age), "{age}");
    assert_eq!(metric(&text, "mama_sync_lease_takeovers_total "), 0.0);
    assert!(metric(&text, "mama_db_pool_max_connections ") >= 1.0);
    assert!(
        text.contains("mama_db_pool_connections{state=\"idle\"}"),
        "{text}"
    );
    // Three audited requests went through the group-commit writer.
    assert!(
        metric(&text, "mama_audit_batch_size_count ") >= 1.0,
        "{text}"
    );
    assert!(text.contains("mama_audit_index_lag_events"), "{text}");
    // The API's in-flight limit: one API call came through it, none is left.
    assert_eq!(metric(&text, "mama_api_max_in_flight "), 32.0, "{text}");
    assert_eq!(metric(&text, "mama_api_requests_in_flight_peak "), 1.0);
    assert_eq!(
        metric(&text, "mama_api_requests_in_flight{state=\"working\"} "),
        0.0
    );
    assert_eq!(
        metric(&text, "mama_api_requests_in_flight{state=\"waiting\"} "),
        0.0
    );
    // Resident memory by kind; the peak is at least what is resident now.
    let anon = metric(&text, "mama_resident_memory_bytes{kind=\"anon\"} ");
    let file = metric(&text, "mama_resident_memory_bytes{kind=\"file\"} ");
    assert!(anon > 1e6 && file > 1e6, "{text}");
    assert!(
        metric(&text, "mama_resident_memory_bytes{kind=\"peak\"} ") >= anon,
        "{text}"
    );
}
