//! `/users`: list, search, sort, bulk edits, create-many, edit, reveal, CLI.
use chrono::Utc;
use mama::entities::{model, sync_job, user};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::helpers::*;

/// Adds catalogue rows (as the model refresh would).
pub async fn catalogue(app: &TestApp, models: &[(&str, bool)]) {
    for (name, available) in models {
        model::ActiveModel {
            name: Set(name.to_string()),
            available: Set(*available),
            first_seen_at: Set(Utc::now()),
            last_seen_at: Set(Some(Utc::now())),
            details: Set(None),
        }
        .insert(&app.db)
        .await
        .unwrap();
    }
}

/// Creates users through the create-many form.
pub async fn create_users(
    b: &Browser,
    lines: &str,
    models: &[&str],
    services: &[&str],
) -> reqwest::Response {
    b.page("/users/bulk/create").await;
    let mut f: Vec<(&str, &str)> = vec![("lines", lines), ("mode", "all")];
    f.extend(models.iter().map(|m| ("models", *m)));
    f.extend(services.iter().map(|s| ("services", *s)));
    b.post_form("/users/bulk/create", &f).await
}

pub async fn add_service(b: &Browser, name: &str) {
    let r = b
        .post_form("/services", &[("name", name), ("description", "")])
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
}

async fn user_row(app: &TestApp, id: &str) -> Option<user::Model> {
    mama::users::queries::find(&app.db, id).await.unwrap()
}

async fn jobs_of_batch(app: &TestApp, batch: &str) -> Vec<sync_job::Model> {
    sync_job::Entity::find()
        .filter(sync_job::Column::BatchId.eq(batch))
        .all(&app.db)
        .await
        .unwrap()
}

fn details(ev: &mama::entities::audit_event::Model) -> serde_json::Value {
    serde_json::from_str(&ev.details).unwrap()
}

fn targets(ev: &mama::entities::audit_event::Model) -> Vec<String> {
    let mut t: Vec<String> = serde_json::from_str(&ev.targets).unwrap();
    t.sort();
    t
}

async fn setup() -> (TestApp, Browser) {
    setup_with(|_| {}).await
}

/// LiteLLM configured but unreachable (a closed port): the catalogue below is the
/// last known one, so models outside it are red.
async fn setup_litellm_down() -> (TestApp, Browser) {
    setup_with(|s| {
        s.litellm = Some(mama::config::LiteLlmSettings {
            base_url: "http://127.0.0.1:9".into(),
            master_key: secrecy::SecretString::from("sk-test".to_string()),
            timeout: std::time::Duration::from_secs(1),
        });
        s.sync.worker_enabled = false;
        s.sync.models_refresh = std::time::Duration::from_secs(3600);
    })
    .await
}

async fn setup_with(tweak: impl FnOnce(&mut mama::config::Settings)) -> (TestApp, Browser) {
    let app = spawn_app_with(tweak).await;
    let b = app.super_admin().await;
    catalogue(
        &app,
        &[
            ("gpt-4o", true),
            ("gpt-4o-mini", true),
            ("old-model", false),
        ],
    )
    .await;
    (app, b)
}

#[tokio::test]
async fn the_list_searches_sorts_pages_and_records_the_users_it_shows() {
    let (app, b) = setup().await;
    let r = create_users(
        &b,
        "alice,Acme Research\nbob,Globex\ncarol,ACME Labs\ndave,Initech",
        &["gpt-4o"],
        &[],
    )
    .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());

    // Case-insensitive substring on the organisation, and on the ID.
    let r = b.get("/users?q=acme&sort=id&dir=desc").await;
    let rid = request_id(&r);
    let body = r.text().await.unwrap();
    assert!(body.contains("2 users matching"), "{body}");
    let a = body.find("data-user-id=\"alice\"").unwrap();
    let c = body.find("data-user-id=\"carol\"").unwrap();
    assert!(c < a, "descending by ID puts carol first");
    assert!(!body.contains("data-user-id=\"bob\""));
    assert!(body.contains("aria-sort=\"descending\""));
    let ev = app.event_for(&rid).await;
    assert_eq!(ev.action, "user.list");
    assert_eq!(targets(&ev), vec!["alice", "carol"]);

    // LIKE wildcards in a search are literal characters.
    let (_, body) = b.page("/users?q=%25").await;
    assert!(body.contains("No user matches"), "{body}");

    // Sort by organisation, ascending; page size 50, page 2 is empty but valid.
    let (_, body) = b.page("/users?sort=organisation&dir=asc").await;
    let order: Vec<usize> = ["carol", "alice", "bob", "dave"]
        .iter()
        .map(|u| body.find(&format!("data-user-id=\"{u}\"")).unwrap())
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "byte order: ACME L < Acme R {order:?}"
    );
    let (s, _) = b.page("/users?page=2&size=50").await;
    assert_eq!(s, 200);
    // Unknown parameters fall back to defaults instead of failing.
    let (s, _) = b.page("/users?sort=%27;DROP&dir=x&page=-1&size=7").await;
    assert_eq!(s, 200);
}

