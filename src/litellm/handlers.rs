//! `/sync` (queue, failures, retry, reconcile) and `/models` (the catalogue).
use actix_session::Session;
use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;

use sea_orm::EntityTrait;

use super::{drift, queries, reconcile};
use crate::{
    audit::{Action, AuditCtx, Outcome},
    error::AppError,
    i18n::Msg,
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
    poll_ms: u128,
}

#[derive(Template)]
#[template(path = "litellm/_sync_status.html")]
struct StatusFragment {
    ctx: PageCtx,
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

pub async fn sync_page(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::SyncView);
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
            poll_ms: data.settings.ui_poll_interval.as_millis(),
        },
    )
}

/// The live part of /sync, polled by htmx.
pub async fn sync_status(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::SyncView);
    let s = status_view(&data).await?;
    let body = StatusFragment {
        ctx: PageCtx::fragment(&admin),
        s,
        csrf_token: session::csrf_token(&session),
    }
    .render()
    .map_err(|e| AppError::Internal(e.into()))?;
    // Stored once per change of what the tab shows, not once per poll.
    audit.quiet(crate::crypto::sha256_hex(&body));
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body))
}

#[derive(Deserialize)]
pub struct RetryForm {
    /// One user; absent means every failed job.
    #[serde(default)]
    user_id: Option<String>,
}

pub async fn retry_all(
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    CsrfForm(form): CsrfForm<RetryForm>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::SyncRetry);
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
        Flash::success(Msg::new("flash-sync-retried").num("count", users.len())),
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
    /// Keys changed behind mama's back whose writes are held.
    held: Vec<HeldRow>,
    renames: Vec<drift::Rename>,
}

/// One open drift, as the page shows it.
struct HeldRow {
    id: i64,
    user_ref: String,
    fields: Vec<String>,
    expected: String,
    actual: String,
}

/// The values of `fields` in a canonical key state, as one short line.
fn fields_text(state: &str, fields: &[String]) -> String {
    let v: serde_json::Value = serde_json::from_str(state).unwrap_or_default();
    fields
        .iter()
        .map(|f| format!("{f}: {}", v.get(f).cloned().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("; ")
}

async fn held_drifts(data: &AppData) -> Result<(Vec<HeldRow>, Vec<drift::Rename>), sea_orm::DbErr> {
    let open = drift::open(&data.db).await?;
    let renames = drift::renames(&data.db, &open).await?;
    let rows = open
        .into_iter()
        .map(|d| {
            let fields: Vec<String> = d.fields.split(',').map(str::to_string).collect();
            HeldRow {
                id: d.id,
                expected: fields_text(&d.expected, &fields),
                actual: fields_text(&d.actual, &fields),
                user_ref: d.user_ref,
                fields,
            }
        })
        .collect();
    Ok((rows, renames))
}

impl ReconcilePage {
    fn summary(&self) -> String {
        let r = &self.report;
        Msg::new("reconcile-summary")
            .num("checked", r.checked)
            .num("in_sync", r.in_sync)
            .num("drift", r.drift.len())
            .num("pending", r.pending)
            .num("unknown", r.unknown.len())
            .render(self.ctx.lang)
    }
    fn first_shown(&self) -> String {
        Msg::new("reconcile-first-shown")
            .num("shown", self.unknown_shown.len())
            .num("count", self.report.unknown.len())
            .render(self.ctx.lang)
    }
    fn kind_key(&self, kind: &str) -> &'static str {
        drift_kind_key(kind)
    }
    fn rename_offer(&self, r: &drift::Rename) -> String {
        Msg::new("reconcile-rename-offer")
            .arg("from", &r.from)
            .arg("to", &r.to)
            .num("count", r.users.len())
            .render(self.ctx.lang)
    }
    fn rename_add(&self, r: &drift::Rename) -> String {
        Msg::new("reconcile-rename-add")
            .arg("from", &r.from)
            .arg("to", &r.to)
            .render(self.ctx.lang)
    }
    fn rename_remove(&self, r: &drift::Rename) -> String {
        Msg::new("reconcile-rename-remove")
            .arg("from", &r.from)
            .render(self.ctx.lang)
    }
}

fn litellm_or_unavailable(data: &AppData) -> Result<super::LiteLlm, AppError> {
    super::client(data).ok_or_else(|| {
        AppError::Conflict(
            "LiteLLM is not configured (LITELLM_BASE_URL); there is nothing to compare with."
                .into(),
        )
    })
}

pub async fn reconcile_page(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::SyncReconcile);
    let client = litellm_or_unavailable(&data)?;
    let (held, renames) = held_drifts(&data).await?;
    audit.detail("held_drift", held.len());
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
            held,
            renames,
        },
    )
}

