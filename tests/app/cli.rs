//! The `mama` binary's operator commands.
use std::process::Command;

use crate::helpers::*;

fn mama(database_url: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mama"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .env_remove("MAMA_SECRET_KEY")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_manages_the_schema_by_hand() {
    let url = fresh_database().await;
    let (ok, out) = mama(&url, &["migrate", "up"]);
    assert!(ok, "{out}");
    let (ok, out) = mama(&url, &["migrate", "status"]);
    assert!(ok, "{out}");
    let (ok, out) = mama(&url, &["migrate", "down", "1"]);
    assert!(ok, "{out}");
    let (ok, out) = mama(&url, &["migrate", "up"]);
    assert!(ok, "{out}");
    // The schema is complete: the app starts on it without migrating.
    let app = spawn_app_on(&url, |s| s.migrate_on_start = false).await;
    assert_eq!(app.browser().get("/login").await.status(), 200);
    let (ok, _) = mama(&url, &["migrate", "sideways"]);
    assert!(!ok, "an unknown verb fails");
}