/// The IDs of the users a search shows, in page order.
async fn shown(b: &Browser, q: &str) -> Vec<String> {
    let (s, body) = b
        .page(&format!(
            "/users?sort=id&q={}",
            mama::users::forms::urlencode(q)
        ))
        .await;
    assert_eq!(s, 200, "{body}");
    body.split("data-user-id=\"")
        .skip(1)
        .map(|r| r[..r.find('"').unwrap()].to_string())
        .collect()
}

#[tokio::test]
async fn the_search_index_follows_creates_renames_and_deletes() {
    let (app, b) = setup().await;
    let r = create_users(
        &b,
        "alice,Acme Research\nbob,Globex\ncarol,ACME Labs\ndave,He said \"50%\" off",
        &[],
        &[],
    )
    .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    // Short needles scan; three characters or more use the trigram index. Both
    // ignore case and match anywhere in the ID or the organisation.
    assert_eq!(shown(&b, "ac").await, ["alice", "carol"]);
    assert_eq!(shown(&b, "cME").await, ["alice", "carol"]);
    assert_eq!(shown(&b, "ME LAB").await, ["carol"]);
    assert_eq!(shown(&b, "aro").await, ["carol"]);
    // Quotes and LIKE wildcards are literal characters.
    assert_eq!(shown(&b, "\"50%\"").await, ["dave"]);
    assert_eq!(shown(&b, "0%\"").await, ["dave"]);
    assert!(shown(&b, "a%e").await.is_empty());
    assert!(shown(&b, "acme labs x").await.is_empty());

    // A rename (bulk or in the dialog) and a delete reach the index.
    let f = [
        ("ids", "bob"),
        ("op", "organisation"),
        ("organisation", "Umbrella"),
    ];
    assert_eq!(b.post_form("/users/bulk/apply", &f).await.status(), 303);
    assert!(shown(&b, "globex").await.is_empty());
    assert_eq!(shown(&b, "umbrel").await, ["bob"]);
    let v = user_row(&app, "alice").await.unwrap().version.to_string();
    let f = [("organisation", "Initech"), ("version", v.as_str())];
    assert_eq!(b.post_form("/users/alice", &f).await.status(), 303);
    assert_eq!(shown(&b, "acme").await, ["carol"]);
    assert_eq!(shown(&b, "nitec").await, ["alice"]);
    let f = [("ids", "carol"), ("op", "delete"), ("confirm_count", "1")];
    assert_eq!(b.post_form("/users/bulk/apply", &f).await.status(), 303);
    assert!(shown(&b, "acme").await.is_empty());
    assert!(shown(&b, "carol").await.is_empty());
    // "Select all matching" uses the same search.
    let f = [
        ("all_matching", "1"),
        ("q", "nitec"),
        ("op", "organisation"),
        ("organisation", "Initech"),
    ];
    let body = b
        .post_form("/users/bulk/preview", &f)
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("<strong>1</strong> user selected"), "{body}");

    // users_search agrees with users, row for row.
    use sea_orm::ConnectionTrait;
    if app.db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        app.db
            .execute_unprepared("INSERT INTO users_search(users_search) VALUES ('integrity-check')")
            .await
            .expect("the FTS5 index matches the users table");
    } else {
        let count = |sql: &'static str| {
            let db = app.db.clone();
            async move {
                let st = sea_orm::Statement::from_string(db.get_database_backend(), sql);
                let row = db.query_one_raw(st).await.unwrap().unwrap();
                row.try_get::<i64>("", "n").unwrap()
            }
        };
        let differing = count(
            "SELECT COUNT(*) AS n FROM users u FULL JOIN users_search s ON s.id = u.id \
             WHERE s.id IS NULL OR u.id IS NULL \
             OR s.user_id <> u.user_id OR s.organisation <> u.organisation",
        );
        assert_eq!(differing.await, 0);
        let rows = count("SELECT COUNT(*) AS n FROM users_search").await;
        assert_eq!(rows, 3, "carol's row went with her");
    }
}

