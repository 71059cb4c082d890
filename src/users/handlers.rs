//! `/users` handlers.
use actix_session::Session;
use actix_web::{HttpResponse, get, web};
use askama::Template;

use super::queries;
use crate::{
    admins::Role,
    audit::{Action, AuditCtx},
    entities::user,
    error::AppError,
    startup::AppData,
    web::{CurrentAdmin, PageCtx, pages::html, see_other},
};

#[derive(Template)]
#[template(path = "users/list.html")]
struct ListPage {
    ctx: PageCtx,
    users: Vec<user::Model>,
    total: u64,
}

#[get("/users", name = "user.list")]
pub async fn list(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::UserList);
    if admin.role == Role::Auditor {
        // Auditors land here after login (the /login contract); their page is /audit.
        return Ok(see_other("/audit"));
    }
    admin.require_manager()?;
    let (users, total) = queries::first_page(&data.db, 100).await?;
    audit.targets(users.iter().map(|u| u.user_id.clone()).collect());
    audit.detail("total", total);
    html(
        actix_web::http::StatusCode::OK,
        &ListPage {
            ctx: PageCtx::new(&session, &admin, "users"),
            users,
            total,
        },
    )
}
