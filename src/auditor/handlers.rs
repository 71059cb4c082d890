//! `/audit` for auditors, admins and super admins: the filtered list, one event,
//! the streamed exports and the chain verification.
use actix_session::Session;
use actix_web::{HttpResponse, get, http::StatusCode, http::header, post, web};

use super::{
    forms::{FilterQuery, OUTCOMES, action_groups},
    views::{ListPage, ViewPage, diff},
};
use crate::{
    audit::{
        Action, AuditCtx, Outcome, chain,
        export::{self, Format},
        queries,
    },
    error::AppError,
    state::AppData,
    web::{
        CsrfForm, CurrentAdmin, Flash, FormErrors, NoFields, PageCtx, pages::html, see_other,
        session,
    },
};

const PAGE: u64 = 100;

#[get("/audit", name = "audit.list")]
pub async fn list(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    q: web::Query<FilterQuery>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::AuditList);
    admin.require_audit_reader()?;
    let q = q.into_inner();
    audit.detail("filter", q.to_json());
    let verified = chain::last_verified(&data.db).await?;
    let index_lag = crate::audit::indexer::lag(&data.db).await?;
    let mut page = ListPage {
        ctx: PageCtx::new(&session, &admin, "audit"),
        qs: q.query_string(),
        q,
        errors: FormErrors::default(),
        groups: action_groups(),
        outcomes: OUTCOMES,
        events: vec![],
        next_before: None,
        verified,
        index_lag,
    };
    let filter = match page.q.to_filter() {
        Ok(f) => f,
        Err(errors) => {
            audit.outcome(Outcome::Invalid);
            audit.detail("fields", errors.to_json());
            page.errors = errors;
            return html(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let events = queries::search(&data.db, &filter, page.q.before, PAGE).await?;
    page.next_before = (events.len() as u64 == PAGE)
        .then(|| events.last().map(|e| e.id))
        .flatten();
    audit.detail("count", events.len());
    page.events = events;
    html(StatusCode::OK, &page)
}

#[get("/audit/{id}", name = "audit.view")]
pub async fn view(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    path: web::Path<i64>,
) -> Result<ViewPage, AppError> {
    audit.action(Action::AuditView);
    admin.require_audit_reader()?;
    let id = path.into_inner();
    audit.detail("event_id", id);
    let e = queries::find(&data.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let details: serde_json::Value = serde_json::from_str(&e.details).unwrap_or_default();
    let mut rest = details.clone();
    if let Some(m) = rest.as_object_mut() {
        m.remove("before");
        m.remove("after");
    }
    Ok(ViewPage {
        ctx: PageCtx::new(&session, &admin, "audit"),
        targets: serde_json::from_str(&e.targets).unwrap_or_default(),
        diff: diff(&details),
        other_details: match &rest {
            serde_json::Value::Object(m) if m.is_empty() => String::new(),
            v => serde_json::to_string_pretty(v).unwrap_or_default(),
        },
        e,
    })
}

async fn export(
    admin: CurrentAdmin,
    audit: AuditCtx,
    data: web::Data<AppData>,
    q: FilterQuery,
    format: Format,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::AuditExport);
    admin.require_audit_reader()?;
    audit.detail("format", format.extension());
    audit.detail("filter", q.to_json());
    let filter = q.to_filter().map_err(|errors| AppError::Validation {
        message: format!("invalid filter: {}", errors.fields().join(", ")),
        fields: errors
            .fields()
            .iter()
            .map(|f| (f.to_string(), vec![errors.get(f).to_string()]))
            .collect(),
    })?;
    // The stream only starts once the middleware has stored this request's event
    // (it runs after this handler returns): if that fails, the client gets 503
    // and not one row.
    let name = format!(
        "audit-{}.{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        format.extension()
    );
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(export::stream(data.db.clone(), filter, format)))
}

#[get("/audit/export.csv", name = "audit.export")]
pub async fn export_csv(
    admin: CurrentAdmin,
    audit: AuditCtx,
    data: web::Data<AppData>,
    q: web::Query<FilterQuery>,
) -> Result<HttpResponse, AppError> {
    export(admin, audit, data, q.into_inner(), Format::Csv).await
}

#[get("/audit/export.jsonl", name = "audit.export")]
pub async fn export_jsonl(
    admin: CurrentAdmin,
    audit: AuditCtx,
    data: web::Data<AppData>,
    q: web::Query<FilterQuery>,
) -> Result<HttpResponse, AppError> {
    export(admin, audit, data, q.into_inner(), Format::JsonLines).await
}

/// Seals pending events and walks the chain now. Every audit reader may: it
/// changes no user data, and checking the trail is an auditor's job.
#[post("/audit/verify", name = "audit.verify")]
pub async fn verify(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::AuditVerify);
    admin.require_audit_reader()?;
    let report = chain::verify(&data.db).await?;
    audit.detail("ok", report.ok);
    audit.detail("checked", report.checked);
    audit.detail("head_seq", report.head_seq);
    if let Some(id) = report.first_bad_id {
        audit.detail("first_bad_id", id);
        audit.detail("problem", report.problem.clone().unwrap_or_default());
        audit.outcome(Outcome::Error);
    }
    let txn = crate::db::begin_write(&data.db).await?;
    audit.commit(txn, StatusCode::SEE_OTHER).await?;
    if report.ok {
        session::push_flash(&session, Flash::success(report.summary()));
    } else {
        tracing::error!(summary = %report.summary(), "audit chain verification failed");
        session::push_flash(&session, Flash::error(report.summary()));
    }
    Ok(see_other("/audit"))
}
