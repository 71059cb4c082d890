//! `/healthz` (the process answers) and `/readyz` (the database answers).
use actix_web::{HttpResponse, get, web};
use sea_orm::{ConnectionTrait, Statement};

use crate::startup::AppData;

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
    if ok {
        HttpResponse::Ok().json(serde_json::json!({"status": "ready", "database": "ok"}))
    } else {
        HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"status": "not ready", "database": "unreachable"}))
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz);
}
