//! `/audit`: filters, keyset pages, the event page with its diff, the streamed
//! exports, and fail-closed behaviour when the audit store is gone.
use std::time::Duration;

use mama::audit::{Action, Event, Outcome};
use mama::entities::audit_event;
use sea_orm::{EntityTrait, QueryOrder};

use crate::helpers::{TestApp, request_id, spawn_app, spawn_app_with};

/// Stores an event straight away (as the worker or a CLI would).
async fn put(app: &TestApp, action: Action, outcome: Outcome, targets: &[&str]) -> i64 {
    let mut ev = Event::system("test", action, outcome);
    ev.targets = targets.iter().map(|s| s.to_string()).collect();
    mama::audit::insert(&app.db, &ev).await.unwrap()
}

fn ids_on_page(body: &str) -> Vec<i64> {
    let doc = scraper::Html::parse_document(body);
    let sel = scraper::Selector::parse("#events a.event-link").unwrap();
    doc.select(&sel)
        .map(|a| a.text().collect::<String>().trim().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn the_list_filters_by_user_action_group_outcome_request_and_time() {
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    let a = put(
        &app,
        Action::UserUpdate,
        Outcome::Success,
        &["alice", "bob"],
    )
    .await;
    let b = put(&app, Action::UserView, Outcome::Denied, &["alice"]).await;
    let c = put(&app, Action::UserUpdate, Outcome::Success, &["carol"]).await;
    let d = put(&app, Action::AdminCreate, Outcome::Success, &[]).await;

    let (s, body) = sa.page("/audit?user=alice").await;
    assert_eq!(s, 200);
    assert_eq!(ids_on_page(&body), vec![b, a]);
    let (_, body) = sa.page("/audit?user=alice&action=user.update").await;
    assert_eq!(ids_on_page(&body), vec![a]);
    let (_, body) = sa.page("/audit?action=user.*&outcome=success").await;
    let ids = ids_on_page(&body);
    assert!(ids.contains(&a) && ids.contains(&c) && !ids.contains(&b) && !ids.contains(&d));
    let (_, body) = sa.page("/audit?action=admin.create&actor=test").await;
    assert_eq!(ids_on_page(&body), vec![d]);
    let (_, body) = sa.page("/audit?until=2000-01-01").await;
    assert!(ids_on_page(&body).is_empty());
    assert!(body.contains("No event matches"));
    let (_, body) = sa.page("/audit?since=2000-01-01&user=carol").await;
    assert_eq!(ids_on_page(&body), vec![c]);
    // The filter stays in the form.
    assert!(body.contains("value=\"carol\""));

    // By request ID: the page's own request.
    let r = sa.get("/users").await;
    let rid = request_id(&r);
    let (_, body) = sa.page(&format!("/audit?request_id={rid}")).await;
    let ids = ids_on_page(&body);
    assert_eq!(ids.len(), 1);
    let ev = app.event_for(&rid).await;
    assert_eq!(ids, vec![ev.id]);

    // The list is audited with its filter.
    let r = sa.get("/audit?user=alice&outcome=denied").await;
    let ev = app.event_for(&request_id(&r)).await;
    assert_eq!(ev.action, "audit.list");
    assert!(ev.details.contains("\"user\":\"alice\""), "{}", ev.details);
}

#[tokio::test]
async fn a_bad_filter_is_answered_422_with_the_field_named() {
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    let r = sa
        .get("/audit?since=last+tuesday&action=nope&outcome=fine")
        .await;
    assert_eq!(r.status(), 422);
    let rid = request_id(&r);
    let body = r.text().await.unwrap();
    assert!(body.contains("id=\"since-error\""), "{body}");
    assert!(body.contains("id=\"action-error\""));
    assert!(body.contains("id=\"outcome-error\""));
    let ev = app.event_for(&rid).await;
    assert_eq!(
        (ev.action.as_str(), ev.outcome.as_str()),
        ("audit.list", "invalid")
    );
    let r = sa.get("/audit/export.csv?since=never").await;
    assert_eq!(r.status(), 422);
}

#[tokio::test]
async fn pages_follow_the_keyset_without_gaps_or_repeats_and_keep_the_filter() {
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    let mut mine = vec![];
    for i in 0..230 {
        let t = if i % 3 == 0 { "other" } else { "paged-user" };
        let id = put(&app, Action::UserView, Outcome::Success, &[t]).await;
        if t == "paged-user" {
            mine.push(id);
        }
    }
    mine.reverse();
    let mut seen = vec![];
    let mut url = "/audit?user=paged-user".to_string();
    loop {
        let (s, body) = sa.page(&url).await;
        assert_eq!(s, 200);
        seen.extend(ids_on_page(&body));
        let doc = scraper::Html::parse_document(&body);
        let sel = scraper::Selector::parse("a#older").unwrap();
        match doc.select(&sel).next() {
            Some(a) => {
                url = a.value().attr("href").unwrap().replace("&amp;", "&");
                assert!(url.contains("user=paged-user") && url.contains("before="));
            }
            None => break,
        }
    }
    assert_eq!(seen, mine);
}

#[tokio::test]
async fn an_event_page_shows_the_before_and_after_diff_and_links_to_the_users_history() {
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    let mut ev = Event::system("test", Action::UserUpdate, Outcome::Success);
    ev.targets = vec!["diff-user".into()];
    ev.details = serde_json::json!({
        "before": {"organisation": "Sales", "models": ["gpt-4o"], "key_hint": "…abcd"},
        "after": {"organisation": "Research", "models": ["gpt-4o", "claude"], "key_hint": "…abcd"},
        "reason": "moved team"});
    let id = mama::audit::insert(&app.db, &ev).await.unwrap();
    let r = sa.get(&format!("/audit/{id}")).await;
    assert_eq!(r.status(), 200);
    let rid = request_id(&r);
    let body = r.text().await.unwrap();
    let doc = scraper::Html::parse_document(&body);
    let row = |k: &str| {
        let sel = scraper::Selector::parse("#diff tbody tr").unwrap();
        doc.select(&sel)
            .find(|tr| tr.text().collect::<String>().contains(k))
            .map(|tr| tr.value().attr("class").unwrap().to_string())
            .unwrap_or_else(|| panic!("no diff row {k}: {body}"))
    };
    assert_eq!(row("organisation"), "diff-changed");
    assert_eq!(row("models"), "diff-changed");
    assert_eq!(row("key_hint"), "diff-same");
    assert!(body.contains("Research") && body.contains("Sales"));
    assert!(body.contains("moved team"));
    assert!(body.contains("href=\"/audit?user=diff-user\""));
    let seen = app.event_for(&rid).await;
    assert_eq!(seen.action, "audit.view");
    assert!(seen.details.contains(&format!("\"event_id\":{id}")));

    let r = sa.get("/audit/999999999").await;
    assert_eq!(r.status(), 404);
    let ev = app.event_for(&request_id(&r)).await;
    assert_eq!(
        (ev.action.as_str(), ev.outcome.as_str()),
        ("audit.view", "invalid")
    );
}

#[tokio::test]
async fn the_exports_stream_every_filtered_event_and_are_audited() {
    let app = spawn_app_with(|s| s.audit_seal_interval = Duration::from_secs(3600)).await;
    let sa = app.super_admin().await;
    // More than one export chunk for one user.
    mama::devtools::audit::generate(&app.db, &crate::audit_chain::keys(), 4500, 3, 30)
        .await
        .unwrap();
    let expected: Vec<i64> = audit_event::Entity::find()
        .order_by_desc(audit_event::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.targets.contains("\"u000001\""))
        .map(|e| e.id)
        .collect();
    assert!(expected.len() as u64 > mama::audit::export::CHUNK);

    let r = sa.get("/audit/export.csv?user=u000001").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".csv")
    );
    let rid = request_id(&r);
    let body = r.text().await.unwrap();
    let mut lines = body.split("\r\n").filter(|l| !l.is_empty());
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("id,occurred_at,request_id")
    );
    let ids: Vec<i64> = lines
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, expected);
    let ev = app.event_for(&rid).await;
    assert_eq!(ev.action, "audit.export");
    assert!(
        ev.details.contains("\"user\":\"u000001\""),
        "{}",
        ev.details
    );
    assert!(ev.details.contains("\"format\":\"csv\""));

    let r = sa
        .get("/audit/export.jsonl?user=u000001&action=user.update")
        .await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    let rows: Vec<serde_json::Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|v| v["action"] == "user.update"
        && v["targets"].as_array().unwrap().contains(&"u000001".into())));
    assert!(rows[0]["details"]["before"].is_object());
}

