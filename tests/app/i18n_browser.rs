//! The Korean walk in headless Chromium (the browser sends `Accept-Language:
//! ko-KR`, set with `--lang=ko-KR` and the `intl.accept_languages` preference):
//! login, the forced password change, users (a Hangul search by organisation, a
//! sort, a bulk edit preview, create-many with a Korean organisation, the edit
//! dialog), audit filters in local dates and the export; and the same start in
//! English. A screenshot per step under target/screenshots/i18n-*.
use fantoccini::{Client, ClientBuilder, Locator};

use crate::{
    helpers::*,
    users::{add_service, catalogue, create_users},
    users_browser::pick,
    webdriver::{click, component_available, fill, screenshot, text, wait_css},
};

/// A headless Chromium whose language (UI and `Accept-Language`) is `lang`.
async fn browser_in(lang: &str) -> Option<Client> {
    if !component_available("WEBDRIVER_URL", "a WebDriver (chromedriver)") {
        return None;
    }
    let url = std::env::var("WEBDRIVER_URL").unwrap();
    let profile = std::env::temp_dir().join(format!("mama-chrome-{}", rand_suffix()));
    let primary = lang.split('-').next().unwrap();
    let caps = serde_json::json!({"browserName": "chrome", "goog:chromeOptions": {
        "binary": std::env::var("CHROMIUM_BINARY").unwrap_or_else(|_| "/usr/bin/chromium".into()),
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,900",
                 format!("--lang={lang}"),
                 format!("--user-data-dir={}", profile.display())],
        "prefs": {"intl.accept_languages": format!("{lang},{primary}")}}});
    Some(
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.as_object().unwrap().clone())
            .connect(&url)
            .await
            .expect("connect to WEBDRIVER_URL"),
    )
}

/// The page is in `lang` (`<html lang>`), no message key is missing, and a
/// screenshot is taken.
async fn step(c: &Client, lang: &str, n: u32, name: &str) -> String {
    let html = c.source().await.unwrap();
    let i = html.find("<html lang=\"").expect("html element") + 12;
    assert_eq!(&html[i..i + 2], lang, "{name}: <html lang>");
    assert!(!html.contains('⟦'), "{name}: a message key is missing");
    screenshot(c, &format!("i18n-{lang}-{n:02}-{name}")).await;
    text(c).await
}

/// An admin (not the seeded one) who must change the initial password, and users
/// in Korean organisations.
async fn seed(app: &TestApp) {
    let sa = app.super_admin().await;
    let r = sa
        .create_account("kim", "admin", "initial passphrase 1")
        .await;
    assert_eq!(r.status(), 303);
    catalogue(app, &[("gpt-4o", true), ("gpt-4o-mini", true)]).await;
    add_service(&sa, "wiki").await;
    let r = create_users(
        &sa,
        "hong,한국연구소\nlee,서울랩\npark,한국개발팀\nchoi,부산지사",
        &["gpt-4o"],
        &["wiki"],
    )
    .await;
    assert_eq!(r.status(), 303);
}

async fn login_and_change_password(c: &Client, app: &TestApp, lang: &str) {
    c.goto(&format!("{}/login", app.addr)).await.unwrap();
    wait_css(c, "#username").await;
    let t = step(c, lang, 1, "login").await;
    assert!(
        t.contains(if lang == "ko" { "로그인" } else { "Log in" }),
        "{t}"
    );
    fill(c, "username", "kim").await;
    fill(c, "password", "initial passphrase 1").await;
    click(c, "#submit").await;
    wait_css(c, "#forced-notice").await;
    let t = step(c, lang, 2, "forced-password-change").await;
    assert!(
        t.contains(if lang == "ko" {
            "새 비밀번호"
        } else {
            "new password"
        }),
        "{t}"
    );
    fill(c, "current_password", "initial passphrase 1").await;
    fill(c, "new_password", STRONG_PASSWORD).await;
    fill(c, "confirm_password", STRONG_PASSWORD).await;
    click(c, "#submit").await;
    wait_css(c, "#users").await;
    let t = step(c, lang, 3, "users").await;
    assert!(
        t.contains(if lang == "ko" { "4명" } else { "4 users" }),
        "{t}"
    );
}

