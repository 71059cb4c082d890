//! Walks every route the app registers — taken from the route tables the app
//! mounts (`mama::startup::route_table()`), so a route added by anyone is walked
//! too — and checks that each request yields exactly one audit event with the
//! route's action and the right outcome, and that an auditor is refused (403,
//! audited) on every route of a manager or super admin group.
use mama::web::routes::{Access, Route};

use crate::helpers::{Browser, location, request_id, spawn_app};

/// Every audited route, in mounting order.
fn routes() -> Vec<Route> {
    let out = mama::startup::route_table();
    assert!(out.len() > 40, "found only {out:?}");
    out
}

/// `/admins/{id}/delete` → `/admins/0/delete`.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for ch in path.chars() {
        match ch {
            '{' => {
                if depth == 0 {
                    out.push('0');
                }
                depth += 1;
            }
            '}' => depth -= 1,
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

async fn send(b: &Browser, method: &str, path: &str) -> reqwest::Response {
    match method {
        "GET" => b.get(path).await,
        "POST" => b.post_form(path, &[]).await,
        m => {
            let token = b.csrf().await;
            b.client
                .request(m.parse().unwrap(), b.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("csrf_token={token}"))
                .send()
                .await
                .unwrap()
        }
    }
}

/// The outcome a status implies for a request refused or answered as is.
fn outcome_for(status: u16, loc: &str) -> &'static str {
    match status {
        303 if loc == "/login" => "denied",
        401 | 403 | 429 => "denied",
        400..=499 => "invalid",
        500..=599 => "error",
        _ => "success",
    }
}

/// Routes a session cannot walk without ending itself.
fn session_enders(r: &Route) -> bool {
    r.path == "/login" || r.path == "/logout"
}

#[tokio::test]
async fn every_registered_route_yields_exactly_one_event_with_its_action_and_outcome() {
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    let all = routes();
    let mut walked = 0;
    for r in &all {
        if mama::audit::is_exempt(&concrete(r.path)) {
            continue;
        }
        let name = r.action.as_str();
        let fresh = app.browser();
        let b = if session_enders(r) { &fresh } else { &sa };
        let path = concrete(r.path);
        let before = app.events().await.len();
        let res = send(b, r.method, &path).await;
        let status = res.status().as_u16();
        let loc = location(&res);
        let rid = request_id(&res);
        let _ = res.bytes().await;
        let ev = app.event_for(&rid).await; // exactly one for this request
        assert_eq!(
            ev.action, name,
            "{} {path} answered {status}: wrong action",
            r.method
        );
        assert_eq!(
            ev.outcome,
            outcome_for(status, &loc),
            "{} {path} answered {status} ({loc})",
            r.method
        );
        assert_eq!(ev.http_status, Some(status as i32));
        // No other request happened meanwhile, so the request made exactly one row
        // (a GET of /login for the CSRF token of session enders excepted).
        let extra = if session_enders(r) && r.method == "POST" {
            2
        } else {
            1
        };
        assert_eq!(
            app.events().await.len(),
            before + extra,
            "{} {path}",
            r.method
        );
        walked += 1;
    }
    assert_eq!(walked, all.len(), "no audited route may be skipped");
    // An unrouted path is one event too.
    let res = sa.get("/no/such/page").await;
    let ev = app.event_for(&request_id(&res)).await;
    assert_eq!(
        (ev.action.as_str(), ev.outcome.as_str()),
        ("http.not_found", "invalid")
    );
}

#[tokio::test]
async fn an_auditor_is_refused_and_audited_on_every_route_that_changes_or_reveals_anything() {
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    let audrey = app
        .account(
            &sa,
            &format!("audrey{}", crate::helpers::rand_suffix()),
            "auditor",
        )
        .await;
    let mut checked = 0;
    for r in routes() {
        let path = concrete(r.path);
        if !matches!(r.access, Access::Manager | Access::SuperAdmin) {
            continue;
        }
        // The group's guard runs before any extractor: even an empty form is a 403.
        let res = send(&audrey, r.method, &path).await;
        let status = res.status().as_u16();
        let rid = request_id(&res);
        let ev = app.event_for(&rid).await;
        assert_eq!(status, 403, "auditor on {} {path}", r.method);
        assert_eq!(ev.outcome, "denied", "{} {path}", r.method);
        assert_eq!(ev.action, r.action.as_str(), "{} {path}", r.method);
        assert_eq!(ev.actor_kind, "admin");
        checked += 1;
    }
    assert!(checked >= 30, "checked {checked}");
    // And nothing changed: still exactly two accounts.
    let (s, _) = sa.page("/admins").await;
    assert_eq!(s, 200);
    let admins = mama::entities::admin::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(admins.len(), 2);
}

use sea_orm::EntityTrait;