#[tokio::test]
async fn an_auditor_reads_views_and_exports_the_trail() {
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    let audrey = app.account(&sa, "audrey", "auditor").await;
    let id = put(&app, Action::UserDelete, Outcome::Success, &["gone-user"]).await;
    let (s, body) = audrey.page("/audit?user=gone-user").await;
    assert_eq!(s, 200);
    assert_eq!(ids_on_page(&body), vec![id]);
    assert_eq!(audrey.get(&format!("/audit/{id}")).await.status(), 200);
    let r = audrey.get("/audit/export.csv?user=gone-user").await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("gone-user"));
    let r = audrey.post_form("/audit/verify", &[]).await;
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn with_the_audit_store_gone_pages_and_exports_answer_503_and_show_nothing() {
    let app = spawn_app().await;
    let sa = app.super_admin().await;
    put(
        &app,
        Action::UserView,
        Outcome::Success,
        &["secret-subject"],
    )
    .await;
    sa.page("/audit").await;
    app.sql("ALTER TABLE audit_events RENAME TO audit_events_gone")
        .await;
    for path in [
        "/audit",
        "/audit?user=secret-subject",
        "/audit/1",
        "/audit/export.csv",
        "/audit/export.jsonl?user=secret-subject",
    ] {
        let r = sa.get(path).await;
        assert_eq!(r.status(), 503, "{path}");
        let body = r.text().await.unwrap();
        assert!(!body.contains("secret-subject"), "{path}: {body}");
        assert!(!body.contains("id,occurred_at"), "{path}");
    }
    let r = sa.post_form("/audit/verify", &[]).await;
    assert_eq!(r.status(), 503);
    // Nothing was recorded as verified while the store was gone.
    assert!(
        mama::audit::chain::last_verified(&app.db)
            .await
            .unwrap()
            .is_none()
    );
}

