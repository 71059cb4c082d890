//! The users benchmark (release build): seeds 100,000 users, then measures
//! `/users` server time for search + sort + a page of 100, and a bulk add of one
//! model to 10,000 users (committed before the response).
//!
//!   cargo bench --bench users                      # SQLite (a temp file)
//!   MAMA_BENCH_DATABASE_URL=postgres://…/postgres cargo bench --bench users
//!
//! On PostgreSQL a fresh database is created next to the one in the URL.
//! "Server time" is the duration mama records in each request's audit event.
use std::time::Instant;

use mama::{config::Settings, entities::audit_event, startup::Application};
use sea_orm::{ColumnTrait, ConnectionTrait, Database, EntityTrait, QueryFilter, Statement};

fn csrf(html: &str) -> String {
    let pat = "name=\"csrf_token\" value=\"";
    let i = html
        .find(pat)
        .unwrap_or_else(|| panic!("no CSRF token in: {html:.600}"))
        + pat.len();
    html[i..].split('"').next().unwrap().to_string()
}

async fn database_url() -> String {
    let suffix = mama::crypto::random_base62(8).to_lowercase();
    match std::env::var("MAMA_BENCH_DATABASE_URL") {
        Ok(base) if base.starts_with("postgres") => {
            let db = Database::connect(&base).await.unwrap();
            db.execute_raw(Statement::from_string(
                db.get_database_backend(),
                format!("CREATE DATABASE \"mama_bench_{suffix}\""),
            ))
            .await
            .unwrap();
            let (prefix, _) = base.rsplit_once('/').unwrap();
            format!("{prefix}/mama_bench_{suffix}")
        }
        _ => format!(
            "sqlite://{}/mama-bench-{suffix}.db?mode=rwc",
            std::env::temp_dir().display()
        ),
    }
}

fn stats(mut v: Vec<f64>) -> String {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let med = v[v.len() / 2];
    let p95 = v[(v.len() * 95 / 100).min(v.len() - 1)];
    format!(
        "median {med:.1} ms, p95 {p95:.1} ms, max {:.1} ms",
        v[v.len() - 1]
    )
}

#[tokio::main]
async fn main() {
    let users: usize = std::env::var("MAMA_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let url = database_url().await;
    let backend = if url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let settings = Settings::for_tests(&url);
    let cipher = mama::crypto::KeyCipher::new(&settings.secrets.encryption_key);
    let app = Application::build(settings).await.unwrap();
    let addr = format!("http://127.0.0.1:{}", app.port());
    let db = app.db.clone();
    tokio::spawn(app.run_until_stopped());

    let t = Instant::now();
    mama::devtools::users::seed(&db, &cipher, "bench", users)
        .await
        .unwrap();
    println!(
        "[{backend}] seeded {users} users in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let c = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = c
        .get(format!("{addr}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let tok = csrf(&page);
    c.post(format!("{addr}/login"))
        .form(&[
            ("csrf_token", tok.as_str()),
            ("username", "admin"),
            ("password", "admin"),
        ])
        .send()
        .await
        .unwrap();
    let page = c
        .get(format!("{addr}/account/password"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let tok = csrf(&page);
    let pw = "a perfectly long bench passphrase";
    let r = c
        .post(format!("{addr}/account/password"))
        .form(&[
            ("csrf_token", tok.as_str()),
            ("current_password", "admin"),
            ("new_password", pw),
            ("confirm_password", pw),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);

    // Every search shape (none, 100 matches, 4,000, 40,000, every user) against
    // every sortable column, descending (ascending walks the same index).
    let searches = [
        ("no search", ""),
        ("ID search, 100 matches", "bench-0999"),
        ("organisation search, 4,000 matches", "org%2012"),
        ("broad search, 40,000 matches", "org%201"),
        ("search matching every user", "bench"),
    ];
    let mut views = vec![(
        "no search, sort by ID, page 500".to_string(),
        "/users?sort=id&dir=asc&page=500&size=100".to_string(),
    )];
    for (what, q) in searches {
        for key in mama::users::forms::SortKey::ALL {
            let key = key.as_str();
            views.push((
                format!("{what} + sort by {key} desc"),
                format!("/users?q={q}&sort={key}&dir=desc&size=100"),
            ));
        }
    }
    let runs: usize = std::env::var("MAMA_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    for (label, path) in views {
        let mut server = vec![];
        let mut wall = vec![];
        for i in 0..runs + 2 {
            let t = Instant::now();
            let r = c.get(format!("{addr}{path}")).send().await.unwrap();
            assert_eq!(r.status(), 200);
            let rid = r.headers()["x-request-id"].to_str().unwrap().to_string();
            let _ = r.bytes().await.unwrap();
            let w = t.elapsed().as_secs_f64() * 1000.0;
            if i < 2 {
                continue; // warm-up
            }
            wall.push(w);
            let ev = audit_event::Entity::find()
                .filter(audit_event::Column::RequestId.eq(rid))
                .one(&db)
                .await
                .unwrap()
                .unwrap();
            server.push(ev.duration_us as f64 / 1000.0);
        }
        println!(
            "[{backend}] /users {label}: server {} | wall {}",
            stats(server),
            stats(wall)
        );
    }

    // Bulk add of one model to the 10,000 users bench-010000 … bench-019999.
    let page = c
        .get(format!("{addr}/users"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let tok = csrf(&page);
    let form = [
        ("csrf_token", tok.as_str()),
        ("all_matching", "1"),
        ("q", "bench-01"),
        ("op", "models.add"),
        ("models", "gpt-5-bench"),
    ];
    let t = Instant::now();
    let r = c
        .post(format!("{addr}/users/bulk/apply"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let wall = t.elapsed().as_secs_f64();
    assert_eq!(r.status(), 303);
    let rid = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let ev = audit_event::Entity::find()
        .filter(audit_event::Column::RequestId.eq(rid))
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ev.target_count, 10_000, "10,000 users changed");
    println!(
        "[{backend}] bulk add of one model to 10,000 users: committed in {wall:.2} s (server {:.2} s)",
        ev.duration_us as f64 / 1e6
    );
    // Again: idempotent, nothing to change.
    let t = Instant::now();
    let r = c
        .post(format!("{addr}/users/bulk/apply"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    println!(
        "[{backend}] the same bulk add again (no change, no jobs): {:.2} s",
        t.elapsed().as_secs_f64()
    );
}
