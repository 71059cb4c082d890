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