/// Seals every stored event and indexes them, `events_per_pass` at a time.
async fn seal_and_index(app: &TestApp, events_per_pass: u64) {
    mama::audit::chain::seal_all(&app.db, &crate::audit_chain::keys())
        .await
        .unwrap();
    while mama::audit::indexer::index_pending(&app.db, events_per_pass, 100_000)
        .await
        .unwrap()
        > 0
    {}
}

/// Every page of a search by user, following the keyset cursor.
async fn all_pages(app: &TestApp, f: &mama::audit::queries::AuditFilter, limit: u64) -> Vec<i64> {
    let (mut seen, mut before) = (vec![], None);
    loop {
        let page = mama::audit::queries::search(&app.db, f, before, limit)
            .await
            .unwrap();
        assert!(page.len() as u64 <= limit);
        seen.extend(page.iter().map(|e| e.id));
        match page.last() {
            Some(e) if page.len() as u64 == limit => before = Some(e.id),
            _ => return seen,
        }
    }
}

#[tokio::test]
async fn a_search_by_user_over_hundreds_of_index_runs_is_exact_page_by_page() {
    let app = spawn_app_with(|s| s.audit_index_interval = Duration::from_secs(3600)).await;
    let (mut mine, mut mine_updates) = (vec![], vec![]);
    for i in 0..700 {
        let action = if i % 2 == 0 {
            Action::UserView
        } else {
            Action::UserUpdate
        };
        let t = if i % 3 == 0 { "other" } else { "runs-user" };
        let id = put(&app, action, Outcome::Success, &[t, "everyone"]).await;
        if t == "runs-user" {
            mine.push(id);
            if i % 2 == 1 {
                mine_updates.push(id);
            }
        }
    }
    mine.reverse();
    mine_updates.reverse();
    // Each event a run of its own (700 runs: searches read them 4, 16, 64, then
    // 256 at a time), first in id order, then numbered in an order that has
    // nothing to do with the ids (no run can be skipped early then, and the
    // answer must not change).
    mama::audit::chain::seal_all(&app.db, &crate::audit_chain::keys())
        .await
        .unwrap();
    while mama::audit::indexer::index_pending_in_runs_of(&app.db, 1, 100_000, 1)
        .await
        .unwrap()
        > 0
    {}
    let runs = mama::entities::audit_target_run::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    assert!(runs.len() >= 700, "{} runs", runs.len());
    let by_user = |user: &str, actions: Vec<String>| mama::audit::queries::AuditFilter {
        target_user: Some(user.into()),
        actions,
        ..Default::default()
    };
    let updates = vec![Action::UserUpdate.as_str().to_string()];
    for order in ["by id", "scrambled"] {
        if order == "scrambled" {
            // In two steps: a run's new number may be another's old one.
            app.sql("UPDATE audit_target_chunks SET run = run + 1000000")
                .await;
            app.sql("UPDATE audit_target_chunks SET run = ((run - 1000000) * 7919) % 1009")
                .await;
            mama::audit::indexer::rebuild_runs(&app.db).await.unwrap();
        }
        for limit in [3, 1000] {
            assert_eq!(
                all_pages(&app, &by_user("runs-user", vec![]), limit).await,
                mine,
                "{order}, {limit} per page"
            );
            assert_eq!(
                all_pages(&app, &by_user("runs-user", updates.clone()), limit).await,
                mine_updates,
                "{order}, {limit} per page, updates only"
            );
        }
        assert!(
            all_pages(&app, &by_user("nobody", vec![]), 25)
                .await
                .is_empty()
        );
    }
}

