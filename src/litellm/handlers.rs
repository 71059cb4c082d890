//! `/sync` (queue, failures, retry, reconcile) and `/models` (the catalogue).
use actix_session::Session;
use actix_web::{HttpResponse, get, http::StatusCode, post, web};
use askama::Template;
use serde::Deserialize;

use super::{models, queries, reconcile};
use crate::{
    audit::{Action, AuditCtx, Outcome},
    error::AppError,
    state::AppData,
    web::{CsrfForm, CurrentAdmin, Flash, NoFields, PageCtx, pages::html, see_other, session},
};

#[derive(Template)]
#[template(path = "litellm/sync.html")]
struct SyncPage {
    ctx: PageCtx,
    csrf_token: String,
    s: StatusView,
    configured: bool,
}

#[derive(Template)]
#[template(path = "litellm/_sync_status.html")]
struct StatusFragment {
    s: StatusView,
    csrf_token: String,
}

struct FailedRow {
    user_ref: String,
    operation: String,
    attempts: i32,
    error: String,
}

struct BatchRow {
    batch_id: String,
    total: i64,
    done: i64,
    failed: i64,
    percent: i64,
}

struct StatusView {
    st: queries::Status,
    per_second: String,
    last_error: String,
    failed: Vec<FailedRow>,
    batches: Vec<BatchRow>,
}

async fn status_view(data: &AppData) -> Result<StatusView, AppError> {
    let st = queries::status(&data.db).await?;
    let failed = queries::failed_jobs(&data.db, 200)
        .await?
        .into_iter()
        .map(|j| FailedRow {
            user_ref: j.user_ref,
            operation: j.operation,
            attempts: j.attempts,
            error: j.last_error.unwrap_or_default(),
        })
        .collect();
    let batches = queries::batches(&data.db, 10)
        .await?
        .into_iter()
        .map(|b| BatchRow {
            percent: if b.total > 0 {
                (b.done + b.failed) * 100 / b.total
            } else {
                100
            },
            batch_id: b.batch_id,
            total: b.total,
            done: b.done,
            failed: b.failed,
        })
        .collect();
    Ok(StatusView {
        per_second: format!("{:.1}", st.done_last_minute as f64 / 60.0),
        last_error: st
            .last_error
            .as_ref()
            .map(|(u, e, t)| format!("{u}: {e} ({})", t.format("%H:%M:%S UTC")))
            .unwrap_or_default(),
        st,
        failed,
        batches,
    })
}

#[get("/sync", name = "sync.view")]
pub async fn sync_page(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::SyncView);
    admin.require_manager()?;
    let s = status_view(&data).await?;
    audit.detail("pending", s.st.pending);
    audit.detail("failed", s.st.failed);
    html(
        StatusCode::OK,
        &SyncPage {
            ctx: PageCtx::new(&session, &admin, "sync"),
            csrf_token: session::csrf_token(&session),
            s,
            configured: data.settings.litellm.is_some(),
        },
    )
}

/// The live part of /sync, polled by htmx.
#[get("/sync/status", name = "sync.view")]
pub async fn sync_status(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::SyncView);
    admin.require_manager()?;
    let s = status_view(&data).await?;
    html(
        StatusCode::OK,
        &StatusFragment {
            s,
            csrf_token: session::csrf_token(&session),
        },
    )
}

#[derive(Deserialize)]
pub struct RetryForm {
    /// One user; absent means every failed job.
    #[serde(default)]
    user_id: Option<String>,
}

#[post("/sync/retry", name = "sync.retry")]
pub async fn retry_all(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    CsrfForm(form): CsrfForm<RetryForm>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::SyncRetry);
    admin.require_manager()?;
    let only = form
        .user_id
        .filter(|u| !u.trim().is_empty())
        .map(|u| vec![u]);
    let txn = crate::db::begin_write(&data.db).await?;
    let users = queries::retry_failed(&txn, only.as_deref()).await?;
    audit.targets(users.clone());
    audit.detail("scope", if only.is_some() { "user" } else { "all" });
    audit.detail("users", users.len());
    audit.commit(txn, StatusCode::SEE_OTHER).await?;
    session::push_flash(
        &session,
        Flash::success(format!(
            "{} user(s) queued for another attempt.",
            users.len()
        )),
    );
    Ok(see_other("/sync"))
}

#[derive(Template)]
#[template(path = "litellm/reconcile.html")]
struct ReconcilePage {
    ctx: PageCtx,
    report: reconcile::Report,
    unknown_shown: Vec<reconcile::Unknown>,
    error: String,
}