#[tokio::test]
async fn a_korean_admin_walks_through_mama_in_korean() {
    let Some(c) = browser_in("ko-KR").await else {
        return;
    };
    // The installation's default is English: Korean comes from the browser.
    let app = spawn_app().await;
    seed(&app).await;
    login_and_change_password(&c, &app, "ko").await;

    // Search in Hangul by organisation.
    fill(&c, "search", "한국").await;
    click(&c, "#search-submit").await;
    wait_css(&c, "#search-clear").await;
    let t = step(&c, "ko", 4, "search-hangul").await;
    assert!(
        t.contains("2명") && t.contains("한국연구소") && t.contains("한국개발팀"),
        "{t}"
    );
    assert!(!t.contains("서울랩"));

    // Sort by organisation, descending: 한국연구소 after 한국개발팀 ascending.
    click(&c, "#search-clear").await;
    wait_css(&c, "tr[data-user-id='choi']").await;
    click(&c, "#sort-organisation").await;
    wait_css(&c, "th[aria-sort='ascending'] #sort-organisation").await;
    let html = c.source().await.unwrap();
    let pos = |id: &str| html.find(&format!("data-user-id=\"{id}\"")).unwrap();
    // Code-point order of Hangul syllables is dictionary order: 부산 < 서울 < 한국개발 < 한국연구.
    assert!(pos("choi") < pos("lee") && pos("lee") < pos("park") && pos("park") < pos("hong"));
    step(&c, "ko", 5, "sorted-by-organisation").await;

    // A bulk edit preview.
    for u in ["hong", "park"] {
        click(&c, &format!("tr[data-user-id='{u}'] input.row-select")).await;
    }
    c.find(Locator::Id("bulk-op"))
        .await
        .unwrap()
        .select_by_value("models.add")
        .await
        .unwrap();
    pick(&c, "bulk-models", "gpt-4o-mini").await;
    step(&c, "ko", 6, "bulk-selected").await;
    click(&c, "#bulk-preview").await;
    wait_css(&c, "#preview-summary").await;
    let t = step(&c, "ko", 7, "bulk-preview").await;
    assert!(t.contains("사용자 2명에게 gpt-4o-mini 추가."), "{t}");
    click(&c, "#bulk-apply").await;
    wait_css(&c, "article.flash").await;
    let t = step(&c, "ko", 8, "bulk-applied").await;
    assert!(t.contains("추가했습니다"), "{t}");

    // Create many with a Korean organisation.
    click(&c, "#create-many").await;
    wait_css(&c, "#lines").await;
    fill(
        &c,
        "lines",
        "jung,대전연구센터\nkang,대전연구센터\nbad user!,대전연구센터",
    )
    .await;
    click(&c, "input[name=models][value='gpt-4o']").await;
    click(&c, "#create-preview-btn").await;
    wait_css(&c, "#create-preview").await;
    c.execute(
        "document.getElementById('create-preview').scrollIntoView()",
        vec![],
    )
    .await
    .unwrap();
    let t = step(&c, "ko", 9, "create-preview").await;
    assert!(t.contains("올바름 2줄") && t.contains("3번째 줄"), "{t}");
    click(&c, "#mode-valid").await;
    click(&c, "#create-submit").await;
    wait_css(&c, "article.flash").await;
    let t = step(&c, "ko", 10, "created").await;
    assert!(t.contains("사용자 2명을 만들었습니다."), "{t}");
    let jung = mama::users::queries::find(&app.db, "jung")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(jung.organisation, "대전연구센터", "Hangul stored as typed");

    // The edit dialog.
    c.goto(&format!("{}/users?q=jung", app.addr)).await.unwrap();
    wait_css(&c, "tr[data-user-id='jung']").await;
    click(&c, "tr[data-user-id='jung'] a.edit-link").await;
    wait_css(&c, "dialog[open] #edit-form").await;
    let t = step(&c, "ko", 11, "edit-dialog").await;
    assert!(t.contains("jung 편집") && t.contains("조직"), "{t}");
    fill(&c, "organisation", "대전연구센터 2팀").await;
    click(&c, "#edit-save").await;
    wait_css(&c, "article.flash").await;
    step(&c, "ko", 12, "edited").await;
    let jung = mama::users::queries::find(&app.db, "jung")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(jung.organisation, "대전연구센터 2팀");

    // Audit filters in local (Seoul) dates, and the export.
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Seoul)
        .format("%Y-%m-%d")
        .to_string();
    c.goto(&format!("{}/audit", app.addr)).await.unwrap();
    wait_css(&c, "#since").await;
    fill(&c, "since", &today).await;
    fill(&c, "user", "jung").await;
    click(&c, "#apply").await;
    wait_css(&c, "#events").await;
    let t = step(&c, "ko", 13, "audit-filtered").await;
    assert!(t.contains("시작 (Asia/Seoul)") && t.contains("KST"), "{t}");
    assert!(
        c.find(Locator::Css("a.event-link")).await.is_ok(),
        "events for jung today"
    );
    let href = c
        .find(Locator::Id("export-csv"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let csv = c
        .execute_async(
            "fetch(arguments[0]).then(r => r.text()).then(arguments[1])",
            vec![serde_json::json!(href)],
        )
        .await
        .unwrap();
    let csv = csv.as_str().unwrap();
    assert!(
        csv.starts_with("id,occurred_at,request_id,actor_kind"),
        "CSV header stays English"
    );
    let second = csv.lines().nth(1).expect("a row");
    let at = second.split(',').nth(1).unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(at).is_ok()
            && (at.ends_with('Z') || at.ends_with("+00:00")),
        "RFC 3339 UTC: {at}"
    );
    assert!(csv.contains("jung"));
    step(&c, "ko", 14, "audit-export").await;
    c.close().await.unwrap();
}

#[tokio::test]
async fn an_english_admin_starts_the_same_walk_in_english() {
    let Some(c) = browser_in("en-US").await else {
        return;
    };
    // The installation's default is Korean: English comes from the browser.
    let app = spawn_app_with(|s| s.default_language = mama::i18n::Lang::Ko).await;
    seed(&app).await;
    login_and_change_password(&c, &app, "en").await;
    fill(&c, "search", "한국").await;
    click(&c, "#search-submit").await;
    wait_css(&c, "#search-clear").await;
    let t = step(&c, "en", 4, "search-hangul").await;
    assert!(t.contains("2 users") && t.contains("한국연구소"), "{t}");
    c.close().await.unwrap();
}
