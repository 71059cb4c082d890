//! Budgets, limits, spend and key lifecycle: contract tests against the real
//! proxy (`MAMA_TEST_LITELLM_URL`, whose models answer with `mock_response` and
//! have prices), and the pages and API that carry the limits.
use std::time::{Duration, Instant};

use mama::{
    api_clients::Scope,
    entities::{audit_event, user},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::{
    api::{ApiApp, spawn_api_app},
    helpers::*,
    litellm::{drain, fast_sync, litellm_info, peer},
};

async fn app(base: &str, master: &str, spend_refresh: Duration) -> ApiApp {
    spawn_api_app(|s| {
        fast_sync(s, base, master, Duration::from_secs(15));
        s.sync.spend_refresh = spend_refresh;
    })
    .await
}

async fn find(a: &ApiApp, user_id: &str) -> user::Model {
    user::Entity::find()
        .filter(user::Column::UserId.eq(user_id))
        .one(&a.app.db)
        .await
        .unwrap()
        .expect("user exists")
}

/// One chat completion through the proxy with `key`: (status, body).
async fn complete(base: &str, key: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// Polls `f` every 250 ms until it answers `Some`, or panics after `within`.
async fn eventually<T, F, Fut>(within: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn edit_fields<'a>(version: &'a str, extra: &'a [(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("organisation", "Budget Lab"),
        ("key_alias", ""),
        ("models", "gpt-4o-mini"),
        ("extra", ""),
        ("version", version),
    ];
    f.extend_from_slice(extra);
    f
}

#[tokio::test]
async fn limits_set_in_the_edit_dialog_appear_exactly_in_litellm_and_are_audited_before_and_after()
{
    let Some((base, master)) = peer() else { return };
    let a = app(&base, &master, Duration::ZERO).await;
    let id = format!("bud-{}", rand_suffix());
    a.user(&id, &["gpt-4o-mini"], &[]).await;
    drain(&a.app).await;
    let b = a.app.super_admin().await;
    b.page(&format!("/users/{id}")).await;
    let r = b
        .post_form(
            &format!("/users/{id}"),
            &edit_fields(
                "1",
                &[
                    ("max_budget", "12.5"),
                    ("budget_duration", "7d"),
                    ("rpm_limit", "42"),
                    ("tpm_limit", "4200"),
                    ("expires_at", "2031-01-31T12:00"),
                ],
            ),
        )
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    drain(&a.app).await;
    let u = find(&a, &id).await;
    assert_eq!(u.max_budget, Some(12.5));
    assert_eq!(u.budget_duration.as_deref(), Some("7d"));
    assert_eq!((u.rpm_limit, u.tpm_limit), (Some(42), Some(4200)));
    // The admin's time zone is Asia/Seoul (UTC+9) by default.
    let want_exp = chrono::DateTime::parse_from_rfc3339("2031-01-31T03:00:00Z").unwrap();
    assert_eq!(u.expires_at.unwrap(), want_exp);
    assert!(!u.blocked);
    let info = litellm_info(&base, &master, &u.key_sha256).await.unwrap();
    assert_eq!(info["max_budget"], json!(12.5));
    assert_eq!(info["budget_duration"], "7d");
    assert_eq!(info["rpm_limit"], 42);
    assert_eq!(info["tpm_limit"], 4200);
    assert_ne!(info["blocked"], json!(true));
    let exp = chrono::DateTime::parse_from_rfc3339(info["expires"].as_str().unwrap()).unwrap();
    // LiteLLM takes an expiry only as a duration from the moment of the call.
    assert!(
        (exp - want_exp).num_seconds().abs() <= 120,
        "LiteLLM's expiry {exp} is not mama's {want_exp}"
    );
    // The models and metadata travelled with the limits (nothing replaced away).
    assert_eq!(info["models"], json!(["gpt-4o-mini"]));
    assert_eq!(info["metadata"]["organisation"], "Budget Lab");

    // Audited with before and after, under LiteLLM's names.
    let ev = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("user.update"))
        .order_by_desc(audit_event::Column::Id)
        .one(&a.app.db)
        .await
        .unwrap()
        .unwrap();
    let d: Value = serde_json::from_str(&ev.details).unwrap();
    assert_eq!(d["before"]["max_budget"], Value::Null);
    assert_eq!(d["after"]["max_budget"], json!(12.5));
    assert_eq!(d["after"]["rpm_limit"], 42);
    assert_eq!(d["after"]["budget_duration"], "7d");

    // Clearing sends nulls, which LiteLLM applies (`/key/update` replaces).
    let r = b
        .post_form(
            &format!("/users/{id}"),
            &edit_fields("2", &[("budget_duration", "7d")]),
        )
        .await;
    assert_eq!(r.status(), 303);
    drain(&a.app).await;
    let info = litellm_info(&base, &master, &u.key_sha256).await.unwrap();
    assert_eq!(info["max_budget"], Value::Null);
    assert_eq!(info["rpm_limit"], Value::Null);
    assert_eq!(info["tpm_limit"], Value::Null);
    assert_eq!(info["expires"], Value::Null);
}

