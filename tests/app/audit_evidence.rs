//! Tampering that an unkeyed chain cannot see, caught by `mama audit verify
//! --checkpoints` against signed checkpoints kept outside the database: the real
//! binary on a real database (SQLite or PostgreSQL) after real requests.
use std::path::PathBuf;

use base64::{Engine, engine::general_purpose::STANDARD};
use mama::{
    audit::{chain, checkpoint::Checkpointer},
    config::Settings,
    entities::audit_event,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::{
    audit_chain::keys,
    helpers::{TestApp, rand_suffix, spawn_app_with},
};

fn checkpoint_path() -> PathBuf {
    let dir = std::env::temp_dir().join("mama-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("checkpoints-{}.jsonl", rand_suffix()))
}

/// The settings of the test app with checkpoints in `file`.
fn settings(url: &str, file: &std::path::Path) -> Settings {
    let mut s = Settings::for_tests(url);
    s.audit_checkpoint_file = Some(file.to_path_buf());
    s
}

struct Setup {
    app: TestApp,
    file: PathBuf,
    chain: Vec<audit_event::Model>,
}

/// An app writing checkpoints to a file, 12 requests, all sealed and checkpointed.
async fn setup() -> Setup {
    let file = checkpoint_path();
    let f = file.clone();
    let app = spawn_app_with(move |s| s.audit_checkpoint_file = Some(f)).await;
    let b = app.browser();
    for _ in 0..12 {
        b.get("/login").await;
    }
    chain::seal_all(&app.db, &keys()).await.unwrap();
    Checkpointer::from_settings(&settings(&app.database_url, &file))
        .now(&app.db)
        .await
        .unwrap();
    let chain = sealed(&app).await;
    assert!(chain.len() >= 12);
    Setup { app, file, chain }
}

async fn sealed(app: &TestApp) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Seq.is_not_null())
        .order_by_asc(audit_event::Column::Seq)
        .all(&app.db)
        .await
        .unwrap()
}

