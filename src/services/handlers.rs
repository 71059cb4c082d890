//! `/services…` handlers.
use actix_session::Session;
use actix_web::{HttpResponse, get, http::StatusCode, post, web};
use askama::Template;

use super::queries::{self, WithCount};
use crate::{
    audit::{Action, AuditCtx, Outcome},
    error::AppError,
    state::AppData,
    users::forms::{ServiceForm, check_service_name},
    web::{
        CsrfForm, CurrentAdmin, Flash, FormErrors, NoFields, PageCtx, pages::html, see_other,
        session,
    },
};

#[derive(Template)]
#[template(path = "services/list.html")]
struct ListPage {
    ctx: PageCtx,
    services: Vec<WithCount>,
    name: String,
    description: String,
    errors: FormErrors,
    /// The service a rename or delete problem is about, and the message.
    row_error: Option<(i32, String)>,
}

async fn page(
    data: &AppData,
    session: &Session,
    admin: &CurrentAdmin,
    status: StatusCode,
    form: Option<&ServiceForm>,
    errors: FormErrors,
    row_error: Option<(i32, String)>,
) -> Result<HttpResponse, AppError> {
    let services = queries::list(&data.db).await?;
    html(
        status,
        &ListPage {
            ctx: PageCtx::new(session, admin, "services"),
            services,
            name: form
                .map(|f| f.name.chars().take(200).collect())
                .unwrap_or_default(),
            description: form
                .map(|f| f.description.chars().take(1200).collect())
                .unwrap_or_default(),
            errors,
            row_error,
        },
    )
}

/// Checks a service form; `except` is the service being renamed.
async fn check(
    data: &AppData,
    form: &ServiceForm,
    except: Option<i32>,
) -> Result<(FormErrors, String), AppError> {
    let mut errors = FormErrors::default();
    let name = match check_service_name(&form.name) {
        Ok(n) => n,
        Err(e) => {
            errors.add("name", e);
            String::new()
        }
    };
    if form.description.chars().count() > 1000 {
        errors.add("description", "A description has at most 1,000 characters.");
    }
    if form
        .description
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r')
    {
        errors.add("description", "The description has control characters.");
    }
    if errors.is_empty()
        && let Some(other) = queries::find_by_name(&data.db, &name).await?
        && Some(other.id) != except
    {
        errors.add("name", "A service with this name already exists.");
    }
    Ok((errors, name))
}

#[get("/services", name = "service.list")]
pub async fn list(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ServiceList);
    admin.require_manager()?;
    page(
        &data,
        &session,
        &admin,
        StatusCode::OK,
        None,
        FormErrors::default(),
        None,
    )
    .await
}

#[post("/services", name = "service.create")]
pub async fn create(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    CsrfForm(form): CsrfForm<ServiceForm>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ServiceCreate);
    admin.require_manager()?;
    let (errors, name) = check(&data, &form, None).await?;
    if !errors.is_empty() {
        audit.outcome(Outcome::Invalid);
        audit.detail("fields", errors.to_json());
        return page(
            &data,
            &session,
            &admin,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&form),
            errors,
            None,
        )
        .await;
    }
    let txn = crate::db::begin_write(&data.db).await?;
    let s = queries::create(&txn, &name, form.description.trim()).await?;
    audit.detail("service_id", s.id);
    audit.detail(
        "after",
        serde_json::json!({"name": s.name, "description": s.description}),
    );
    audit.commit(txn, StatusCode::SEE_OTHER).await?;
    session::push_flash(&session, Flash::success(format!("Added service `{name}`.")));
    Ok(see_other("/services"))
}

#[post("/services/{id}/rename", name = "service.update")]
pub async fn rename(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    id: web::Path<i32>,
    CsrfForm(form): CsrfForm<ServiceForm>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ServiceUpdate);
    admin.require_manager()?;
    let s = queries::find(&data.db, *id)
        .await?
        .ok_or(AppError::NotFound)?;
    audit.detail("service_id", s.id);
    let (errors, name) = check(&data, &form, Some(s.id)).await?;
    if !errors.is_empty() {
        audit.outcome(Outcome::Invalid);
        audit.detail("fields", errors.to_json());
        let msg = errors
            .fields()
            .iter()
            .map(|f| errors.get(f).to_string())
            .collect::<Vec<_>>()
            .join(" ");
        return page(
            &data,
            &session,
            &admin,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            FormErrors::default(),
            Some((s.id, msg)),
        )
        .await;
    }
    let txn = crate::db::begin_write(&data.db).await?;
    queries::rename(&txn, s.id, &name, form.description.trim()).await?;
    // Services travel in the keys' metadata: their users must be re-synced.
    let users = if name != s.name {
        queries::users_of(&txn, s.id).await?
    } else {
        vec![]
    };
    let batch_id = crate::crypto::random_id();
    crate::litellm::outbox::enqueue_upsert(&txn, &users, Some(&batch_id)).await?;
    audit.targets(users.clone());
    audit.detail(
        "before",
        serde_json::json!({"name": s.name, "description": s.description}),
    );
    audit.detail(
        "after",
        serde_json::json!({"name": name, "description": form.description.trim()}),
    );
    audit.commit(txn, StatusCode::SEE_OTHER).await?;
    session::push_flash(
        &session,
        Flash::success(format!(
            "Saved service `{name}`{}.",
            if users.is_empty() {
                String::new()
            } else {
                format!("; {} user(s) queued for LiteLLM sync", users.len())
            }
        )),
    );
    Ok(see_other("/services"))
}

#[post("/services/{id}/delete", name = "service.delete")]
pub async fn delete(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    id: web::Path<i32>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ServiceDelete);
    admin.require_manager()?;
    let s = queries::find(&data.db, *id)
        .await?
        .ok_or(AppError::NotFound)?;
    audit.detail("service_id", s.id);
    let txn = crate::db::begin_write(&data.db).await?;
    let users = queries::users_of(&txn, s.id).await?;
    if !users.is_empty() {
        drop(txn);
        audit.outcome(Outcome::Invalid);
        audit.targets(users.clone());
        let shown: Vec<&str> = users.iter().take(10).map(String::as_str).collect();
        let more = if users.len() > 10 {
            format!(" and {} more", users.len() - 10)
        } else {
            String::new()
        };
        let msg = format!(
            "`{}` is still used by {} user(s): {}{more}. Remove it from them first (select them on /users, “Services: remove”).",
            s.name,
            users.len(),
            shown.join(", ")
        );
        return page(
            &data,
            &session,
            &admin,
            StatusCode::CONFLICT,
            None,
            FormErrors::default(),
            Some((s.id, msg)),
        )
        .await;
    }
    queries::delete(&txn, s.id).await?;
    audit.detail(
        "before",
        serde_json::json!({"name": s.name, "description": s.description}),
    );
    audit.commit(txn, StatusCode::SEE_OTHER).await?;
    session::push_flash(
        &session,
        Flash::success(format!("Deleted service `{}`.", s.name)),
    );
    Ok(see_other("/services"))
}