/// A fresh, fully migrated database (dropped with the first value) and one
/// connection to it, as `mama migrate` runs migrations.
async fn migrated_database() -> (crate::helpers::TestDatabase, sea_orm::DatabaseConnection) {
    let url = crate::helpers::fresh_database().await;
    let db_url = mama::config::DatabaseUrl::new(url.to_string());
    mama::db::migrate_up(&db_url).await.unwrap();
    let db = mama::db::connect(&db_url, 1).await.unwrap();
    (url, db)
}

/// The rows of the index of a row per pair (`audit_targets`, before chunks),
/// sorted.
async fn pair_rows(db: &sea_orm::DatabaseConnection) -> Vec<(i64, String, i64)> {
    use sea_orm::ConnectionTrait;
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT run, user_id, event_id FROM audit_targets ORDER BY run, user_id, event_id",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            (
                r.try_get("", "run").unwrap(),
                r.try_get("", "user_id").unwrap(),
                r.try_get("", "event_id").unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn upgrading_moves_the_indexed_targets_into_runs_and_back() {
    use migration::MigratorTrait;
    use sea_orm::ConnectionTrait;
    let (_url, db) = migrated_database().await;
    // The schema before runs (this, the next and the chunks' migration undone),
    // with events indexed the old way.
    migration::Migrator::down(&db, Some(3)).await.unwrap();
    let mut ids = vec![];
    for i in 0..300 {
        let mut ev = Event::system("test", Action::UserView, Outcome::Success);
        ev.targets = vec![format!("old-{}", i % 2)];
        ids.push(mama::audit::insert(&db, &ev).await.unwrap());
    }
    mama::audit::chain::seal_all(&db, &crate::audit_chain::keys())
        .await
        .unwrap();
    let unsealed = {
        let ev = Event::system("test", Action::UserView, Outcome::Success);
        mama::audit::insert(&db, &ev).await.unwrap()
    };
    for (i, id) in ids.iter().chain([&unsealed]).enumerate() {
        db.execute_unprepared(&format!(
            "INSERT INTO audit_targets (user_id, event_id) VALUES ('old-{}', {id})",
            i % 2
        ))
        .await
        .unwrap();
    }
    migration::Migrator::up(&db, Some(1)).await.unwrap();
    let rows = pair_rows(&db).await;
    assert_eq!(
        rows.len(),
        300,
        "the unsealed event's row is left to the indexer"
    );
    // In chain order, 32,768 rows a run: all 300 in run 0.
    for (run, user, event) in &rows {
        let n: usize = ids.iter().position(|i| i == event).unwrap();
        assert_eq!(user, &format!("old-{}", n % 2));
        assert_eq!(*run, 0);
    }
    let runs = mama::entities::audit_target_run::Entity::find()
        .all(&db)
        .await
        .unwrap();
    let last_seq = audit_event::Entity::find_by_id(ids[299])
        .one(&db)
        .await
        .unwrap()
        .unwrap()
        .seq
        .unwrap();
    assert_eq!(
        runs,
        vec![mama::entities::audit_target_run::Model {
            run: 0,
            min_event_id: ids[0],
            max_event_id: ids[299],
            ceiling_event_id: ids[299],
            max_seq: last_seq,
            row_count: 300,
        }]
    );
    // And back down: the same pairs, keyed the old way.
    migration::Migrator::down(&db, Some(1)).await.unwrap();
    let back = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT user_id, event_id FROM audit_targets ORDER BY event_id",
        ))
        .await
        .unwrap();
    assert_eq!(back.len(), 300);
    let first: i64 = back[0].try_get("", "event_id").unwrap();
    assert_eq!(first, ids[0]);
}

