//! Logging: `RUST_LOG` filters (default `info,sqlx=warn`), `MAMA_LOG_FORMAT=json`
//! switches to JSON lines. Nothing secret is ever logged. Logs go to stderr, so a
//! command's own output on stdout (a token, a list, a YAML spec) stays clean.
use tracing_subscriber::{EnvFilter, fmt};

pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let json = std::env::var("MAMA_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