/// The list answers a broad search (more matches than it fetches first) by
/// walking the sort order with the row-by-row test, so both must agree.
#[tokio::test]
async fn the_indexed_and_the_row_by_row_search_find_the_same_users() {
    use mama::users::queries::{Search, stmt};
    use sea_orm::{FromQueryResult, JsonValue};
    let (app, b) = setup().await;
    let lines =
        "a1,Acme\nb-acme,Other\nc_1,He said \"50%\" off\nd1,ACME Labs\nxacmex,acm\ne1,Globex";
    assert_eq!(create_users(&b, lines, &[], &[]).await.status(), 303);
    let backend = app.db.get_database_backend();
    for q in [
        "ac", "acm", "ACME", "cme l", "\"50%\"", "0%", "_1", "c_", "-ac", "zzz", "e1",
    ] {
        let mut found = vec![];
        for s in [Search::indexed(backend, q), Search::scan(backend, q)] {
            let sql = format!(
                "SELECT user_id FROM users WHERE {} ORDER BY user_id",
                s.clause
            );
            let rows = JsonValue::find_by_statement(stmt(backend, &sql, s.values))
                .all(&app.db)
                .await
                .unwrap();
            found.push(
                rows.into_iter()
                    .map(|r| r["user_id"].to_string())
                    .collect::<Vec<_>>(),
            );
        }
        assert_eq!(found[0], found[1], "needle {q:?}");
        assert_eq!(
            found[0].is_empty(),
            q == "zzz",
            "needle {q:?} finds {:?}",
            found[0]
        );
    }
}

#[tokio::test]
async fn models_no_longer_offered_are_red_and_specials_are_badges() {
    let (app, b) = setup_litellm_down().await;
    create_users(
        &b,
        "erin,Org",
        &["old-model", "all-team-models", "gpt-4o"],
        &[],
    )
    .await;
    let (_, body) = b.page("/users").await;
    assert!(
        body.contains("title=\"LiteLLM no longer offers old-model\""),
        "{body}"
    );
    assert!(body.contains("badge badge-special"));
    assert!(!body.contains("LiteLLM no longer offers all-team-models"));
    assert!(!body.contains("LiteLLM no longer offers gpt-4o\""));
    drop(app);
}