/// `mama audit verify --checkpoints FILE [extra…]` with the test keys: (exit code, stdout, stderr).
async fn verify(url: &str, file: &std::path::Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["audit", "verify", "--checkpoints", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = mama(url, &args).await;
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the binary off the test's runtime: the app under test lives on that
/// runtime, and blocking it mid-transaction would hold the database's lock.
async fn mama(url: &str, args: &[&str]) -> std::process::Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_mama"));
    c.args(args)
        .env("DATABASE_URL", url)
        .env("MAMA_SECRET_KEY", STANDARD.encode([7u8; 64]))
        .env("MAMA_ENCRYPTION_KEY", STANDARD.encode([9u8; 32]))
        .env(
            "MAMA_AUDIT_KEY",
            STANDARD.encode(mama::config::TEST_AUDIT_KEY),
        )
        .env(
            "MAMA_AUDIT_SIGNING_KEY",
            STANDARD.encode(mama::config::TEST_AUDIT_SIGNING_KEY),
        )
        .env("MAMA_AUDIT_CHECKPOINT_FILE", "off")
        .env_remove("MAMA_AUDIT_RETENTION_DAYS")
        .env("RUST_LOG", "warn")
        .current_dir(std::env::temp_dir());
    tokio::task::spawn_blocking(move || c.output().expect("run mama"))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_untouched_database_verifies_against_its_checkpoints() {
    let s = setup().await;
    let (code, out, err) = verify(&s.app.database_url, &s.file, &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("audit chain intact"), "{out}");
    assert!(out.contains("signed checkpoints"), "{out}");
    // The file holds signed notes, one JSON line each, naming the chain head.
    let text = std::fs::read_to_string(&s.file).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let note = last["note"].as_str().unwrap();
    let head = s.chain.last().unwrap();
    assert!(
        note.starts_with(&format!(
            "mama/audit\n{}\n{}\n",
            head.seq.unwrap(),
            head.hash.as_deref().unwrap()
        )),
        "{note}"
    );
    assert!(note.contains("\n\n— mama-audit "), "{note}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_newest_events_is_caught_and_the_missing_range_named() {
    let s = setup().await;
    let n = s.chain.len();
    let cut = &s.chain[n - 10..];
    let first = cut[0].seq.unwrap();
    let last = cut[9].seq.unwrap();
    for e in cut {
        s.app
            .sql(&format!("DELETE FROM audit_events WHERE id = {}", e.id))
            .await;
    }
    // Without the checkpoints, a clean cut of the newest events looks intact.
    let plain = mama(&s.app.database_url, &["audit", "verify"]).await;
    assert!(
        plain.status.success(),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    // With them, it is caught and the range named. (The plain run's own event was
    // sealed at seq {first}, so the range starts one later.)
    let (code, out, err) = verify(&s.app.database_url, &s.file, &[]).await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        err.contains(&format!("events seq {}..={last} are missing", first + 1)),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_an_event_and_rehashing_with_plain_sha256_is_caught_and_named() {
    let s = setup().await;
    let victim = &s.chain[5];
    s.app
        .sql(&format!(
            "UPDATE audit_events SET actor_name = 'mallory' WHERE id = {}",
            victim.id
        ))
        .await;
    let mut prev = s.chain[4].hash.clone().unwrap();
    for e in sealed(&s.app).await.into_iter().skip(5) {
        let h = chain::link_hash(&prev, &e, e.seq.unwrap());
        s.app
            .sql(&format!(
                "UPDATE audit_events SET prev_hash = '{prev}', hash = '{h}', link_key = NULL WHERE id = {}",
                e.id
            ))
            .await;
        prev = h;
    }
    let (code, out, err) = verify(&s.app.database_url, &s.file, &[]).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains(&format!("event id {}", victim.id)), "{err}");
    assert!(err.contains("unkeyed SHA-256"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_an_event_and_rehashing_with_a_guessed_key_is_caught_and_named() {
    let s = setup().await;
    let victim = &s.chain[5];
    s.app
        .sql(&format!(
            "UPDATE audit_events SET actor_name = 'mallory' WHERE id = {}",
            victim.id
        ))
        .await;
    // The attacker keeps the key id column and HMACs with a key of their own.
    let guess = chain::AuditKeys::new(&secrecy::SecretBox::new(Box::new([0x42; 32])), &[]);
    let mut prev = s.chain[4].hash.clone().unwrap();
    for e in sealed(&s.app).await.into_iter().skip(5) {
        let h = guess.current_link(&prev, &e, e.seq.unwrap());
        s.app
            .sql(&format!(
                "UPDATE audit_events SET prev_hash = '{prev}', hash = '{h}' WHERE id = {}",
                e.id
            ))
            .await;
        prev = h;
    }
    let (code, out, err) = verify(&s.app.database_url, &s.file, &[]).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains(&format!("event id {}", victim.id)), "{err}");
    assert!(err.contains("do not match its HMAC"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_oldest_events_and_moving_the_anchor_is_caught() {
    let s = setup().await;
    let through = &s.chain[3];
    for e in &s.chain[..4] {
        s.app
            .sql(&format!("DELETE FROM audit_events WHERE id = {}", e.id))
            .await;
    }
    chain::set_anchor(
        &s.app.db,
        through.seq.unwrap(),
        through.hash.as_deref().unwrap(),
    )
    .await
    .unwrap();
    let plain = mama(&s.app.database_url, &["audit", "verify"]).await;
    assert!(plain.status.success(), "an unkeyed look sees nothing wrong");
    let (code, out, err) = verify(&s.app.database_url, &s.file, &[]).await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        err.contains(&format!(
            "events seq 1..={} are gone and no signed prune covers them",
            through.seq.unwrap()
        )),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_file_signed_by_another_key_is_rejected() {
    let s = setup().await;
    let out = mama(&s.app.database_url, &["audit", "public-key"]).await;
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let vkey = stdout.lines().last().unwrap().to_string();
    assert!(vkey.starts_with("mama-audit+"), "{vkey}");
    // A forger signs checkpoints of the (tampered) database with their own key and
    // replaces the file with them.
    let forged = checkpoint_path();
    let mut fs = settings(&s.app.database_url, &forged);
    fs.secrets.audit_signing_key = secrecy::SecretBox::new(Box::new([0x66; 32]));
    let forger = Checkpointer::from_settings(&fs);
    forger.now(&s.app.db).await.unwrap();
    std::fs::copy(&forged, &s.file).unwrap();
    let (code, out, err) = verify(&s.app.database_url, &s.file, &["--public-key", &vkey]).await;
    assert_eq!(code, 4, "{out}{err}");
    assert!(err.contains("not signed by the expected key"), "{err}");
    assert!(
        err.contains(&format!("{}:1", s.file.display())),
        "the note is named: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_checkpoint_from_the_middle_of_the_file_is_caught() {
    let s = setup().await;
    let c = Checkpointer::from_settings(&settings(&s.app.database_url, &s.file));
    c.now(&s.app.db).await.unwrap();
    c.now(&s.app.db).await.unwrap();
    let text = std::fs::read_to_string(&s.file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 3);
    let kept: Vec<&str> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != lines.len() - 2)
        .map(|(_, l)| *l)
        .collect();
    std::fs::write(&s.file, kept.join("\n") + "\n").unwrap();
    let (code, out, err) = verify(&s.app.database_url, &s.file, &[]).await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("checkpoints were removed"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_checkpoint_file_is_reported_beyond_the_allowed_window() {
    let s = setup().await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (code, out, err) = verify(&s.app.database_url, &s.file, &["--max-age", "1"]).await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("beyond the allowed window"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_are_written_even_when_idle() {
    let file = checkpoint_path();
    let f = file.clone();
    let app = spawn_app_with(move |s| {
        s.audit_checkpoint_file = Some(f);
        s.audit_checkpoint_interval = std::time::Duration::from_secs(1);
        s.audit_seal_interval = std::time::Duration::from_millis(200);
    })
    .await;
    app.browser().get("/login").await;
    // No more requests: the head stays, the checkpoints keep coming.
    let mut notes = 0;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        notes = std::fs::read_to_string(&file)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if notes >= 3 {
            break;
        }
    }
    assert!(
        notes >= 3,
        "{notes} checkpoints in 10 s with a 1 s interval"
    );
    let (code, out, err) = verify(&app.database_url, &file, &[]).await;
    assert_eq!(code, 0, "{out}{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_prune_lets_the_rest_verify_against_the_checkpoints() {
    let file = checkpoint_path();
    let url = crate::helpers::fresh_database().await;
    let db_url = mama::config::DatabaseUrl::new(url.clone());
    mama::db::migrate_up(&db_url).await.unwrap();
    let db = mama::db::connect(&db_url, 2).await.unwrap();
    for d in [200, 100, 1] {
        let mut ev = mama::audit::Event::system(
            "test",
            mama::audit::Action::UserView,
            mama::audit::Outcome::Success,
        );
        ev.occurred_at = chrono::Utc::now() - chrono::Duration::days(d);
        mama::audit::insert(&db, &ev).await.unwrap();
    }
    chain::seal_all(&db, &keys()).await.unwrap();
    Checkpointer::from_settings(&settings(&url, &file))
        .now(&db)
        .await
        .unwrap();
    let archive = checkpoint_path().with_extension("archive");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mama"))
        .args(["audit", "archive", "--out", archive.to_str().unwrap()])
        .env("DATABASE_URL", url.as_str())
        .env("MAMA_SECRET_KEY", STANDARD.encode([7u8; 64]))
        .env("MAMA_ENCRYPTION_KEY", STANDARD.encode([9u8; 32]))
        .env(
            "MAMA_AUDIT_KEY",
            STANDARD.encode(mama::config::TEST_AUDIT_KEY),
        )
        .env(
            "MAMA_AUDIT_SIGNING_KEY",
            STANDARD.encode(mama::config::TEST_AUDIT_SIGNING_KEY),
        )
        .env("MAMA_AUDIT_CHECKPOINT_FILE", &file)
        .env("MAMA_AUDIT_RETENTION_DAYS", "30")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("kind prune")
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("pruned 2 events"));
    let (code, out, err) = verify(&url, &file, &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 signed prunes"), "{out}");
}
