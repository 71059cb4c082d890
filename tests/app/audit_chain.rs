//! The hash chain: sealing under concurrency, `mama audit verify`, tampering,
//! archiving and pruning.
use mama::{
    audit::{Action, Event, Outcome, chain},
    config::Settings,
    entities::audit_event,
    startup::Application,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};

use crate::helpers::{TestApp, fresh_database, request_id, spawn_app};

/// A few events, all sealed; returns them in chain order.
async fn sealed_chain(app: &TestApp) -> Vec<audit_event::Model> {
    let b = app.browser();
    for _ in 0..6 {
        b.get("/login").await;
    }
    chain::seal_all(&app.db, &keys()).await.unwrap();
    let all = audit_event::Entity::find()
        .filter(audit_event::Column::Seq.is_not_null())
        .order_by_asc(audit_event::Column::Seq)
        .all(&app.db)
        .await
        .unwrap();
    assert!(all.len() >= 6);
    all
}

/// The audit keys every test app uses (`Settings::for_tests`).
pub fn keys() -> chain::AuditKeys {
    chain::AuditKeys::from_secrets(&Settings::for_tests("sqlite::memory:").secrets)
}

async fn verify(app: &TestApp) -> chain::VerifyReport {
    chain::verify(&app.db, &keys()).await.unwrap()
}