#[tokio::test]
async fn adding_a_model_in_bulk_is_previewed_then_applied_idempotently_with_one_batch() {
    let (app, b) = setup().await;
    create_users(&b, "u1,A\nu2,A\nu3,B", &[], &[]).await;
    // u1 already has gpt-4o.
    b.page("/users/u1").await;
    let v = user_row(&app, "u1").await.unwrap().version.to_string();
    let r = b
        .post_form(
            "/users/u1",
            &[("organisation", "A"), ("models", "gpt-4o"), ("version", &v)],
        )
        .await;
    assert_eq!(r.status(), 303);
    let before_u1 = user_row(&app, "u1").await.unwrap().version;

    let sel = [
        ("ids", "u1"),
        ("ids", "u2"),
        ("ids", "u3"),
        ("op", "models.add"),
        ("models", "gpt-4o"),
    ];
    let r = b.post_form("/users/bulk/preview", &sel).await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("Add gpt-4o to 2 users. 1 user already has it."),
        "{body}"
    );
    // The preview changed nothing.
    assert!(app.models_of("u2").await.is_empty());

    let r = b.post_form("/users/bulk/apply", &sel).await;
    assert_eq!(r.status(), 303);
    let rid = request_id(&r);
    for u in ["u1", "u2", "u3"] {
        assert_eq!(app.models_of(u).await, vec!["gpt-4o"]);
    }
    assert_eq!(
        user_row(&app, "u1").await.unwrap().version,
        before_u1,
        "u1 untouched"
    );
    let ev = app.event_for(&rid).await;
    assert_eq!(ev.action, "users.bulk_update");
    assert_eq!(targets(&ev), vec!["u2", "u3"]);
    let d = details(&ev);
    assert_eq!(d["changed"], 2);
    assert_eq!(d["unchanged"], 1);
    assert!(d["before"].is_object() && d["after"].is_object());
    let batch = d["batch_id"].as_str().unwrap();
    let jobs = jobs_of_batch(&app, batch).await;
    let mut refs: Vec<_> = jobs.iter().map(|j| j.user_ref.as_str()).collect();
    refs.sort();
    assert_eq!(refs, vec!["u2", "u3"]);
    assert!(jobs.iter().all(|j| j.operation == "upsert"));

    // Again: nothing changes, no job, nothing to apply.
    let r = b.post_form("/users/bulk/apply", &sel).await;
    let ev = app.event_for(&request_id(&r)).await;
    assert_eq!(details(&ev)["changed"], 0);
    assert!(targets(&ev).is_empty());
    assert!(
        jobs_of_batch(&app, details(&ev)["batch_id"].as_str().unwrap())
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn removing_and_replacing_models_and_services_touch_only_users_that_change() {
    let (app, b) = setup().await;
    add_service(&b, "wiki").await;
    add_service(&b, "search").await;
    create_users(&b, "r1,A\nr2,A", &["gpt-4o", "gpt-4o-mini"], &["wiki"]).await;
    create_users(&b, "r3,A", &["gpt-4o-mini"], &[]).await;
    let all = [("ids", "r1"), ("ids", "r2"), ("ids", "r3")];

    let mut f = all.to_vec();
    f.extend([("op", "models.remove"), ("models", "gpt-4o")]);
    let r = b.post_form("/users/bulk/apply", &f).await;
    let ev = app.event_for(&request_id(&r)).await;
    assert_eq!(targets(&ev), vec!["r1", "r2"]);
    assert_eq!(app.models_of("r1").await, vec!["gpt-4o-mini"]);
    assert_eq!(app.models_of("r3").await, vec!["gpt-4o-mini"]);

    let mut f = all.to_vec();
    f.extend([
        ("op", "models.replace"),
        ("models", "gpt-4o,all-team-models"),
    ]);
    let r = b.post_form("/users/bulk/apply", &f).await;
    assert_eq!(r.status(), 303);
    for u in ["r1", "r2", "r3"] {
        assert_eq!(app.models_of(u).await, vec!["all-team-models", "gpt-4o"]);
    }

    let mut f = all.to_vec();
    f.extend([("op", "services.add"), ("services", "search")]);
    b.post_form("/users/bulk/apply", &f).await;
    assert_eq!(app.services_of("r3").await, vec!["search"]);
    assert_eq!(app.services_of("r1").await, vec!["search", "wiki"]);

    let mut f = all.to_vec();
    f.extend([("op", "services.remove"), ("services", "wiki")]);
    let r = b.post_form("/users/bulk/apply", &f).await;
    let ev = app.event_for(&request_id(&r)).await;
    assert_eq!(targets(&ev), vec!["r1", "r2"]);
    assert_eq!(app.services_of("r1").await, vec!["search"]);

    let mut f = all.to_vec();
    f.extend([("op", "services.replace"), ("services", "wiki")]);
    b.post_form("/users/bulk/apply", &f).await;
    for u in ["r1", "r2", "r3"] {
        assert_eq!(app.services_of(u).await, vec!["wiki"]);
    }

    // An unknown service is a field error, not a 500, and changes nothing.
    let mut f = all.to_vec();
    f.extend([("op", "services.add"), ("services", "nope")]);
    let r = b.post_form("/users/bulk/apply", &f).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("Unknown service"));
}

#[tokio::test]
async fn select_all_matching_applies_to_every_page_of_the_search() {
    let (app, b) = setup().await;
    add_service(&b, "wiki").await;
    let lines: String = (0..60).map(|i| format!("m{i:02},Match Org\n")).collect();
    create_users(&b, &lines, &[], &["wiki"]).await;
    create_users(&b, "other,Elsewhere", &[], &["wiki"]).await;
    let f = [
        ("all_matching", "1"),
        ("q", "match org"),
        ("op", "services.remove"),
        ("services", "wiki"),
    ];
    let body = b
        .post_form("/users/bulk/preview", &f)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("<strong>60</strong> users selected"),
        "{body}"
    );
    let r = b.post_form("/users/bulk/apply", &f).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/users?q=match%20org");
    assert!(app.services_of("m59").await.is_empty());
    assert_eq!(app.services_of("other").await, vec!["wiki"]);
    let ev = app.event_for(&request_id(&r)).await;
    assert_eq!(targets(&ev).len(), 60);
}

#[tokio::test]
async fn setting_the_organisation_and_rotating_keys_queue_their_jobs() {
    let (app, b) = setup().await;
    create_users(&b, "o1,Old\no2,New", &[], &[]).await;
    let f = [
        ("ids", "o1"),
        ("ids", "o2"),
        ("op", "organisation"),
        ("organisation", "New"),
    ];
    let r = b.post_form("/users/bulk/apply", &f).await;
    let ev = app.event_for(&request_id(&r)).await;
    assert_eq!(targets(&ev), vec!["o1"]);
    assert_eq!(user_row(&app, "o1").await.unwrap().organisation, "New");

    let before = user_row(&app, "o2").await.unwrap();
    let f = [("ids", "o2"), ("op", "rotate")];
    let r = b.post_form("/users/bulk/apply", &f).await;
    assert_eq!(r.status(), 303);
    let after = user_row(&app, "o2").await.unwrap();
    assert_ne!(before.key_sha256, after.key_sha256);
    let ev = app.event_for(&request_id(&r)).await;
    let jobs = jobs_of_batch(&app, details(&ev)["batch_id"].as_str().unwrap()).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].operation, "rotate");
    assert!(jobs[0].payload.contains(&before.key_sha256));
    assert!(
        !ev.details.contains(&after.key_sha256),
        "no key material in the audit"
    );
}