#[tokio::test]
async fn the_indexer_starts_a_new_run_past_its_row_bound_and_searches_span_runs() {
    let app = spawn_app_with(|s| s.audit_index_interval = Duration::from_secs(3600)).await;
    let per_run = mama::audit::indexer::RUN_ROWS as usize;
    // 40 events naming 1,000 users each: 40,000 index rows, more than one run.
    let mut ids = vec![];
    for e in 0..40 {
        let mut targets: Vec<String> = (0..999).map(|i| format!("crowd-{i}")).collect();
        targets.push(if e % 2 == 0 {
            "even".into()
        } else {
            "odd".into()
        });
        let mut ev = Event::system("test", Action::UserView, Outcome::Success);
        ev.targets = targets;
        ids.push(mama::audit::insert(&app.db, &ev).await.unwrap());
    }
    // Small passes, each rewriting the run it grows, so that the run boundary
    // falls between passes too.
    seal_and_index(&app, 3).await;
    let runs = mama::entities::audit_target_run::Entity::find()
        .order_by_asc(mama::entities::audit_target_run::Column::Run)
        .all(&app.db)
        .await
        .unwrap();
    let mine: Vec<_> = runs.iter().filter(|r| r.max_event_id >= ids[0]).collect();
    assert_eq!(mine.len(), 2, "{runs:?}");
    assert!(mine[0].row_count >= per_run as i64 && mine[0].row_count < per_run as i64 + 1000);
    assert_eq!(mine[0].row_count + mine[1].row_count, 40_000);
    assert!(mine[0].ceiling_event_id <= mine[1].ceiling_event_id);
    assert_eq!(mine[1].ceiling_event_id, ids[39]);
    // Every pair is in its run's chunks once: 1,000 users a pass in each.
    assert_eq!(
        mama::audit::indexer::indexed_events(&app.db, "crowd-500")
            .await
            .unwrap(),
        ids.iter().rev().copied().collect::<Vec<_>>()
    );
    let odd: Vec<i64> = ids.iter().rev().step_by(2).copied().collect();
    let f = mama::audit::queries::AuditFilter {
        target_user: Some("odd".into()),
        ..Default::default()
    };
    for limit in [1, 7, 100] {
        assert_eq!(all_pages(&app, &f, limit).await, odd, "{limit} per page");
    }
}

#[tokio::test]
async fn a_chunk_left_where_the_indexer_writes_does_not_stop_it_nor_repeat_in_searches() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app_with(|s| s.audit_index_interval = Duration::from_secs(3600)).await;
    let mut ids = vec![];
    for _ in 0..3 {
        ids.push(put(&app, Action::UserView, Outcome::Success, &["ann", "bo"]).await);
    }
    // Chunks in the run the indexer fills next and in one past it (nothing the
    // app does leaves one; a hand-made repair could), naming an event it is
    // about to index: neither may make its INSERT fail.
    let next_run = mama::entities::audit_target_run::Entity::find()
        .order_by_desc(mama::entities::audit_target_run::Column::Run)
        .one(&app.db)
        .await
        .unwrap()
        .map_or(0, |r| r.run + 1);
    let stray = mama::audit::chunk::encode(&[("ann".to_string(), ids[1])]);
    for run in [next_run, next_run + 5] {
        app.db
            .execute_raw(sea_orm::Statement::from_sql_and_values(
                app.db.get_database_backend(),
                match app.db.get_database_backend() {
                    sea_orm::DbBackend::Postgres => {
                        "INSERT INTO audit_target_chunks (run, first_user, pairs) VALUES ($1, $2, $3)"
                    }
                    _ => "INSERT INTO audit_target_chunks (run, first_user, pairs) VALUES (?, ?, ?)",
                },
                [
                    run.into(),
                    "ann".into(),
                    stray[0].pairs.clone().into(),
                ],
            ))
            .await
            .unwrap();
    }
    seal_and_index(&app, 100).await;
    assert_eq!(
        mama::audit::indexer::lag(&app.db).await.unwrap(),
        0,
        "the indexer went past the stored chunks"
    );
    let newest_first: Vec<i64> = ids.iter().rev().copied().collect();
    for user in ["ann", "bo"] {
        let f = mama::audit::queries::AuditFilter {
            target_user: Some(user.into()),
            ..Default::default()
        };
        assert_eq!(all_pages(&app, &f, 2).await, newest_first, "{user}");
        assert_eq!(
            mama::audit::indexer::indexed_events(&app.db, user)
                .await
                .unwrap(),
            newest_first,
            "{user}: listed once"
        );
    }
}

