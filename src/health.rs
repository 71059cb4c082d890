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
        // Machine surface: the banners in English (they are stored as catalogue keys).
        "notices": data
            .notices
            .list()
            .iter()
            .map(|k| crate::i18n::t(crate::i18n::Lang::En, k))
            .collect::<Vec<_>>(),
    });
    if ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

#[get("/metrics")]
pub async fn metrics(
    data: web::Data<AppData>,
    in_flight: Option<web::Data<crate::web::in_flight::InFlight>>,
) -> HttpResponse {
    let mut body = crate::metrics::render(&data.metrics, &data.db).await;
    if let Some(gate) = in_flight {
        let (limit, working, waiting, peak) = gate.figures();
        body.push_str(&format!(
            "# HELP mama_api_requests_in_flight REST API requests worked on now and waiting for their turn (MAMA_API_MAX_IN_FLIGHT).\n# TYPE mama_api_requests_in_flight gauge\nmama_api_requests_in_flight{{state=\"working\"}} {working}\nmama_api_requests_in_flight{{state=\"waiting\"}} {waiting}\n# HELP mama_api_requests_in_flight_peak The most REST API requests worked on at once since start.\n# TYPE mama_api_requests_in_flight_peak gauge\nmama_api_requests_in_flight_peak {peak}\n# HELP mama_api_max_in_flight The limit (0: none).\n# TYPE mama_api_max_in_flight gauge\nmama_api_max_in_flight {limit}\n"
        ));
    }
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
