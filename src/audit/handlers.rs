//! `/audit` for auditors, admins and super admins.
use actix_session::Session;
use actix_web::{get, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::{Action, AuditCtx, queries};
use crate::{
    entities::audit_event,
    error::AppError,
    startup::AppData,
    web::{CurrentAdmin, PageCtx},
};

#[derive(Template, WebTemplate)]
#[template(path = "audit/list.html")]
pub struct ListPage {
    ctx: PageCtx,
    events: Vec<audit_event::Model>,
    next_before: Option<i64>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    before: Option<i64>,
}

const PAGE: u64 = 100;

#[get("/audit", name = "audit.list")]
pub async fn list(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    q: web::Query<ListQuery>,
) -> Result<ListPage, AppError> {
    audit.action(Action::AuditList);
    admin.require_audit_reader()?;
    let events = queries::page(&data.db, q.before, PAGE).await?;
    let next_before = (events.len() as u64 == PAGE)
        .then(|| events.last().map(|e| e.id))
        .flatten();
    audit.detail("count", events.len());
    Ok(ListPage {
        ctx: PageCtx::new(&session, &admin, "audit"),
        events,
        next_before,
    })
}
