//! `/healthz` (the process answers), `/readyz` (the database answers) and
//! `/metrics` (Prometheus text, rendered by `crate::metrics`).
use actix_web::{HttpResponse, get, web};
use sea_orm::{ConnectionTrait, Statement};

use crate::state::AppData;

#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

#[get("/readyz")]
pub async fn readyz(data: web::Data<AppData>) -> HttpResponse {
    let db = &data.db;
    let ok = db
        .execute_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT 1",
        ))
        .await
        .is_ok();
    // LiteLLM is reported but never makes mama unready: edits queue while it is
    // down, so taking instances out of rotation would only make things worse.
    let litellm = if data.settings.litellm.is_none() {
        "not configured"
    } else {
        "configured"
    };
    let body = serde_json::json!({
        "status": if ok { "ready" } else { "not ready" },
        "database": if ok { "ok" } else { "unreachable" },
        "litellm": litellm,
        "notices": data.notices.list(),
    });
    if ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

#[get("/metrics")]
pub async fn metrics(data: web::Data<AppData>) -> HttpResponse {
    let mut body = crate::metrics::render(&data.metrics, &data.db).await;
    // The audit index's lag is read here, not in `metrics` (which `state`, and so
    // `audit`, imports).
    match crate::audit::indexer::lag(&data.db).await {
        Ok(lag) => body.push_str(&format!(
            "# HELP mama_audit_index_lag_events Audit events not yet in the audit_targets index (searches by user read them directly).\n# TYPE mama_audit_index_lag_events gauge\nmama_audit_index_lag_events {lag}\n"
        )),
        Err(e) => tracing::warn!(error = %e, "audit index lag query failed"),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics);
}