fn litellm_or_unavailable(data: &AppData) -> Result<super::LiteLlm, AppError> {
    super::client(data).ok_or_else(|| {
        AppError::Conflict(
            "LiteLLM is not configured (LITELLM_BASE_URL); there is nothing to compare with."
                .into(),
        )
    })
}

#[get("/sync/reconcile", name = "sync.reconcile")]
pub async fn reconcile_page(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::SyncReconcile);
    admin.require_manager()?;
    let client = litellm_or_unavailable(&data)?;
    let (report, error) = match reconcile::compare(&data.db, &client).await {
        Ok(r) => (r, String::new()),
        Err(e) => {
            audit.outcome(Outcome::Error);
            (reconcile::Report::default(), e.to_string())
        }
    };
    audit.detail("mode", "compare");
    audit.detail("drift", report.drift.len());
    audit.detail("unknown", report.unknown.len());
    audit.targets(report.drift.iter().map(|d| d.user_id.clone()).collect());
    let unknown_shown = report.unknown.iter().take(50).cloned().collect();
    let status = if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_GATEWAY
    };
    html(
        status,
        &ReconcilePage {
            ctx: PageCtx::new(&session, &admin, "sync"),
            report,
            unknown_shown,
            error,
        },
    )
}

#[post("/sync/reconcile", name = "sync.reconcile")]
pub async fn reconcile_repair(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::SyncReconcile);
    admin.require_manager()?;
    let client = litellm_or_unavailable(&data)?;
    let report = reconcile::compare(&data.db, &client)
        .await
        .map_err(|e| AppError::Unavailable(anyhow::anyhow!("{e}")))?;
    let txn = crate::db::begin_write(&data.db).await?;
    let users = reconcile::repair(&txn, &report).await?;
    audit.detail("mode", "repair");
    audit.detail(
        "drift",
        serde_json::to_value(&report.drift).unwrap_or_default(),
    );
    audit.detail("unknown_left_alone", report.unknown.len());
    audit.targets(users.clone());
    audit.commit(txn, StatusCode::SEE_OTHER).await?;
    session::push_flash(
        &session,
        Flash::success(format!(
            "{} user(s) queued for repair; {} key(s) unknown to mama were left alone.",
            users.len(),
            report.unknown.len()
        )),
    );
    Ok(see_other("/sync"))
}

struct ModelRow {
    name: String,
    available: bool,
    last_seen: String,
}

#[derive(Template)]
#[template(path = "litellm/models.html")]
struct ModelsPage {
    ctx: PageCtx,
    rows: Vec<ModelRow>,
    special: Vec<&'static str>,
    last_refresh: String,
    configured: bool,
}

#[get("/models", name = "model.list")]
pub async fn models_page(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ModelList);
    admin.require_manager()?;
    let rows: Vec<ModelRow> = models::catalogue(&data.db)
        .await?
        .into_iter()
        .map(|m| ModelRow {
            last_seen: m
                .last_seen_at
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default(),
            name: m.name,
            available: m.available,
        })
        .collect();
    let last_refresh = models::last_refresh(&data.db)
        .await?
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "never".into());
    audit.detail("models", rows.len());
    html(
        StatusCode::OK,
        &ModelsPage {
            ctx: PageCtx::new(&session, &admin, "models"),
            rows,
            special: models::SPECIAL.to_vec(),
            last_refresh,
            configured: data.settings.litellm.is_some(),
        },
    )
}

#[post("/models/refresh", name = "model.refresh")]
pub async fn models_refresh(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ModelRefresh);
    admin.require_manager()?;
    let client = litellm_or_unavailable(&data)?;
    match client.models().await {
        Ok(names) => {
            data.notices.set(super::worker::NOTICE, None);
            let txn = crate::db::begin_write(&data.db).await?;
            models::store(&txn, &names).await?;
            audit.detail("models", names.len());
            audit.commit(txn, StatusCode::SEE_OTHER).await?;
            session::push_flash(
                &session,
                Flash::success(format!("{} model(s) fetched from LiteLLM.", names.len())),
            );
        }
        Err(e) => {
            audit.outcome(Outcome::Error);
            audit.detail("error", e.to_string());
            session::push_flash(
                &session,
                Flash::error(format!(
                    "LiteLLM did not answer ({e}); the last known list is kept."
                )),
            );
        }
    }
    Ok(see_other("/models"))
}
