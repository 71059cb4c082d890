//! Walks every route the app registers — found by reading the route attributes in
//! `src/`, so a route added by anyone is walked too — and checks that each request
//! yields exactly one audit event with the route's action and the right outcome,
//! and that an auditor is refused (403, audited) everywhere a manager or super
//! admin acts.
use std::path::Path;

use crate::helpers::{Browser, location, request_id, spawn_app};

#[derive(Debug, Clone)]
struct Route {
    method: String,
    path: String,
    name: Option<String>,
    file: String,
}

/// Every `#[get("…", name = "…")]`-style attribute under `src/`.
fn routes() -> Vec<Route> {
    /// A feature folder whose `mod.rs` mounts its routes under `web::scope("…")`
    /// (the REST API under `/api/v1`) prefixes every route of that folder.
    fn scope_of(dir: &Path) -> String {
        std::fs::read_to_string(dir.join("mod.rs"))
            .ok()
            .and_then(|t| {
                t.split("web::scope(\"")
                    .nth(1)
                    .map(|r| r.split('"').next().unwrap().to_string())
            })
            .unwrap_or_default()
    }
    fn walk(dir: &Path, out: &mut Vec<Route>) {
        let prefix = scope_of(dir);
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                for line in text.lines() {
                    let line = line.trim();
                    for m in ["get", "post", "put", "patch", "delete"] {
                        let Some(rest) = line.strip_prefix(&format!("#[{m}(\"")) else {
                            continue;
                        };
                        let path = format!("{prefix}{}", rest.split('"').next().unwrap());
                        let name = rest
                            .split("name = \"")
                            .nth(1)
                            .map(|n| n.split('"').next().unwrap().to_string());
                        out.push(Route {
                            method: m.to_uppercase(),
                            path,
                            name,
                            file: p.display().to_string(),
                        });
                    }
                }
            }
        }
    }
    let mut out = vec![];
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    assert!(out.len() > 10, "found only {out:?}");
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
    let unnamed: Vec<_> = all
        .iter()
        .filter(|r| r.name.is_none() && !mama::audit::is_exempt(&r.path))
        .collect();
    assert!(
        unnamed.is_empty(),
        "every route must be named after its audit action: {unnamed:?}"
    );
    let mut walked = 0;
    for r in &all {
        if mama::audit::is_exempt(&concrete(&r.path)) {
            continue;
        }
        let name = r.name.clone().unwrap();
        assert!(
            mama::audit::Action::parse(&name).is_some(),
            "{} {} ({}) is named {name:?}, which is not an audit action",
            r.method,
            r.path,
            r.file
        );
        let fresh = app.browser();
        let b = if session_enders(r) { &fresh } else { &sa };
        let path = concrete(&r.path);
        let before = app.events().await.len();
        let res = send(b, &r.method, &path).await;
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
    assert!(walked >= 10);
    // An unrouted path is one event too.
    let res = sa.get("/no/such/page").await;
    let ev = app.event_for(&request_id(&res)).await;
    assert_eq!(
        (ev.action.as_str(), ev.outcome.as_str()),
        ("http.not_found", "invalid")
    );
}

/// POST routes an auditor may use: their own session and password, and checking
/// the audit chain.
fn auditor_may_post(path: &str) -> bool {
    matches!(
        path,
        "/login" | "/logout" | "/account" | "/account/password" | "/audit/verify"
    )
}

/// GET routes that are for managers only and must be refused to an auditor
/// (pages that merely redirect an auditor elsewhere are fine).
fn auditor_must_not_get(r: &Route) -> bool {
    r.path.starts_with("/admins")
        || r.name
            .as_deref()
            .is_some_and(|n| n.contains(".key.") || n.ends_with(".reveal"))
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
        let path = concrete(&r.path);
        if mama::audit::is_exempt(&path) || path.starts_with("/api/") {
            continue;
        }
        let must_refuse = match r.method.as_str() {
            "GET" => auditor_must_not_get(&r),
            _ => !auditor_may_post(&r.path),
        };
        if !must_refuse {
            continue;
        }
        let res = send(&audrey, &r.method, &path).await;
        let status = res.status().as_u16();
        let rid = request_id(&res);
        let ev = app.event_for(&rid).await;
        if status != 403 {
            // A form whose empty body is rejected before any handler logic (the
            // same answer the super admin gets) says nothing about authorisation;
            // anything else must be a 403.
            let sa_status = send(&sa, &r.method, &path).await.status().as_u16();
            assert!(
                matches!(status, 400 | 422) && status == sa_status,
                "auditor got {status} on {} {path} (super admin: {sa_status}); expected 403",
                r.method
            );
            assert_eq!(ev.outcome, "invalid");
        } else {
            assert_eq!(ev.outcome, "denied", "{} {path}", r.method);
        }
        assert_eq!(
            Some(ev.action.as_str()),
            r.name.as_deref(),
            "{} {path}",
            r.method
        );
        assert_eq!(ev.actor_kind, "admin");
        checked += 1;
    }
    assert!(checked >= 5, "checked {checked}");
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
