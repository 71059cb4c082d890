//! `/users` sorted by every column: the same order as the expressions the list
//! used before the sort indexes (NULLs last where they were, ties broken by ID,
//! both directions, across pages), and the stored grant counts the models and
//! services sorts read stay exact after every kind of change.
use mama::users::forms::SortKey;
use sea_orm::{ConnectionTrait, Statement};

use crate::helpers::*;
use crate::users::{add_service, catalogue, create_users};

async fn ids_of(app: &TestApp, sql: &str) -> Vec<String> {
    app.db
        .query_all_raw(Statement::from_string(
            app.db.get_database_backend(),
            sql.to_string(),
        ))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| r.try_get::<String>("", "user_id").unwrap())
        .collect()
}

/// Users whose stored counts differ from their grant rows.
async fn miscounted(app: &TestApp) -> Vec<String> {
    ids_of(
        app,
        "SELECT users.user_id FROM users LEFT JOIN user_grant_counts c ON c.id = users.id WHERE \
         c.id IS NULL OR c.user_id <> users.user_id \
         OR c.model_count <> (SELECT COUNT(*) FROM user_models um WHERE um.user_id = users.id) \
         OR c.service_count <> (SELECT COUNT(*) FROM user_services us WHERE us.user_id = users.id)",
    )
    .await
}

/// The users holding exactly `n` models by the stored count.
async fn with_model_count(app: &TestApp, n: i32) -> Vec<String> {
    ids_of(
        app,
        &format!("SELECT user_id FROM user_grant_counts WHERE model_count = {n} ORDER BY user_id"),
    )
    .await
}

/// The order by the expressions `/users` sorted with before the counts and
/// indexes (commit 4d1c9d0), computed by the database.
fn old_order(k: SortKey, desc: bool, filter: &str) -> String {
    let expr = match k {
        SortKey::Id => "users.user_id",
        SortKey::Organisation => "users.organisation",
        SortKey::Key => "users.key_hint",
        SortKey::Alias => "users.key_alias",
        SortKey::Models => "(SELECT COUNT(*) FROM user_models um WHERE um.user_id = users.id)",
        SortKey::Services => "(SELECT COUNT(*) FROM user_services us WHERE us.user_id = users.id)",
        SortKey::Spend => "COALESCE(users.spend, 0)",
        SortKey::Budget => "users.max_budget",
        SortKey::Share => {
            "(CASE WHEN users.max_budget > 0 THEN COALESCE(users.spend, 0) / users.max_budget END)"
        }
        SortKey::Sync => "users.sync_state",
        SortKey::Updated => "users.updated_at",
    };
    let nulls = match k {
        SortKey::Alias => "(users.key_alias IS NULL) ASC, ",
        SortKey::Budget | SortKey::Share => "(users.max_budget IS NULL) ASC, ",
        _ => "",
    };
    let dir = if desc { "DESC" } else { "ASC" };
    format!(
        "SELECT users.user_id FROM users WHERE {filter} \
         ORDER BY {nulls}{expr} {dir}, users.user_id {dir}"
    )
}

/// The IDs `/users` shows for `query`, page after page of 50.
async fn shown(b: &Browser, query: &str) -> Vec<String> {
    let mut out = vec![];
    for page in 1.. {
        let (s, body) = b.page(&format!("/users?{query}&size=50&page={page}")).await;
        assert_eq!(s, 200, "{query}: {body}");
        let ids: Vec<String> = body
            .split("data-user-id=\"")
            .skip(1)
            .map(|r| r[..r.find('"').unwrap()].to_string())
            .collect();
        if ids.is_empty() {
            break;
        }
        out.extend(ids);
    }
    out
}

fn ids(range: std::ops::Range<usize>) -> Vec<(&'static str, String)> {
    range.map(|i| ("ids", format!("su-{i:03}"))).collect()
}