#[tokio::test]
async fn deleting_in_bulk_asks_for_the_count_then_deletes_and_queues_key_deletions() {
    let (app, b) = setup().await;
    create_users(&b, "d1,A\nd2,A\nkeep,A", &["gpt-4o"], &[]).await;
    let f = [("ids", "d1"), ("ids", "d2"), ("op", "delete")];
    let body = b
        .post_form("/users/bulk/preview", &f)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("Type <strong>2</strong> to confirm"),
        "{body}"
    );
    let r = b.post_form("/users/bulk/apply", &f).await;
    assert_eq!(r.status(), 422, "no confirmation, no deletion");
    assert!(user_row(&app, "d1").await.is_some());
    let mut f2 = f.to_vec();
    f2.push(("confirm_count", "3"));
    assert_eq!(b.post_form("/users/bulk/apply", &f2).await.status(), 422);
    let mut f3 = f.to_vec();
    f3.push(("confirm_count", "2"));
    let r = b.post_form("/users/bulk/apply", &f3).await;
    assert_eq!(r.status(), 303);
    assert!(user_row(&app, "d1").await.is_none());
    assert!(user_row(&app, "d2").await.is_none());
    assert!(user_row(&app, "keep").await.is_some());
    let ev = app.event_for(&request_id(&r)).await;
    assert_eq!(ev.action, "users.bulk_delete");
    assert_eq!(targets(&ev), vec!["d1", "d2"]);
    let jobs = jobs_of_batch(&app, details(&ev)["batch_id"].as_str().unwrap()).await;
    assert_eq!(jobs.len(), 2);
    assert!(jobs.iter().all(|j| j.operation == "delete"));
}