#[tokio::test]
async fn a_pass_reads_its_events_a_page_at_a_time_within_its_bounds() {
    // 600 events (the indexer reads 256 at a time), some naming nobody.
    let app = spawn_app_with(|s| s.audit_index_interval = Duration::from_secs(3600)).await;
    seal_and_index(&app, 1_000).await;
    let ids = spread_events(&app.db, 600, 7).await;
    for _ in 0..3 {
        let ev = Event::system("test", Action::UserView, Outcome::Success);
        mama::audit::insert(&app.db, &ev).await.unwrap();
    }
    mama::audit::chain::seal_all(&app.db, &crate::audit_chain::keys())
        .await
        .unwrap();
    let index = |events, rows| mama::audit::indexer::index_pending(&app.db, events, rows);
    // At most 300 events: the first page and part of the second.
    assert_eq!(index(300, 100_000).await.unwrap(), 300);
    let newest = |ids: &[i64]| ids.iter().rev().copied().collect::<Vec<_>>();
    let everyone = mama::audit::indexer::indexed_events(&app.db, "everyone").await;
    assert_eq!(everyone.unwrap(), newest(&ids[..300]));
    // At most ~500 pairs: the event that reaches the bound is the last taken.
    assert_eq!(index(2_000, 500).await.unwrap(), 250);
    // The rest, over two pages, with the events that name nobody.
    assert_eq!(index(2_000, 100_000).await.unwrap(), 53);
    assert_eq!(index(2_000, 100_000).await.unwrap(), 0);
    let everyone = mama::audit::indexer::indexed_events(&app.db, "everyone").await;
    assert_eq!(everyone.unwrap(), newest(&ids));
    let u3 = mama::audit::indexer::indexed_events(&app.db, "u-3").await;
    let expected: Vec<i64> = ids.iter().skip(3).step_by(7).copied().collect();
    assert_eq!(u3.unwrap(), newest(&expected));
    assert_eq!(mama::audit::indexer::lag(&app.db).await.unwrap(), 0);
}

/// `n` events, the i-th naming `u-{i % users}` and `everyone`; their ids.
async fn spread_events(db: &sea_orm::DatabaseConnection, n: usize, users: usize) -> Vec<i64> {
    let mut ids = vec![];
    for i in 0..n {
        let mut ev = Event::system("test", Action::UserView, Outcome::Success);
        ev.targets = vec![format!("u-{}", i % users), "everyone".into()];
        ids.push(mama::audit::insert(db, &ev).await.unwrap());
    }
    ids
}

#[tokio::test]
async fn the_index_loses_its_event_key_and_keeps_its_rows_both_ways() {
    use migration::MigratorTrait;
    use sea_orm::ConnectionTrait;
    let (_url, db) = migrated_database().await;
    let ids = spread_events(&db, 50, 5).await;
    // The schema of a row per pair, without the key, filled as it was.
    migration::Migrator::down(&db, Some(1)).await.unwrap();
    for (i, id) in ids.iter().enumerate() {
        db.execute_unprepared(&format!(
            "INSERT INTO audit_targets (run, user_id, event_id) VALUES (0, 'u-{}', {id}), \
             (0, 'everyone', {id})",
            i % 5
        ))
        .await
        .unwrap();
    }
    let indexed = pair_rows(&db).await;
    assert_eq!(indexed.len(), 100);
    // Without the key, a row may name an event that does not exist (only the
    // archive deletes events, and it deletes their rows itself).
    let orphan = "INSERT INTO audit_targets (run, user_id, event_id) VALUES (0, 'x', 999999999)";
    db.execute_unprepared(orphan).await.unwrap();
    // Down: the key is back (the orphan is dropped), every real row kept.
    migration::Migrator::down(&db, Some(1)).await.unwrap();
    assert_eq!(pair_rows(&db).await, indexed);
    assert!(
        db.execute_unprepared(orphan).await.is_err(),
        "the key refuses it"
    );
    migration::Migrator::up(&db, Some(1)).await.unwrap();
    assert_eq!(pair_rows(&db).await, indexed);
    db.execute_unprepared(orphan).await.unwrap();
}

