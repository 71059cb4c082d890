//! `/audit` for auditors, admins and super admins: the filtered list, one event,
//! the streamed exports and the chain verification.
use actix_session::Session;
use actix_web::{HttpResponse, http::StatusCode, http::header, web};

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
    i18n::{Lang, Msg},
    state::AppData,
    web::{
        CsrfForm, CurrentAdmin, Flash, FormErrors, NoFields, PageCtx, pages::html, see_other,
        session,
    },
};

const PAGE: u64 = 100;

pub async fn list(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    q: web::Query<FilterQuery>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::AuditList);
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
    let filter = match page.q.to_filter(admin.locale.tz) {
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

pub async fn view(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    path: web::Path<i64>,
) -> Result<ViewPage, AppError> {
    audit.action(Action::AuditView);
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
    audit.detail("format", format.extension());
    audit.detail("filter", q.to_json());
    let filter = q
        .to_filter(admin.locale.tz)
        .map_err(|errors| AppError::Validation {
            message: format!("invalid filter: {}", errors.fields().join(", ")),
            // The English text: this body is for machines too.
            fields: errors
                .fields()
                .iter()
                .map(|f| (f.to_string(), vec![errors.get(f).render(Lang::En)]))
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

pub async fn export_csv(
    admin: CurrentAdmin,
    audit: AuditCtx,
    data: web::Data<AppData>,
    q: web::Query<FilterQuery>,
) -> Result<HttpResponse, AppError> {
    export(admin, audit, data, q.into_inner(), Format::Csv).await
}

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
pub async fn verify(
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::AuditVerify);
    let keys = chain::AuditKeys::from_secrets(&data.settings.secrets);
    let report = chain::verify(&data.db, &keys).await?;
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
        session::push_flash(
            &session,
            Flash::success(
                Msg::new("flash-chain-intact")
                    .num("count", report.checked)
                    .num("seq", report.head_seq)
                    .num("sealed", report.sealed_now),
            ),
        );
    } else {
        tracing::error!(summary = %report.summary(), "audit chain verification failed");
        session::push_flash(
            &session,
            Flash::error(Msg::new("flash-chain-broken").arg(
                "id",
                report.first_bad_id.map_or("?".into(), |i| i.to_string()),
            )),
        );
    }
    Ok(see_other("/audit"))
}