#[tokio::test]
async fn creating_many_reports_each_bad_line_and_creates_all_or_only_the_valid_ones() {
    let (app, b) = setup().await;
    create_users(&b, "taken,X", &[], &[]).await;
    let text =
        "user_id,organisation\nn1,Org\n,Org\nbad id!,Org\nn1,Dup\ntaken,Org\nn2,Ünïcødé Org\n";
    b.page("/users/bulk/create").await;
    let r = b
        .post_form(
            "/users/bulk/create/preview",
            &[("lines", text), ("models", "gpt-4o")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(body.contains("Line 3: The user ID is empty."), "{body}");
    assert!(body.contains("Line 4: The user ID has characters"));
    assert!(body.contains("Line 5: Duplicate of line 2."));
    assert!(body.contains("Line 6: A user with this ID already exists."));
    assert!(body.contains("2 valid, 4 with errors"));

    // All or none: nothing is created.
    let r = b
        .post_form(
            "/users/bulk/create",
            &[("lines", text), ("models", "gpt-4o"), ("mode", "all")],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(user_row(&app, "n1").await.is_none());
    let ev = app.event_for(&request_id(&r)).await;
    assert_eq!(ev.outcome, "invalid");

    // Valid lines only.
    let r = b
        .post_form(
            "/users/bulk/create",
            &[("lines", text), ("models", "gpt-4o"), ("mode", "valid")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        user_row(&app, "n2").await.unwrap().organisation,
        "Ünïcødé Org"
    );
    assert_eq!(app.models_of("n1").await, vec!["gpt-4o"]);
    let ev = app.event_for(&request_id(&r)).await;
    assert_eq!(ev.action, "users.bulk_create");
    assert_eq!(targets(&ev), vec!["n1", "n2"]);
    let jobs = jobs_of_batch(&app, details(&ev)["batch_id"].as_str().unwrap()).await;
    assert_eq!(jobs.len(), 2);
}

#[tokio::test]
async fn a_stale_edit_is_refused_with_the_current_values_and_overwrites_nothing() {
    let (app, b) = setup().await;
    create_users(&b, "e1,Before", &["gpt-4o"], &[]).await;
    let v = user_row(&app, "e1").await.unwrap().version.to_string();
    // Another admin saves first.
    let r = b
        .post_form(
            "/users/e1",
            &[
                ("organisation", "Theirs"),
                ("models", "gpt-4o"),
                ("version", &v),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let rid = request_id(&r);
    let ev = app.event_for(&rid).await;
    assert_eq!(ev.action, "user.update");
    let d = details(&ev);
    assert_eq!(d["before"]["organisation"], "Before");
    assert_eq!(d["after"]["organisation"], "Theirs");
    // Then the stale form arrives.
    let r = b
        .post_form(
            "/users/e1",
            &[
                ("organisation", "Mine"),
                ("models", "gpt-4o-mini"),
                ("version", &v),
            ],
        )
        .await;
    assert_eq!(r.status(), 409);
    let body = r.text().await.unwrap();
    assert!(body.contains("Your changes were NOT saved"), "{body}");
    assert!(body.contains("value=\"Theirs\""), "current values shown");
    let u = user_row(&app, "e1").await.unwrap();
    assert_eq!(u.organisation, "Theirs");
    assert_eq!(app.models_of("e1").await, vec!["gpt-4o"]);
}

#[tokio::test]
async fn revealing_a_key_is_its_own_audited_action_that_never_records_the_key() {
    let (app, b) = setup().await;
    create_users(&b, "k1,Org", &[], &[]).await;
    let (_, page) = b.page("/users/k1").await;
    assert!(!page.contains("revealed-key"));
    let r = b.post_form("/users/k1/reveal", &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let rid = request_id(&r);
    let body = r.text().await.unwrap();
    let i = body.find("id=\"revealed-key\">").unwrap() + "id=\"revealed-key\">".len();
    let key = body[i..].split('<').next().unwrap().to_string();
    assert!(key.starts_with("sk-") && key.len() > 30);
    let u = user_row(&app, "k1").await.unwrap();
    assert_eq!(mama::crypto::sha256_hex(&key), u.key_sha256);
    let ev = app.event_for(&rid).await;
    assert_eq!(ev.action, "user.key.reveal");
    assert_eq!(targets(&ev), vec!["k1"]);
    assert_eq!(ev.actor_name.as_deref(), Some("admin"));
    for e in app.events().await {
        assert!(!e.details.contains(&key) && !e.path.unwrap_or_default().contains(&key));
    }
    // GET does not reveal; a POST without the CSRF token is refused.
    assert_eq!(b.get("/users/k1/reveal").await.status(), 404);
    assert_eq!(b.post_raw("/users/k1/reveal", &[]).await.status(), 403);
}

#[tokio::test]
async fn bad_input_in_every_user_form_gets_field_messages_never_a_500_or_a_write() {
    let (app, b) = setup().await;
    create_users(&b, "x1,Org", &[], &[]).await;
    let big = "a".repeat(10_000);
    let nasty = [
        "",
        big.as_str(),
        "<script>alert(1)</script>",
        "'; DROP TABLE users; --",
        "ünïcødé 🦀",
        "a\u{0}b",
    ];
    let v = user_row(&app, "x1").await.unwrap().version.to_string();
    for s in nasty {
        // Edit: organisation, alias, models, version.
        for field in ["organisation", "key_alias", "models", "version", "extra"] {
            let mut f = vec![("organisation", "Org"), ("version", v.as_str())];
            f.retain(|(k, _)| *k != field);
            f.push((field, s));
            let r = b.post_form("/users/x1", &f).await;
            let st = r.status().as_u16();
            let body = r.text().await.unwrap();
            assert!(matches!(st, 303 | 409 | 422), "{field}={s:.20}: {st}");
            assert!(!body.contains("<script>alert"), "escaped");
        }
        // Bulk: ops and values.
        for (op, field) in [
            ("models.add", "models"),
            ("services.add", "services"),
            ("organisation", "organisation"),
            (s, "op"),
        ] {
            let mut f = vec![("ids", "x1"), ("op", op)];
            if field != "op" {
                f.push((field, s));
            }
            let r = b.post_form("/users/bulk/apply", &f).await;
            let st = r.status().as_u16();
            assert!(st == 303 || st == 422, "bulk {op} {field}={s:.20}: {st}");
        }
        let r = b
            .post_form("/users/bulk/apply", &[("ids", s), ("op", "rotate")])
            .await;
        assert_eq!(r.status(), 422, "unknown ids {s:.20}");
        // Create many.
        let r = b
            .post_form("/users/bulk/create", &[("lines", s), ("mode", "all")])
            .await;
        assert_eq!(r.status(), 422, "create {s:.20}");
    }
    // The organisation may be unicode; the user was never half-written.
    let u = user_row(&app, "x1").await.unwrap();
    assert!(u.organisation.chars().count() <= 128);
    assert!(!u.organisation.contains('\u{0}'));
    assert_eq!(
        user::Entity::find().all(&app.db).await.unwrap().len(),
        1,
        "no user created by bad input"
    );
}

#[tokio::test]
async fn auditors_can_neither_see_nor_change_users() {
    let (app, sa) = setup().await;
    create_users(&sa, "z1,Org", &[], &[]).await;
    let aud = app
        .account(&sa, &format!("aud{}", rand_suffix()), "auditor")
        .await;
    aud.page("/audit").await;
    assert_eq!(aud.get("/users/z1").await.status(), 403);
    let r = aud
        .post_form(
            "/users/bulk/apply",
            &[("ids", "z1"), ("op", "delete"), ("confirm_count", "1")],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(aud.post_form("/users/z1/reveal", &[]).await.status(), 403);
    assert!(user_row(&app, "z1").await.is_some());
    let ev = app.event_for(&request_id(&r)).await;
    assert_eq!(ev.action, "users.bulk_delete");
    assert_eq!(ev.outcome, "denied");
}

#[tokio::test]
async fn the_cli_imports_all_or_nothing_and_exports_without_keys() {
    let (app, b) = setup().await;
    add_service(&b, "wiki").await;
    let cipher = mama::crypto::KeyCipher::new(&secrecy::SecretBox::new(Box::new([7u8; 32])));
    let mut out = vec![];
    let code = mama::users::cli::import(
        &app.db,
        &cipher,
        "user_id,organisation\ncli1,Org\n,Org\n",
        "gpt-4o",
        "wiki",
        false,
        &mut out,
    )
    .await
    .unwrap();
    assert_eq!(code, 1);
    assert!(String::from_utf8_lossy(&out).contains("line 3: The user ID is empty."));
    assert!(user_row(&app, "cli1").await.is_none());

    let mut out = vec![];
    let code = mama::users::cli::import(
        &app.db,
        &cipher,
        "cli1,Org\n",
        "gpt-4o",
        "wiki",
        true,
        &mut out,
    )
    .await
    .unwrap();
    assert_eq!(code, 0);
    assert!(
        user_row(&app, "cli1").await.is_none(),
        "dry run writes nothing"
    );

    let code = mama::users::cli::import(
        &app.db,
        &cipher,
        "cli1,Org\ncli2,\"Org, Inc\"\n",
        "gpt-4o",
        "wiki",
        false,
        &mut out,
    )
    .await
    .unwrap();
    assert_eq!(code, 0);
    assert_eq!(app.models_of("cli2").await, vec!["gpt-4o"]);
    assert_eq!(app.services_of("cli2").await, vec!["wiki"]);
    assert_eq!(
        user_row(&app, "cli2").await.unwrap().organisation,
        "Org, Inc"
    );
    let ev = app
        .events()
        .await
        .into_iter()
        .find(|e| e.action == "users.import")
        .unwrap();
    assert_eq!(ev.actor_kind, "system");
    assert_eq!(targets(&ev), vec!["cli1", "cli2"]);
    let jobs = jobs_of_batch(&app, details(&ev)["batch_id"].as_str().unwrap()).await;
    assert_eq!(jobs.len(), 2);

    let mut csv = vec![];
    let n = mama::users::cli::export(&app.db, &mut csv).await.unwrap();
    assert_eq!(n, 2);
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.contains("cli2,\"Org, Inc\","), "{csv}");
    for u in user::Entity::find().all(&app.db).await.unwrap() {
        assert!(!csv.contains(&u.key_ciphertext) && !csv.contains(&u.key_sha256));
    }
    assert!(!csv.contains("sk-"), "never a key");
    assert!(
        app.events()
            .await
            .iter()
            .any(|e| e.action == "users.export")
    );
}

/// `mama users export` of `app`, as text.
async fn export_csv(app: &TestApp) -> String {
    let mut out = vec![];
    mama::users::cli::export(&app.db, &mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

/// The export without the columns an import cannot carry over (a new key's
/// hint, the time of the write).
fn carried(csv: &str) -> Vec<Vec<String>> {
    csv.lines()
        .map(|l| {
            // No field of these users holds a comma outside quotes but `org`,
            // which is quoted: split on commas outside quotes.
            let mut cells = vec![];
            let (mut cur, mut q) = (String::new(), false);
            for c in l.chars() {
                match c {
                    '"' => {
                        q = !q;
                        cur.push(c)
                    }
                    ',' if !q => cells.push(std::mem::take(&mut cur)),
                    c => cur.push(c),
                }
            }
            cells.push(cur);
            cells
                .into_iter()
                .enumerate()
                .filter(|(i, _)| ![2, 7].contains(i))
                .map(|(_, c)| c)
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn an_export_imports_back_with_its_limits_and_empty_cells_are_no_limit() {
    use mama::users::{limits::Limits, service::NewUser};
    let (app, _b) = setup().await;
    let cipher = mama::crypto::KeyCipher::new(&secrecy::SecretBox::new(Box::new([7u8; 32])));
    let full = Limits {
        max_budget: Some(0.000001),
        budget_duration: Some("30d".into()),
        rpm_limit: Some(42),
        tpm_limit: Some(1_000_000),
        expires_at: Some("2031-01-31T14:59:59.123Z".parse().unwrap()),
        blocked: true,
    };
    let half = Limits {
        max_budget: Some(1234.5678),
        budget_duration: Some("7d".into()),
        ..Default::default()
    };
    let txn = mama::db::begin_write(&app.db).await.unwrap();
    mama::users::service::create_users(
        &txn,
        &cipher,
        [
            ("rt-full", "Org", full),
            ("rt-half", "+cmd, Inc", half),
            ("rt-none", "Plain", Limits::default()),
        ]
        .into_iter()
        .map(|(id, org, limits)| NewUser {
            user_id: id.into(),
            organisation: org.into(),
            limits,
            ..Default::default()
        })
        .collect(),
        None,
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    let first = export_csv(&app).await;
    assert!(first.contains(",,,,,false,"), "empty cells: {first}");

    let (other, _) = setup().await;
    let mut out = vec![];
    let code = mama::users::cli::import(&other.db, &cipher, &first, "", "", false, &mut out)
        .await
        .unwrap();
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&out));
    let second = export_csv(&other).await;
    assert_eq!(carried(&second), carried(&first), "{first}\n{second}");
    let none = user_row(&other, "rt-none").await.unwrap();
    assert_eq!(
        (
            none.max_budget,
            none.rpm_limit,
            none.expires_at,
            none.blocked
        ),
        (None, None, None, false)
    );
    let full = user_row(&other, "rt-full").await.unwrap();
    assert_eq!(full.max_budget, Some(0.000001));
    assert!(full.blocked);
}

#[tokio::test]
async fn an_import_with_a_bad_limit_cell_names_its_line_and_column_and_writes_nothing() {
    let (app, _b) = setup().await;
    let cipher = mama::crypto::KeyCipher::new(&secrecy::SecretBox::new(Box::new([7u8; 32])));
    let csv = "user_id,organisation,max_budget,budget_duration,rpm_limit,tpm_limit,expires_at,blocked,spend\n\
               ok1,Org,50,30d,60,,2031-01-31,false,12.5\n\
               bad1,Org,-1,2d,,,,,\n\
               bad2,Org,,,1.5,0,31/01/2031,maybe,\n";
    let mut out = vec![];
    let code = mama::users::cli::import(&app.db, &cipher, csv, "", "", false, &mut out)
        .await
        .unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, 1, "{out}");
    for want in [
        "line 3, column 3 (max_budget): Budget (USD) cannot be negative.",
        "line 3, column 4 (budget_duration): Budget resets: choose daily, weekly or monthly.",
        "line 4, column 5 (rpm_limit): Requests per minute must be a whole number.",
        "line 4, column 6 (tpm_limit): Tokens per minute must be at least 1.",
        "line 4, column 7 (expires_at): Key expires on: use a date",
        "line 4, column 8 (blocked): Key blocked must be true or false.",
        "2 of 3 lines have errors; nothing was written",
    ] {
        assert!(out.contains(want), "{want:?} missing in:\n{out}");
    }
    assert!(user_row(&app, "ok1").await.is_none(), "nothing written");
    // An unknown column is refused by name, before anything else.
    let mut out = vec![];
    let code = mama::users::cli::import(
        &app.db,
        &cipher,
        "user_id,organisation,budget\nx1,Org,5\n",
        "",
        "",
        false,
        &mut out,
    )
    .await
    .unwrap();
    assert_eq!(code, 1);
    assert!(
        String::from_utf8_lossy(&out).contains("line 1, column 3: unknown column \"budget\""),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(user_row(&app, "x1").await.is_none());
    // The same file without its bad lines is imported, limits and all.
    let good: String = csv.lines().take(2).map(|l| format!("{l}\n")).collect();
    let mut out = vec![];
    let code = mama::users::cli::import(&app.db, &cipher, &good, "", "", false, &mut out)
        .await
        .unwrap();
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&out));
    let u = user_row(&app, "ok1").await.unwrap();
    assert_eq!(
        (u.max_budget, u.rpm_limit, u.tpm_limit),
        (Some(50.0), Some(60), None)
    );
    assert_eq!(u.budget_duration.as_deref(), Some("30d"));
    assert_eq!(
        u.expires_at.unwrap().to_rfc3339(),
        "2031-01-31T23:59:59+00:00",
        "a date is the end of that day, UTC"
    );
}