/// Runs the `mama` binary on the app's database.
fn mama(app_db: &str, args: &[&str], extra_env: &[(&str, &str)]) -> std::process::Output {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mama"));
    cmd.args(args)
        .env("DATABASE_URL", app_db)
        .env("MAMA_SECRET_KEY", b64.encode([7u8; 64]))
        .env("MAMA_ENCRYPTION_KEY", b64.encode([9u8; 32]))
        .env("MAMA_AUDIT_KEY", b64.encode(mama::config::TEST_AUDIT_KEY))
        .env(
            "MAMA_AUDIT_SIGNING_KEY",
            b64.encode(mama::config::TEST_AUDIT_SIGNING_KEY),
        )
        .env("MAMA_AUDIT_CHECKPOINT_FILE", "off")
        .env_remove("MAMA_AUDIT_RETENTION_DAYS")
        .env("RUST_LOG", "warn");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.output().expect("run mama")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_is_sealed_in_one_contiguous_chain_that_verifies() {
    let app = spawn_app().await;
    let chain_rows = sealed_chain(&app).await;
    for (i, e) in chain_rows.iter().enumerate() {
        assert_eq!(e.seq, Some(i as i64 + 1));
        let prev = if i == 0 {
            chain::GENESIS.to_string()
        } else {
            chain_rows[i - 1].hash.clone().unwrap()
        };
        assert_eq!(e.prev_hash.as_deref(), Some(prev.as_str()));
        assert_eq!(
            e.hash.as_deref(),
            Some(keys().current_link(&prev, e, i as i64 + 1).as_str())
        );
        assert_eq!(e.link_key.as_deref(), Some(keys().current_id()));
    }
    let r = verify(&app).await;
    assert!(r.ok, "{}", r.summary());
    assert!(r.checked as usize >= chain_rows.len());
    // The result is remembered for the /audit page.
    let stored = chain::last_verified(&app.db).await.unwrap().unwrap();
    assert!(stored.ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_writing_to_one_database_build_one_valid_chain() {
    let app = spawn_app().await;
    let second = Application::build(Settings::for_tests(&app.database_url))
        .await
        .unwrap();
    let addr2 = format!("http://127.0.0.1:{}", second.port());
    tokio::spawn(second.run_until_stopped());
    let client = reqwest::Client::new();
    let mut tasks = vec![];
    for i in 0..40 {
        let url = if i % 2 == 0 {
            format!("{}/login", app.addr)
        } else {
            format!("{addr2}/login")
        };
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            c.get(url).send().await.unwrap().status()
        }));
        if i % 5 == 0 {
            // Seal concurrently with the inserts, as the background sealers do.
            let db = app.db.clone();
            tasks.push(tokio::spawn(async move {
                chain::seal_all(&db, &keys()).await.unwrap();
                reqwest::StatusCode::OK
            }));
        }
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let r = verify(&app).await;
    assert!(r.ok, "{}", r.summary());
    let unsealed = audit_event::Entity::find()
        .filter(audit_event::Column::Seq.is_null())
        .all(&app.db)
        .await
        .unwrap();
    assert!(unsealed.is_empty());
    let total = app.events().await.len() as i64;
    assert_eq!(r.head_seq, total, "every event has exactly one seq");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_a_field_of_one_event_is_caught_and_named() {
    let app = spawn_app().await;
    let c = sealed_chain(&app).await;
    let victim = &c[3];
    app.sql(&format!(
        "UPDATE audit_events SET actor_name = 'mallory' WHERE id = {}",
        victim.id
    ))
    .await;
    let r = verify(&app).await;
    assert!(!r.ok);
    assert_eq!(r.first_bad_id, Some(victim.id), "{}", r.summary());
    assert!(r.problem.unwrap().contains("modified"));
    // The page shows the broken state.
    let sa = app.super_admin().await;
    let (_, body) = sa.page("/audit").await;
    assert!(body.contains("chain BROKEN"), "{body}");
    assert!(body.contains(&format!("/audit/{}", victim.id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_details_of_one_event_is_caught_and_named() {
    let app = spawn_app().await;
    let c = sealed_chain(&app).await;
    let victim = &c[2];
    app.sql(&format!(
        "UPDATE audit_events SET details = '{{\"hidden\":true}}' WHERE id = {}",
        victim.id
    ))
    .await;
    let r = verify(&app).await;
    assert_eq!(r.first_bad_id, Some(victim.id), "{}", r.summary());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_one_event_is_caught_and_the_event_after_the_gap_is_named() {
    let app = spawn_app().await;
    let c = sealed_chain(&app).await;
    app.sql(&format!("DELETE FROM audit_events WHERE id = {}", c[2].id))
        .await;
    let r = verify(&app).await;
    assert!(!r.ok);
    assert_eq!(r.first_bad_id, Some(c[3].id), "{}", r.summary());
    let p = r.problem.unwrap();
    assert!(
        p.contains(&format!("seq {} is missing", c[2].seq.unwrap())),
        "{p}"
    );
    assert!(p.contains(&format!("event id {}", c[1].id)), "{p}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inserting_one_forged_event_with_a_correct_hash_is_caught_and_named() {
    let app = spawn_app().await;
    let c = sealed_chain(&app).await;
    let k = c[2].seq.unwrap();
    // Make room after seq k (two steps: a unique index forbids overlaps), then forge
    // an event at k + 1 whose own hash is right.
    app.sql(&format!(
        "UPDATE audit_events SET seq = -seq - 1 WHERE seq > {k}"
    ))
    .await;
    app.sql("UPDATE audit_events SET seq = -seq WHERE seq < 0")
        .await;
    let mut forged: audit_event::ActiveModel = c[2].clone().into();
    forged.id = sea_orm::ActiveValue::NotSet;
    forged.request_id = Set("forged".into());
    forged.action = Set("user.view".into());
    forged.seq = Set(None);
    let forged = forged.insert(&app.db).await.unwrap();
    let hash = keys().current_link(c[2].hash.as_deref().unwrap(), &forged, k + 1);
    app.sql(&format!(
        "UPDATE audit_events SET seq = {}, prev_hash = '{}', hash = '{hash}' WHERE id = {}",
        k + 1,
        c[2].hash.as_deref().unwrap(),
        forged.id
    ))
    .await;
    let r = verify(&app).await;
    assert!(!r.ok);
    let p = r.problem.clone().unwrap();
    assert_eq!(r.first_bad_id, Some(c[3].id), "{}", r.summary());
    assert!(
        p.contains(&format!("event id {}", forged.id)),
        "the forged event is named: {p}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reordering_two_events_is_caught_and_named() {
    let app = spawn_app().await;
    let c = sealed_chain(&app).await;
    let (a, b) = (&c[2], &c[3]);
    app.sql(&format!(
        "UPDATE audit_events SET seq = -1 WHERE id = {}",
        a.id
    ))
    .await;
    app.sql(&format!(
        "UPDATE audit_events SET seq = {} WHERE id = {}",
        a.seq.unwrap(),
        b.id
    ))
    .await;
    app.sql(&format!(
        "UPDATE audit_events SET seq = {} WHERE id = {}",
        b.seq.unwrap(),
        a.id
    ))
    .await;
    let r = verify(&app).await;
    assert!(!r.ok);
    assert_eq!(r.first_bad_id, Some(b.id), "{}", r.summary());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewriting_the_chain_from_some_point_on_is_caught_by_the_last_checkpoint() {
    let app = spawn_app().await;
    let c = sealed_chain(&app).await;
    assert!(verify(&app).await.ok);
    // Change an event and recompute every hash after it, as someone holding the
    // audit key could: only the database's record of the last verification (and,
    // outside it, the signed checkpoints) can tell.
    let start = c[2].seq.unwrap();
    app.sql(&format!(
        "UPDATE audit_events SET actor_name = 'mallory' WHERE id = {}",
        c[2].id
    ))
    .await;
    let rows = audit_event::Entity::find()
        .filter(audit_event::Column::Seq.gte(start))
        .order_by_asc(audit_event::Column::Seq)
        .all(&app.db)
        .await
        .unwrap();
    let mut prev = c[1].hash.clone().unwrap();
    for e in rows {
        let h = keys().current_link(&prev, &e, e.seq.unwrap());
        app.sql(&format!(
            "UPDATE audit_events SET prev_hash = '{prev}', hash = '{h}' WHERE id = {}",
            e.id
        ))
        .await;
        prev = h;
    }
    let r = verify(&app).await;
    assert!(!r.ok, "{}", r.summary());
    assert!(r.problem.unwrap().contains("earlier verification"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mama_audit_verify_exits_zero_when_intact_and_non_zero_naming_the_bad_event() {
    let app = spawn_app().await;
    let c = sealed_chain(&app).await;
    let out = mama(&app.database_url, &["audit", "verify"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("intact"));
    app.sql(&format!(
        "UPDATE audit_events SET outcome = 'success', http_status = 200 WHERE id = {}",
        c[4].id
    ))
    .await;
    app.sql(&format!(
        "UPDATE audit_events SET action = 'user.list' WHERE id = {}",
        c[4].id
    ))
    .await;
    let out = mama(&app.database_url, &["audit", "verify"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("event id {}", c[4].id)), "{err}");
    // The verification itself is an audit event.
    let ev = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.action == "audit.verify")
        .collect::<Vec<_>>();
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[1].outcome, "error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifying_from_the_page_records_an_event_and_shows_the_result() {
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    sa.page("/audit").await;
    let r = sa.post_form("/audit/verify", &[]).await;
    assert_eq!(r.status(), 303);
    let ev = app.event_for(&request_id(&r)).await;
    assert_eq!(ev.action, "audit.verify");
    assert_eq!(ev.outcome, "success");
    let (_, body) = sa.page("/audit").await;
    assert!(body.contains("chain intact"), "{body}");
}

async fn old_event(db: &sea_orm::DatabaseConnection, days_ago: i64, user: &str) {
    let mut ev = Event::system("test", Action::UserView, Outcome::Success);
    ev.occurred_at = chrono::Utc::now() - chrono::Duration::days(days_ago);
    ev.targets = vec![user.to_string()];
    mama::audit::insert(db, &ev).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archiving_prunes_only_with_a_retention_period_and_the_rest_still_verifies() {
    let url = fresh_database().await;
    mama::db::migrate_up(&mama::config::DatabaseUrl::new(url.clone()))
        .await
        .unwrap();
    let db = mama::db::connect(&mama::config::DatabaseUrl::new(url.clone()), 2)
        .await
        .unwrap();
    for d in [200, 150, 100] {
        old_event(&db, d, "old-user").await;
    }
    for d in [5, 1] {
        old_event(&db, d, "new-user").await;
    }
    // Indexed, in one run: the archive must cut through it.
    chain::seal_all(&db, &keys()).await.unwrap();
    mama::audit::indexer::index_pending(&db, 100, 1_000)
        .await
        .unwrap();
    let indexed = |user: &'static str| {
        let db = db.clone();
        async move {
            mama::audit::indexer::indexed_events(&db, user)
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(
        (indexed("old-user").await, indexed("new-user").await),
        (3, 2)
    );
    let dir = std::env::temp_dir().join("mama-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let suffix = crate::helpers::rand_suffix();

    // Without a retention period: the archive is written, nothing is deleted.
    let f1 = dir.join(format!("archive-{suffix}-1.jsonl"));
    let out = mama(
        &url,
        &[
            "audit",
            "archive",
            "--before",
            "2999-01-01",
            "--out",
            f1.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&f1).unwrap().lines().count(), 5);
    assert_eq!(audit_event::Entity::find().all(&db).await.unwrap().len(), 5);

    // With 30 days: the three old events go to the archive, then out of the table.
    let f2 = dir.join(format!("archive-{suffix}-2.jsonl"));
    let out = mama(
        &url,
        &["audit", "archive", "--out", f2.to_str().unwrap()],
        &[("MAMA_AUDIT_RETENTION_DAYS", "30")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let archived = std::fs::read_to_string(&f2).unwrap();
    assert_eq!(archived.lines().count(), 3);
    assert!(archived.lines().all(|l| l.contains("old-user")));
    let left = audit_event::Entity::find().all(&db).await.unwrap();
    assert!(left.iter().all(|e| !e.targets.contains("old-user")));
    assert!(left.iter().any(|e| e.action == "audit.archive"));
    // The pruned events' index rows went with them; the others stay.
    assert_eq!(
        (indexed("old-user").await, indexed("new-user").await),
        (0, 2)
    );
    let r = chain::verify(&db, &keys()).await.unwrap();
    assert!(r.ok, "{}", r.summary());
    assert!(r.head_seq > 3);
}

#[tokio::test]
async fn the_writer_seals_its_batch_as_it_stores_it_on_sqlite_behind_any_waiting_event() {
    use sea_orm::{DbBackend, PaginatorTrait};
    let url = fresh_database().await;
    let db_url = mama::config::DatabaseUrl::new(url.to_string());
    mama::db::migrate_up(&db_url).await.unwrap();
    let db = mama::db::connect(&db_url, 2).await.unwrap();
    let keys = keys();
    let ev = |n: usize| {
        let mut e = Event::system("test", Action::UserView, Outcome::Success);
        e.targets = vec![format!("u{n}")];
        e
    };
    let store = |events: Vec<Event>| {
        let (db, keys) = (db.clone(), keys.clone());
        async move {
            let refs: Vec<&Event> = events.iter().collect();
            let txn = mama::db::begin_write(&db).await.unwrap();
            let sealed = chain::insert_sealed(&txn, &keys, &refs).await.unwrap();
            txn.commit().await.unwrap();
            sealed
        }
    };
    let links = || async {
        audit_event::Entity::find()
            .order_by_asc(audit_event::Column::Id)
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.id, e.seq))
            .collect::<Vec<_>>()
    };
    let sealed = store(vec![ev(1), ev(2), ev(3)]).await;
    if db.get_database_backend() != DbBackend::Sqlite {
        // PostgreSQL's sealer seals, later.
        assert!(!sealed);
        assert_eq!(audit_event::Entity::find().count(&db).await.unwrap(), 0);
        return;
    }
    assert!(sealed);
    assert_eq!(
        links().await,
        vec![(1, Some(1)), (2, Some(2)), (3, Some(3))]
    );
    // An edit's event, stored unsealed in its own transaction, is sealed first:
    // the writer stores nothing sealed while one waits.
    mama::audit::insert(&db, &ev(4)).await.unwrap();
    assert!(!store(vec![ev(5)]).await);
    assert_eq!(chain::seal_all(&db, &keys).await.unwrap(), 1);
    assert!(store(vec![ev(5), ev(6)]).await);
    let all = links().await;
    assert_eq!(
        all,
        (1..=6).map(|i| (i, Some(i))).collect::<Vec<_>>(),
        "the chain keeps id order"
    );
    let report = chain::verify(&db, &keys).await.unwrap();
    assert!(report.ok, "{}", report.summary());
    assert_eq!(report.checked, 6);
    // Ids are never handed out twice, even after the newest events are gone.
    audit_event::Entity::delete_many()
        .filter(audit_event::Column::Id.gt(4))
        .exec(&db)
        .await
        .unwrap();
    assert!(store(vec![ev(7)]).await);
    assert_eq!(links().await.last(), Some(&(7, Some(5))));
}