#[tokio::test]
async fn bad_limits_get_a_message_naming_the_field_in_both_languages_and_change_nothing() {
    let a = spawn_api_app(|_| {}).await;
    let id = format!("bad-{}", rand_suffix());
    a.user(&id, &[], &[]).await;
    let b = a.app.super_admin().await;
    b.page(&format!("/users/{id}")).await;
    let r = b
        .post_form(
            &format!("/users/{id}"),
            &edit_fields(
                "1",
                &[
                    ("max_budget", "-3"),
                    ("budget_duration", "2d"),
                    ("rpm_limit", "1.5"),
                    ("tpm_limit", "0"),
                    ("expires_at", "31/01/2031"),
                ],
            ),
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    for (id_, text) in [
        ("max_budget-error", "Budget (USD) cannot be negative."),
        ("budget_duration-error", "choose daily, weekly or monthly"),
        (
            "rpm_limit-error",
            "Requests per minute must be a whole number.",
        ),
        ("tpm_limit-error", "Tokens per minute must be at least 1."),
        ("expires_at-error", "Key expires on"),
    ] {
        assert!(html.contains(id_), "no {id_}");
        assert!(html.contains(text), "no “{text}”");
    }
    // Korean, the same errors.
    b.post_form(
        "/account",
        &[("language", "ko"), ("time_zone", "Asia/Seoul")],
    )
    .await;
    let r = b
        .post_form(
            &format!("/users/{id}"),
            &edit_fields("1", &[("max_budget", "abc")]),
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("예산 (달러) 항목은 숫자여야 합니다."),
        "no Korean message"
    );
    let u = find(&a, &id).await;
    assert_eq!((u.version, u.max_budget), (1, None));
    // The API names the field too, and writes nothing.
    let (_, token) = a.client(&[Scope::UsersWrite], None).await;
    let r = a
        .http
        .patch(format!("{}/api/v1/users/{id}", a.app.addr))
        .bearer_auth(&token)
        .json(&json!({"max_budget": "lots", "rpm_limit": -1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    let fields = &body["error"]["details"]["fields"];
    assert!(fields.get("max_budget").is_some(), "{body}");
    assert!(fields.get("rpm_limit").is_some(), "{body}");
    assert_eq!(find(&a, &id).await.version, 1);
    // The lookup's limits and spend are documented in the OpenAPI document.
    let doc: Value = a
        .http
        .get(format!("{}/api/v1/openapi.json", a.app.addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let props = &doc["components"]["schemas"]["UserKey"]["properties"];
    for f in [
        "max_budget",
        "budget_duration",
        "rpm_limit",
        "tpm_limit",
        "spend",
        "blocked",
        "expires_at",
    ] {
        assert!(
            props.get(f).is_some(),
            "UserKey lacks {f} in the OpenAPI document"
        );
    }
}

#[tokio::test]
async fn a_blocked_key_is_refused_by_the_proxy_and_works_again_after_unblock() {
    let Some((base, master)) = peer() else { return };
    let a = app(&base, &master, Duration::ZERO).await;
    let id = format!("blk-{}", rand_suffix());
    a.user(&id, &["gpt-4o-mini"], &[]).await;
    drain(&a.app).await;
    let key = a.key_of(&id).await;
    let (s, body) = complete(&base, &key).await;
    assert_eq!(s, 200, "{body}");

    let b = a.app.super_admin().await;
    b.page("/users").await;
    let r = b
        .post_form("/users/bulk/preview", &[("op", "block"), ("ids", &id)])
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Block the keys of 1 user"));
    let r = b
        .post_form("/users/bulk/apply", &[("op", "block"), ("ids", &id)])
        .await;
    assert_eq!(r.status(), 303);
    drain(&a.app).await;
    let u = find(&a, &id).await;
    assert!(u.blocked);
    assert_eq!(
        litellm_info(&base, &master, &u.key_sha256).await.unwrap()["blocked"],
        true
    );
    // The block went through LiteLLM's own endpoint (recorded like every call).
    let calls = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("litellm.key.block"))
        .all(&a.app.db)
        .await
        .unwrap();
    assert_eq!(calls.len(), 1);
    let (s, body) = complete(&base, &key).await;
    assert_eq!(s, 401, "a blocked key was served: {body}");
    assert!(body.to_string().contains("blocked"), "{body}");
    // /users marks it.
    let (_, html) = b.page(&format!("/users?q={id}")).await;
    assert!(html.contains("key-blocked"));

    let r = b
        .post_form("/users/bulk/apply", &[("op", "unblock"), ("ids", &id)])
        .await;
    assert_eq!(r.status(), 303);
    drain(&a.app).await;
    assert!(!find(&a, &id).await.blocked);
    let (s, body) = complete(&base, &key).await;
    assert_eq!(s, 200, "the unblocked key is still refused: {body}");
}

#[tokio::test]
async fn a_budget_of_a_millionth_of_a_dollar_is_exceeded_after_one_completion_and_the_next_is_refused()
 {
    let Some((base, master)) = peer() else { return };
    let a = app(&base, &master, Duration::ZERO).await;
    let (_, token) = a.client(&[Scope::UsersWrite], None).await;
    let id = format!("tiny-{}", rand_suffix());
    // Through the provisioning API, LiteLLM's field names.
    let r = a
        .http
        .post(format!("{}/api/v1/users", a.app.addr))
        .bearer_auth(&token)
        .header("Idempotency-Key", rand_suffix())
        .json(&json!({"users": [{"user_id": id, "models": ["gpt-4o-mini"],
            "max_budget": 0.000001, "budget_duration": "30d", "rpm_limit": 100}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    drain(&a.app).await;
    let u = find(&a, &id).await;
    let info = litellm_info(&base, &master, &u.key_sha256).await.unwrap();
    assert_eq!(info["max_budget"], json!(0.000001));
    assert_eq!(info["rpm_limit"], 100);
    let key = a.key_of(&id).await;
    let (s, body) = complete(&base, &key).await;
    assert_eq!(s, 200, "the first completion is within budget: {body}");
    // The proxy counts the spend in its cached key object, at once or nearly.
    let refused = eventually(Duration::from_secs(20), "the budget refusal", || {
        let (base, key) = (base.clone(), key.clone());
        async move {
            let (s, body) = complete(&base, &key).await;
            (s != 200).then_some((s, body))
        }
    })
    .await;
    assert_eq!(refused.0, 400, "{}", refused.1);
    assert!(
        refused.1.to_string().contains("Budget has been exceeded"),
        "{}",
        refused.1
    );
}

#[tokio::test]
async fn spend_through_the_proxy_appears_on_users_and_in_the_lookup_within_one_refresh_interval() {
    let Some((base, master)) = peer() else { return };
    let interval = Duration::from_secs(2);
    let a = app(&base, &master, interval).await;
    let id = format!("spend-{}", rand_suffix());
    a.user(&id, &["gpt-4o-mini"], &[]).await;
    drain(&a.app).await;
    let u = find(&a, &id).await;
    assert_eq!(u.spend, None, "no spend is known before the key was used");
    let key = a.key_of(&id).await;
    // One completion: LiteLLM writes spend to its database in batches, and the
    // spends of several could land in two, so the first seen might not be the
    // last. From the moment it reports it, mama has it within one refresh
    // interval (plus the call).
    let (s, body) = complete(&base, &key).await;
    assert_eq!(s, 200, "{body}");
    let spend = eventually(Duration::from_secs(60), "LiteLLM to record spend", || {
        let (base, master, h) = (base.clone(), master.clone(), u.key_sha256.clone());
        async move {
            let info = litellm_info(&base, &master, &h).await?;
            info["spend"].as_f64().filter(|s| *s > 0.0)
        }
    })
    .await;
    let seen_at = Instant::now();
    let stored = eventually(Duration::from_secs(30), "mama to read the spend", || {
        let a = &a;
        let id = id.clone();
        async move { find(a, &id).await.spend.filter(|s| *s >= spend) }
    })
    .await;
    let took = seen_at.elapsed();
    // One interval, plus the refresh's own calls on a loaded machine.
    assert!(
        took <= interval + Duration::from_secs(2),
        "spend reached mama {took:?} after LiteLLM had it (interval {interval:?})"
    );
    assert!((stored - spend).abs() < 1e-12);
    let u = find(&a, &id).await;
    assert!(u.last_active_at.is_some(), "LiteLLM reports last_active");

    // The lookup API returns it with the limits, in one call.
    let (_, token) = a.client(&[Scope::KeysRead], None).await;
    let r = a
        .http
        .post(format!("{}/api/v1/keys/lookup", a.app.addr))
        .bearer_auth(&token)
        .json(&json!({"user_ids": [id]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let one = &body["users"][0];
    assert_eq!(one["spend"].as_f64(), Some(stored));
    for f in [
        "max_budget",
        "budget_duration",
        "rpm_limit",
        "tpm_limit",
        "blocked",
        "expires_at",
    ] {
        assert!(one.get(f).is_some(), "lookup lacks {f}: {one}");
    }
    assert_eq!(one["blocked"], false);

    // /users shows it; a budget the spend fills to 80 % or more is marked.
    let b = a.app.super_admin().await;
    b.page("/users").await;
    let budget = format!("{:.8}", stored / 0.9);
    let r = b
        .post_form(
            "/users/bulk/apply",
            &[
                ("op", "max_budget.set"),
                ("limit_value", &budget),
                ("ids", &id),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let (_, html) = b.page(&format!("/users?q={id}")).await;
    assert!(html.contains("budget-warn"), "no ≥ 80 % mark");
    let b_: f64 = budget.parse().unwrap();
    let share = format!("{}%", (stored / b_ * 100.0).floor() as i64);
    assert!(html.contains(&share), "the share used ({share}) is shown");
    assert!(html.contains(&mama::users::limits::fmt_usd(stored)));
    // Sorted by share, the user at 90 % comes before one without a budget.
    let other = format!("spend-z-{}", rand_suffix());
    a.user(&other, &[], &[]).await;
    let (_, html) = b.page("/users?sort=share&dir=desc").await;
    let (i, j) = (html.find(&id).unwrap(), html.find(&other).unwrap());
    assert!(i < j, "the user with a budget sorts first");
    // "Unused for 1 day" shows the never-used user only.
    let (_, html) = b.page("/users?unused=1").await;
    assert!(html.contains(&other) && !html.contains(&format!(">{id}<")));
    // Selecting "all matching" would select by the search alone: not offered.
    assert!(!html.contains("id=\"all-matching\""));
}

/// In Chromium, by clicking: a budget for every user on the page (preview, then
/// apply), the spend LiteLLM counted and the ≥ 80 % mark on /users, then block
/// and unblock one key, each checked against the proxy. A screenshot per step.
#[tokio::test]
async fn an_admin_sets_budgets_for_many_sees_spend_and_the_mark_and_blocks_and_unblocks_in_the_browser()
 {
    use crate::webdriver::{browser, click, fill, screenshot, text};
    use fantoccini::Locator;
    let Some((base, master)) = peer() else { return };
    let Some(c) = browser().await else { return };
    let a = app(&base, &master, Duration::from_secs(1)).await;
    let sfx = rand_suffix();
    let ids: Vec<String> = (1..=6).map(|i| format!("team{i}-{sfx}")).collect();
    for id in &ids {
        a.user(id, &["gpt-4o-mini"], &[]).await;
    }
    drain(&a.app).await;
    let spender = &ids[0];
    let key = a.key_of(spender).await;
    // One completion: LiteLLM writes spend in batches, so after two a read
    // could see the first alone and the share would move under the test.
    assert_eq!(complete(&base, &key).await.0, 200);
    let spend = eventually(Duration::from_secs(60), "mama to read the spend", || {
        let a = &a;
        async move { find(a, spender).await.spend.filter(|s| *s > 0.0) }
    })
    .await;
    // A budget the spender has used 85 % of.
    let budget = format!("{:.8}", spend / 0.85);

    c.goto(&format!("{}/login", a.app.addr)).await.unwrap();
    a.app.super_admin().await; // sets the password the browser logs in with
    fill(&c, "username", "admin").await;
    fill(&c, "password", STRONG_PASSWORD).await;
    click(&c, "#submit").await;
    c.goto(&format!("{}/users?q={sfx}", a.app.addr))
        .await
        .unwrap();
    c.wait().for_element(Locator::Id("users")).await.unwrap();
    click(&c, "#select-page").await;
    c.find(Locator::Id("bulk-op"))
        .await
        .unwrap()
        .select_by_value("max_budget.set")
        .await
        .unwrap();
    fill(&c, "bulk-limit-value", &budget).await;
    screenshot(&c, "budgets-01-bulk-budget").await;
    click(&c, "#bulk-preview").await;
    c.wait()
        .for_element(Locator::Id("bulk-preview-page"))
        .await
        .unwrap();
    let t = text(&c).await;
    assert!(
        t.contains("Set Budget (USD) to") && t.contains("for 6 users"),
        "{t}"
    );
    screenshot(&c, "budgets-02-preview").await;
    click(&c, "#bulk-apply").await;
    c.wait().for_element(Locator::Id("users")).await.unwrap();
    drain(&a.app).await;
    for id in &ids {
        let u = find(&a, id).await;
        let want: f64 = budget.parse().unwrap();
        assert_eq!(u.max_budget, Some(want));
        let info = litellm_info(&base, &master, &u.key_sha256).await.unwrap();
        assert_eq!(info["max_budget"].as_f64(), Some(want), "{id} in LiteLLM");
    }
    c.goto(&format!("{}/users?q={sfx}&sort=share&dir=desc", a.app.addr))
        .await
        .unwrap();
    let row = c
        .wait()
        .for_element(Locator::Css(&format!("tr[data-user-id='{spender}']")))
        .await
        .unwrap();
    assert_eq!(
        row.attr("class").await.unwrap().as_deref(),
        Some("budget-warn")
    );
    let t = row.text().await.unwrap();
    let want: f64 = budget.parse().unwrap();
    let share = format!("{}%", (spend / want * 100.0).floor() as i64);
    assert!(share == "84%" || share == "85%", "{share}");
    assert!(
        t.contains(&share) && t.contains(&mama::users::limits::fmt_usd(spend)),
        "{t}"
    );
    assert_eq!(
        c.find_all(Locator::Css("tr.budget-warn"))
            .await
            .unwrap()
            .len(),
        1,
        "only the spender is at 80 % or more"
    );
    screenshot(&c, "budgets-03-spend-and-mark").await;

    // Block the spender's key.
    bulk_on_row(&c, spender, "block").await;
    drain(&a.app).await;
    assert_eq!(
        complete(&base, &key).await.0,
        401,
        "the blocked key is refused"
    );
    c.goto(&format!("{}/users?q={sfx}", a.app.addr))
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css(&format!(
            "tr[data-user-id='{spender}'] .key-blocked"
        )))
        .await
        .unwrap();
    screenshot(&c, "budgets-04-blocked").await;
    bulk_on_row(&c, spender, "unblock").await;
    drain(&a.app).await;
    assert_eq!(
        complete(&base, &key).await.0,
        200,
        "unblocked, it works again"
    );
    assert!(
        c.find_all(Locator::Css(".key-blocked"))
            .await
            .unwrap()
            .is_empty()
    );
    screenshot(&c, "budgets-05-unblocked").await;
    // The edit dialog shows the limits and the spend.
    click(&c, &format!("tr[data-user-id='{spender}'] a.edit-link")).await;
    c.wait()
        .for_element(Locator::Id("max_budget"))
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Id("edit-spend"))
        .await
        .unwrap();
    let shown = c
        .find(Locator::Id("max_budget"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    // Every digit of the budget, so saving the dialog unchanged keeps it.
    assert_eq!(
        shown.and_then(|v| v.parse::<f64>().ok()),
        Some(budget.parse::<f64>().unwrap())
    );
    c.execute("document.getElementById('limits').scrollIntoView()", vec![])
        .await
        .unwrap();
    screenshot(&c, "budgets-06-edit-dialog").await;
    c.close().await.unwrap();
}

/// Selects `user`'s row on the open /users page, chooses the bulk `op`,
/// previews and applies it, and waits for the list again.
async fn bulk_on_row(c: &fantoccini::Client, user: &str, op: &str) {
    use crate::webdriver::click;
    use fantoccini::Locator;
    click(c, &format!("tr[data-user-id='{user}'] input.row-select")).await;
    c.find(Locator::Id("bulk-op"))
        .await
        .unwrap()
        .select_by_value(op)
        .await
        .unwrap();
    click(c, "#bulk-preview").await;
    c.wait()
        .for_element(Locator::Id("bulk-preview-page"))
        .await
        .unwrap();
    click(c, "#bulk-apply").await;
    c.wait().for_element(Locator::Id("users")).await.unwrap();
}

/// The drifts of `user_id` no one has resolved yet.
async fn open_drifts(a: &ApiApp, user_id: &str) -> Vec<mama::entities::sync_drift::Model> {
    use mama::entities::sync_drift;
    sync_drift::Entity::find()
        .filter(sync_drift::Column::UserRef.eq(user_id))
        .filter(sync_drift::Column::ResolvedAt.is_null())
        .all(&a.app.db)
        .await
        .unwrap()
}

/// A change made with LiteLLM's master key, behind mama's back.
async fn behind_mamas_back(base: &str, master: &str, path: &str, body: Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(master)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// Saves the edit dialog of `id` (at `version`) with `org` and `limits`.
async fn save_dialog(b: &Browser, id: &str, version: &str, org: &str, limits: &[(&str, &str)]) {
    let mut f = vec![
        ("organisation", org),
        ("key_alias", ""),
        ("models", "gpt-4o-mini"),
        ("extra", ""),
        ("version", version),
    ];
    f.extend_from_slice(limits);
    let r = b.post_form(&format!("/users/{id}"), &f).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn limits_changed_directly_in_litellm_are_not_overwritten_by_an_unrelated_edit_without_the_drift_recorded()
 {
    let Some((base, master)) = peer() else { return };
    let a = app(&base, &master, Duration::ZERO).await;
    let id = format!("ldrift-{}", rand_suffix());
    a.user(&id, &["gpt-4o-mini"], &[]).await;
    drain(&a.app).await;
    let b = a.app.super_admin().await;
    b.page(&format!("/users/{id}")).await;
    let limits = [
        ("max_budget", "10"),
        ("budget_duration", "30d"),
        ("rpm_limit", "42"),
    ];
    save_dialog(&b, &id, "1", "Lab", &limits).await;
    drain(&a.app).await;
    assert!(open_drifts(&a, &id).await.is_empty());
    let hash = find(&a, &id).await.key_sha256;
    // An admin of the proxy lowers the budget and the rate limit in LiteLLM.
    behind_mamas_back(
        &base,
        &master,
        "/key/update",
        json!({"key": hash, "max_budget": 5.0, "rpm_limit": 9}),
    )
    .await;
    behind_mamas_back(&base, &master, "/key/block", json!({"key": hash})).await;
    // The next, unrelated, edit in mama (same limits, another organisation).
    save_dialog(&b, &id, "2", "Research", &limits).await;
    drain(&a.app).await;
    let info = litellm_info(&base, &master, &hash).await.unwrap();
    assert_eq!(info["max_budget"], json!(5.0), "LiteLLM's budget was kept");
    assert_eq!(info["rpm_limit"], 9, "LiteLLM's rate limit was kept");
    assert_eq!(info["blocked"], true, "LiteLLM's block was kept");
    assert_eq!(info["metadata"]["organisation"], "Lab", "the write is held");
    let drifts = open_drifts(&a, &id).await;
    assert_eq!(drifts.len(), 1, "{drifts:?}");
    assert_eq!(drifts[0].fields, "blocked,max_budget,rpm_limit");
    let actual: Value = serde_json::from_str(&drifts[0].actual).unwrap();
    assert_eq!(actual["max_budget"], json!(5.0));
    assert_eq!(actual["rpm_limit"], 9);
    let expected: Value = serde_json::from_str(&drifts[0].expected).unwrap();
    assert_eq!(expected["max_budget"], json!(10.0));
    assert_eq!(expected["rpm_limit"], 42);
    let u = find(&a, &id).await;
    assert_eq!(u.sync_state, "failed");
    let audited = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("litellm.key.drift"))
        .all(&a.app.db)
        .await
        .unwrap();
    assert_eq!(audited.len(), 1);
    // /sync/reconcile shows it by field; overwriting sends mama's limits.
    let (status, page) = b.page("/sync/reconcile").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("data-field=\"max_budget\""), "{page}");
    let action = format!("/sync/drift/{}/overwrite", drifts[0].id);
    assert_eq!(b.post_form(&action, &[]).await.status(), 303);
    drain(&a.app).await;
    let info = litellm_info(&base, &master, &hash).await.unwrap();
    assert_eq!(info["max_budget"], json!(10.0));
    assert_eq!(info["rpm_limit"], 42);
    assert_eq!(info["blocked"], false);
    assert_eq!(info["metadata"]["organisation"], "Research");
    assert!(open_drifts(&a, &id).await.is_empty());
}

#[tokio::test]
async fn limits_edited_in_mama_and_landed_are_not_drift_on_the_next_edit_with_an_expiry_a_block_and_a_cleared_budget()
 {
    let Some((base, master)) = peer() else { return };
    let a = app(&base, &master, Duration::ZERO).await;
    let id = format!("lclean-{}", rand_suffix());
    a.user(&id, &["gpt-4o-mini"], &[]).await;
    drain(&a.app).await;
    let b = a.app.super_admin().await;
    b.page(&format!("/users/{id}")).await;
    // Every limit, a budget that is not exact in binary, an expiry ahead.
    let all = [
        ("max_budget", "0.3"),
        ("budget_duration", "7d"),
        ("rpm_limit", "42"),
        ("tpm_limit", "4200"),
        ("expires_at", "2031-01-31T12:00"),
    ];
    let steps: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("set every limit", all.to_vec()),
        ("an unrelated edit", all.to_vec()),
        // An expiry in the past: sent as `0s`, stored by LiteLLM as "now".
        ("an expiry in the past", {
            let mut v = all.to_vec();
            v[4] = ("expires_at", "2020-01-01T00:00");
            v
        }),
        ("the next edit after it", {
            let mut v = all.to_vec();
            v[4] = ("expires_at", "2020-01-01T00:00");
            v
        }),
        // Cleared: LiteLLM keeps the old budget_duration (a null does not clear it).
        ("every limit cleared", vec![]),
        ("the next edit after that", vec![]),
    ];
    let mut version = 1;
    for (i, (what, limits)) in steps.iter().enumerate() {
        save_dialog(&b, &id, &version.to_string(), &format!("Org {i}"), limits).await;
        version += 1;
        drain(&a.app).await;
        let u = find(&a, &id).await;
        assert!(open_drifts(&a, &id).await.is_empty(), "drift after {what}");
        assert_eq!(u.sync_state, "synced", "after {what}: {:?}", u.sync_error);
        let info = litellm_info(&base, &master, &u.key_sha256).await.unwrap();
        assert_eq!(
            info["metadata"]["organisation"],
            format!("Org {i}"),
            "{what}"
        );
    }
    // A block (LiteLLM's own endpoint), then an edit: no drift. (A block made
    // behind mama's back is drift: see the test above.)
    let r = b
        .post_form("/users/bulk/apply", &[("op", "block"), ("ids", &id)])
        .await;
    assert_eq!(r.status(), 303);
    drain(&a.app).await;
    version += 1; // the bulk action bumped it
    save_dialog(
        &b,
        &id,
        &version.to_string(),
        "Blocked org",
        &[("blocked", "on")],
    )
    .await;
    drain(&a.app).await;
    let u = find(&a, &id).await;
    assert!(u.blocked);
    assert!(open_drifts(&a, &id).await.is_empty(), "drift after a block");
    assert_eq!(u.sync_state, "synced", "{:?}", u.sync_error);
    let info = litellm_info(&base, &master, &u.key_sha256).await.unwrap();
    assert_eq!(info["blocked"], true);
    assert_eq!(info["metadata"]["organisation"], "Blocked org");
}

#[tokio::test]
async fn reconcile_reports_a_limits_difference_and_repairs_it() {
    let Some((base, master)) = peer() else { return };
    let a = app(&base, &master, Duration::ZERO).await;
    let id = format!("lrec-{}", rand_suffix());
    a.user(&id, &["gpt-4o-mini"], &[]).await;
    drain(&a.app).await;
    let b = a.app.super_admin().await;
    b.page(&format!("/users/{id}")).await;
    save_dialog(
        &b,
        &id,
        "1",
        "Lab",
        &[
            ("max_budget", "20"),
            ("budget_duration", "30d"),
            ("tpm_limit", "5000"),
        ],
    )
    .await;
    drain(&a.app).await;
    let (_, page) = b.page("/sync/reconcile").await;
    assert!(
        !page.contains(&format!("<tr data-user=\"{id}\"")),
        "in sync before: {page}"
    );
    let hash = find(&a, &id).await.key_sha256;
    behind_mamas_back(
        &base,
        &master,
        "/key/update",
        json!({"key": hash, "max_budget": 1.0, "tpm_limit": null}),
    )
    .await;
    behind_mamas_back(&base, &master, "/key/block", json!({"key": hash})).await;
    let (status, page) = b.page("/sync/reconcile").await;
    assert_eq!(status, 200, "{page}");
    let row = page
        .split("<tr data-user=")
        .find(|r| r.starts_with(&format!("\"{id}\"")))
        .expect("the user whose limits differ is listed");
    assert!(row.contains("data-kind=\"limits\""), "{row}");
    for f in ["max_budget", "tpm_limit", "blocked"] {
        assert!(row.contains(f), "{f} is named: {row}");
    }
    assert!(!row.contains("budget_duration"), "{row}");
    let r = b.post_form("/sync/reconcile", &[]).await;
    assert_eq!(r.status(), 303);
    drain(&a.app).await;
    let info = litellm_info(&base, &master, &hash).await.unwrap();
    assert_eq!(info["max_budget"], json!(20.0));
    assert_eq!(info["tpm_limit"], 5000);
    assert_eq!(info["blocked"], false);
    let (_, page) = b.page("/sync/reconcile").await;
    assert!(
        !page.contains(&format!("<tr data-user=\"{id}\"")),
        "in sync after the repair: {page}"
    );
}
