//! Headless Chromium through ChromeDriver (`WEBDRIVER_URL`). Screenshots go to
//! `target/screenshots/` in the source tree.
#![allow(dead_code)]

use fantoccini::{Client, ClientBuilder, Locator};

/// True when `component` should run; false (skip) when it is not configured,
/// unless `MAMA_TEST_REQUIRE_ALL` is set, which makes a missing component fail.
pub fn component_available(var: &str, component: &str) -> bool {
    if std::env::var(var).is_ok_and(|v| !v.is_empty()) {
        return true;
    }
    if std::env::var("MAMA_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1") {
        panic!("{component} is required (MAMA_TEST_REQUIRE_ALL=1) but {var} is not set");
    }
    record_skip(&format!("{component} not configured ({var} unset)"));
    false
}

/// Where skipped tests are listed, one `test name: reason` a line. `.ci/run`
/// prints it after each run; a developer reads it after `cargo test`.
pub fn skip_file() -> std::path::PathBuf {
    std::env::var_os("MAMA_TEST_SKIP_FILE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("mama-tests").join("skipped.txt"))
}

/// Records that the current test skipped, by name (libtest names the thread after
/// the test), on standard error and in [`skip_file`].
pub fn record_skip(reason: &str) {
    use std::io::Write;
    let name = std::thread::current()
        .name()
        .unwrap_or("unnamed test")
        .to_string();
    eprintln!("SKIPPED {name}: {reason}");
    let path = skip_file();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    {
        let _ = writeln!(f, "{name}: {reason}");
    }
}

/// A new headless Chromium session, or `None` when no WebDriver is configured.
pub async fn browser() -> Option<Client> {
    if !component_available("WEBDRIVER_URL", "a WebDriver (chromedriver)") {
        return None;
    }
    let url = std::env::var("WEBDRIVER_URL").unwrap();
    let profile =
        std::env::temp_dir().join(format!("mama-chrome-{}", crate::helpers::rand_suffix()));
    let caps = serde_json::json!({"browserName": "chrome", "goog:chromeOptions": {
        "binary": std::env::var("CHROMIUM_BINARY").unwrap_or_else(|_| "/usr/bin/chromium".into()),
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,900",
                 format!("--user-data-dir={}", profile.display())]}});
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps.as_object().unwrap().clone())
        .connect(&url)
        .await
        .expect("connect to WEBDRIVER_URL");
    Some(client)
}

/// Saves a screenshot as `target/screenshots/<name>.png`.
pub async fn screenshot(c: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

pub async fn fill(c: &Client, id: &str, value: &str) {
    let el = c
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"));
    el.clear().await.unwrap();
    el.send_keys(value).await.unwrap();
}

pub async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// The page's visible text.
pub async fn text(c: &Client) -> String {
    c.find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Waits (up to 15 s) for an element matching `css`.
pub async fn wait_css(c: &Client, css: &str) {
    c.wait()
        .at_most(std::time::Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("waiting for {css}: {e}"));
}

/// Opens `path` (a login page, or a page that sends there) and signs in as
/// `admin` with the password the helpers set.
pub async fn log_in(c: &Client, addr: &str, path: &str) {
    log_in_as(c, addr, path, "admin").await;
}

/// The same, as `username` (whose password is `STRONG_PASSWORD`).
pub async fn log_in_as(c: &Client, addr: &str, path: &str, username: &str) {
    c.goto(&format!("{addr}{path}")).await.unwrap();
    fill(c, "username", username).await;
    fill(c, "password", crate::helpers::STRONG_PASSWORD).await;
    click(c, "#submit").await;
}