#[tokio::test]
async fn chunks_replace_the_row_per_pair_both_ways_and_the_indexer_rebuilds_from_the_events() {
    use migration::MigratorTrait;
    let (_url, db) = migrated_database().await;
    let ids = spread_events(&db, 60, 6).await;
    mama::audit::chain::seal_all(&db, &crate::audit_chain::keys())
        .await
        .unwrap();
    let index_all = || async {
        while mama::audit::indexer::index_pending(&db, 1_000, 100_000)
            .await
            .unwrap()
            > 0
        {}
    };
    index_all().await;
    let everyone: Vec<i64> = ids.iter().rev().copied().collect();
    let u2: Vec<i64> = ids
        .iter()
        .rev()
        .copied()
        .filter(|id| (id - ids[0]) % 6 == 2)
        .collect();
    let check = || async {
        assert_eq!(
            mama::audit::indexer::indexed_events(&db, "everyone")
                .await
                .unwrap(),
            everyone
        );
        assert_eq!(
            mama::audit::indexer::indexed_events(&db, "u-2")
                .await
                .unwrap(),
            u2
        );
        assert_eq!(mama::audit::indexer::lag(&db).await.unwrap(), 0);
    };
    check().await;
    // Down: a row per pair, empty, and the watermark gone: the old indexer
    // would start over from the events.
    migration::Migrator::down(&db, Some(1)).await.unwrap();
    assert!(pair_rows(&db).await.is_empty());
    assert_eq!(mama::audit::indexer::indexed_seq(&db).await.unwrap(), 0);
    assert_eq!(
        mama::entities::audit_target_run::Entity::find()
            .all(&db)
            .await
            .unwrap(),
        vec![]
    );
    // Up: chunks, empty, until the indexer has read the events again.
    migration::Migrator::up(&db, None).await.unwrap();
    assert_eq!(mama::audit::indexer::lag(&db).await.unwrap(), 60);
    assert!(
        mama::audit::indexer::indexed_events(&db, "everyone")
            .await
            .unwrap()
            .is_empty()
    );
    index_all().await;
    check().await;
}

#[tokio::test]
async fn a_quiet_trail_waits_for_a_runs_worth_or_the_longest_wait() {
    // Waits for an hour unless a run's worth of targets is pending.
    let app = spawn_app_with(|s| {
        s.audit_index_interval = Duration::from_millis(20);
        s.audit_index_max_wait = Duration::from_secs(3600);
        s.audit_seal_interval = Duration::from_millis(20);
    })
    .await;
    let mut quiet = vec![];
    for _ in 0..3 {
        quiet.push(put(&app, Action::UserView, Outcome::Success, &["quiet"]).await);
    }
    quiet.reverse();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let indexed = |user: &'static str| {
        let db = app.db.clone();
        async move {
            mama::audit::indexer::indexed_events(&db, user)
                .await
                .unwrap()
        }
    };
    assert!(
        indexed("quiet").await.is_empty(),
        "indexed before a run's worth"
    );
    assert!(mama::audit::indexer::lag(&app.db).await.unwrap() >= 3);
    let f = mama::audit::queries::AuditFilter {
        target_user: Some("quiet".into()),
        ..Default::default()
    };
    assert_eq!(
        all_pages(&app, &f, 10).await,
        quiet,
        "found through the tail"
    );
    // A run's worth (34 events of 1,000 targets): indexed without the wait.
    for _ in 0..34 {
        let mut ev = Event::system("test", Action::UserView, Outcome::Success);
        ev.targets = (0..1000).map(|i| format!("crowd-{i}")).collect();
        mama::audit::insert(&app.db, &ev).await.unwrap();
    }
    let mut waited = 0;
    while indexed("quiet").await != quiet {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
        assert!(waited < 400, "a run's worth was never indexed");
    }
    // With a short longest wait, a lone event is indexed after it.
    let short = spawn_app_with(|s| {
        s.audit_index_interval = Duration::from_millis(20);
        s.audit_index_max_wait = Duration::from_millis(200);
        s.audit_seal_interval = Duration::from_millis(20);
    })
    .await;
    let lone = put(&short, Action::UserView, Outcome::Success, &["lone"]).await;
    let mut waited = 0;
    while mama::audit::indexer::indexed_events(&short.db, "lone")
        .await
        .unwrap()
        != vec![lone]
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
        assert!(waited < 400, "the lone event was never indexed");
    }
}