async fn apply(b: &Browser, sel: Vec<(&'static str, String)>, fields: &[(&str, &str)]) {
    let mut f: Vec<(&str, &str)> = sel.iter().map(|(k, v)| (*k, v.as_str())).collect();
    f.extend_from_slice(fields);
    let r = b.post_form("/users/bulk/apply", &f).await;
    assert_eq!(r.status(), 303, "{fields:?}: {}", r.text().await.unwrap());
}

#[tokio::test]
async fn sorting_by_every_column_keeps_the_old_order_and_the_grant_counts_stay_exact() {
    let app = spawn_app().await;
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
    add_service(&b, "wiki").await;
    add_service(&b, "search").await;
    let lines = |r: std::ops::Range<usize>| {
        r.map(|i| format!("su-{i:03},Org {}", i % 4))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for (range, models, services) in [
        (0..50, &["gpt-4o"][..], &["wiki"][..]),
        (50..100, &["gpt-4o", "gpt-4o-mini"][..], &[][..]),
        (100..150, &[][..], &["wiki", "search"][..]),
    ] {
        let r = create_users(&b, &lines(range), models, services).await;
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    }
    assert!(miscounted(&app).await.is_empty());
    assert_eq!(with_model_count(&app, 2).await.len(), 50, "created with 2");
    assert_eq!(
        with_model_count(&app, 0).await.len(),
        50,
        "created with none"
    );

    // Bulk add, remove and replace of models and services.
    apply(
        &b,
        ids(40..60),
        &[("op", "models.add"), ("models", "old-model")],
    )
    .await;
    assert!(miscounted(&app).await.is_empty(), "after a bulk add");
    assert_eq!(with_model_count(&app, 3).await.len(), 10, "su-050 … su-059");
    apply(
        &b,
        ids(45..52),
        &[("op", "models.remove"), ("models", "gpt-4o")],
    )
    .await;
    assert!(miscounted(&app).await.is_empty(), "after a bulk remove");
    apply(
        &b,
        ids(120..126),
        &[
            ("op", "models.replace"),
            ("models", "gpt-4o-mini,old-model"),
        ],
    )
    .await;
    assert!(miscounted(&app).await.is_empty(), "after a bulk replace");
    apply(
        &b,
        ids(0..10),
        &[("op", "services.add"), ("services", "search")],
    )
    .await;
    apply(
        &b,
        ids(0..5),
        &[("op", "services.remove"), ("services", "wiki")],
    )
    .await;
    apply(
        &b,
        ids(130..133),
        &[("op", "services.replace"), ("services", "wiki")],
    )
    .await;
    assert!(
        miscounted(&app).await.is_empty(),
        "after bulk service edits"
    );

    // The edit dialog.
    let v = app.user("su-070").await.version.to_string();
    let r = b
        .post_form(
            "/users/su-070",
            &[
                ("organisation", "Org 2"),
                ("models", "gpt-4o"),
                ("models", "gpt-4o-mini"),
                ("models", "old-model"),
                ("models", "all-team-models"),
                ("services", "wiki"),
                ("services", "search"),
                ("version", &v),
            ],
        )
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    assert_eq!(with_model_count(&app, 4).await, ["su-070"]);
    assert!(miscounted(&app).await.is_empty(), "after a dialog edit");

    // A user deleted (its grants go with it).
    apply(
        &b,
        ids(149..150),
        &[("op", "delete"), ("confirm_count", "1")],
    )
    .await;
    assert!(miscounted(&app).await.is_empty(), "after a delete");

    // A service in use cannot be deleted; once nobody holds it, it can.
    let search = mama::users::queries::services(&app.db)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.name == "search")
        .unwrap();
    let path = format!("/services/{}/delete", search.id);
    assert_eq!(b.post_form(&path, &[]).await.status(), 409);
    assert!(miscounted(&app).await.is_empty());
    apply(
        &b,
        ids(0..149),
        &[("op", "services.remove"), ("services", "search")],
    )
    .await;
    assert_eq!(b.post_form(&path, &[]).await.status(), 303);
    assert!(miscounted(&app).await.is_empty(), "after a service delete");
    let max: Vec<String> = ids_of(
        &app,
        "SELECT user_id FROM user_grant_counts WHERE service_count = 1 ORDER BY user_id",
    )
    .await;
    assert!(max.len() > 10, "services still counted: {max:?}");

    // A changed user ID reaches the counts' copy of it (the tie-break).
    app.sql("UPDATE users SET user_id = 'su-148-renamed' WHERE user_id = 'su-148'")
        .await;
    assert!(miscounted(&app).await.is_empty(), "after a rename");
    assert_eq!(
        ids_of(
            &app,
            "SELECT user_id FROM user_grant_counts WHERE user_id LIKE '%renamed'"
        )
        .await,
        ["su-148-renamed"]
    );
    app.sql("UPDATE users SET user_id = 'su-148' WHERE user_id = 'su-148-renamed'")
        .await;

    // Aliases (mostly unset), budgets (unset, zero, ties), spend (unset, zero,
    // ties) for the NULL and tie rules of alias, budget, spend and share.
    for i in 0..149 {
        // Few aliases, many users without one; many budgets, fewer without: so
        // each side of the two-walk read is both shorter and longer than a page.
        let alias = if i % 8 != 0 {
            "NULL".to_string()
        } else {
            format!("'al-{:03}'", (i * 7) % 150)
        };
        let budget = match (i % 3, (i / 3) % 3) {
            (0, _) => "NULL".to_string(),
            (_, 0) => "0".to_string(),
            (_, 1) => "10.0".to_string(),
            _ => format!("{}", (i % 5) as f64 * 2.5),
        };
        let spend = if i % 5 == 0 {
            "NULL".to_string()
        } else {
            format!("{}", (i % 3) as f64)
        };
        app.sql(&format!(
            "UPDATE users SET key_alias = {alias}, max_budget = {budget}, spend = {spend} \
             WHERE user_id = 'su-{i:03}'"
        ))
        .await;
    }

    // Every column, both directions: all users over two pages (the walk of
    // the sort order), "unused for a day" (the walk with a filter), and a
    // narrow search (its matches fetched, then sorted).
    for k in SortKey::ALL {
        for desc in [false, true] {
            let dir = if desc { "desc" } else { "asc" };
            let key = k.as_str();
            let all = ids_of(&app, &old_order(k, desc, "1 = 1")).await;
            assert_eq!(all.len(), 149);
            assert_eq!(
                shown(&b, &format!("sort={key}&dir={dir}")).await,
                all,
                "sort={key}&dir={dir}"
            );
            assert_eq!(
                shown(&b, &format!("sort={key}&dir={dir}&unused=1")).await,
                all,
                "unused, sort={key}&dir={dir}"
            );
            let some = ids_of(&app, &old_order(k, desc, "users.user_id LIKE 'su-10%'")).await;
            assert_eq!(some.len(), 10);
            assert_eq!(
                shown(&b, &format!("q=su-10&sort={key}&dir={dir}")).await,
                some,
                "q=su-10&sort={key}&dir={dir}"
            );
        }
    }
}