/// An admin chose mama's state for a key changed outside mama: the drift is
/// resolved and the key is sent again, over the outside change.
pub async fn drift_overwrite(
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    path: web::Path<i64>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::SyncDriftResolve);
    let id = path.into_inner();
    let txn = crate::db::begin_write(&data.db).await?;
    let Some(d) = crate::entities::sync_drift::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .filter(|d| d.resolved_at.is_none())
    else {
        return Err(AppError::NotFound);
    };
    let users = vec![d.user_ref.clone()];
    drift::resolve(&txn, &users, "overwritten").await?;
    super::outbox::enqueue_upsert_forced(&txn, &users, None).await?;
    audit.targets(users);
    audit.detail("drift_id", id);
    audit.detail("resolution", "overwritten");
    audit.detail("fields", d.fields.clone());
    audit.commit(txn, StatusCode::SEE_OTHER).await?;
    session::push_flash(
        &session,
        Flash::success(Msg::new("flash-drift-overwritten").arg("user", &d.user_ref)),
    );
    Ok(see_other("/sync/reconcile"))
}

pub async fn reconcile_repair(
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::SyncReconcile);
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
        Flash::success(
            Msg::new("flash-reconcile-repaired")
                .num("count", users.len())
                .num("unknown", report.unknown.len()),
        ),
    );
    Ok(see_other("/sync"))
}

struct ModelRow {
    name: String,
    available: bool,
    last_seen: Option<chrono::DateTime<chrono::Utc>>,
    /// Users holding it (counted for retired models only).
    holders: u64,
}

impl ModelsPage {
    /// "Remove from all 3 users" / "… 1 user".
    fn remove_label(&self, m: &ModelRow) -> String {
        Msg::new("models-remove-from")
            .num("count", m.holders)
            .render(self.ctx.lang)
    }
    fn holders_text(&self, m: &ModelRow) -> String {
        Msg::new("models-holders")
            .num("count", m.holders)
            .render(self.ctx.lang)
    }
}

#[derive(Template)]
#[template(path = "litellm/models.html")]
struct ModelsPage {
    ctx: PageCtx,
    rows: Vec<ModelRow>,
    special: Vec<&'static str>,
    last_refresh: Option<chrono::DateTime<chrono::Utc>>,
    configured: bool,
}

pub async fn models_page(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ModelList);
    let rows: Vec<ModelRow> = crate::catalogue::available_first(&data.db)
        .await?
        .into_iter()
        .map(|m| ModelRow {
            last_seen: m.last_seen_at,
            name: m.name,
            available: m.available,
            holders: 0,
        })
        .collect();
    let retired: Vec<String> = rows
        .iter()
        .filter(|r| !r.available)
        .map(|r| r.name.clone())
        .collect();
    let holders = crate::catalogue::holders(&data.db, &retired).await?;
    let mut rows = rows;
    for r in rows.iter_mut().filter(|r| !r.available) {
        r.holders = holders.get(&r.name).copied().unwrap_or(0);
    }
    audit.detail("retired", retired.len());
    let last_refresh = crate::catalogue::last_refresh(&data.db).await?;
    audit.detail("models", rows.len());
    html(
        StatusCode::OK,
        &ModelsPage {
            ctx: PageCtx::new(&session, &admin, "models"),
            rows,
            special: crate::catalogue::SPECIAL.to_vec(),
            last_refresh,
            configured: data.settings.litellm.is_some(),
        },
    )
}

pub async fn models_refresh(
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ModelRefresh);
    let client = litellm_or_unavailable(&data)?;
    match client.models().await {
        Ok(names) => {
            data.notices.set(super::worker::NOTICE, None);
            let txn = crate::db::begin_write(&data.db).await?;
            crate::catalogue::store(&*txn, &names).await?;
            audit.detail("models", names.len());
            audit.commit(txn, StatusCode::SEE_OTHER).await?;
            session::push_flash(
                &session,
                Flash::success(Msg::new("flash-models-fetched").num("count", names.len())),
            );
        }
        Err(e) => {
            audit.outcome(Outcome::Error);
            audit.detail("error", e.to_string());
            session::push_flash(&session, Flash::error("flash-models-failed"));
        }
    }
    Ok(see_other("/models"))
}

/// The catalogue key naming a kind of drift on the reconcile page.
pub fn drift_kind_key(kind: &str) -> &'static str {
    match kind {
        "missing" => "reconcile-kind-missing",
        "models" => "reconcile-kind-models",
        "alias" => "reconcile-kind-alias",
        "metadata" => "reconcile-kind-metadata",
        "user_id" => "reconcile-kind-user-id",
        "limits" => "reconcile-kind-limits",
        _ => "reconcile-kind-other",
    }
}
