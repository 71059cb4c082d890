//! `/services…` handlers.
use actix_session::Session;
use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;

use super::{
    forms::ServiceForm,
    queries::{self, WithCount},
    service::{self, ServiceError},
};
use crate::{
    audit::{Action, AuditCtx, Outcome},
    error::AppError,
    i18n::Msg,
    state::AppData,
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
    row_error: Option<(i32, Msg)>,
}

async fn page(
    data: &AppData,
    session: &Session,
    admin: &CurrentAdmin,
    status: StatusCode,
    form: Option<&ServiceForm>,
    errors: FormErrors,
    row_error: Option<(i32, Msg)>,
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

/// The form errors of a refused catalogue change.
fn form_errors(e: &ServiceError) -> FormErrors {
    let mut errors = FormErrors::default();
    for (field, message) in e.fields() {
        errors.add(field, message);
    }
    errors
}

pub async fn list(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ServiceList);
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

pub async fn create(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    CsrfForm(form): CsrfForm<ServiceForm>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ServiceCreate);
    let txn = crate::db::begin_write(&data.db).await?;
    let s = match service::create(&txn, &form.name, &form.description).await {
        Ok(s) => s,
        Err(ServiceError::Db(e)) => return Err(e.into()),
        Err(e) => {
            drop(txn);
            let errors = form_errors(&e);
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
    };
    let name = s.name.clone();
    audit.detail("service_id", s.id);
    audit.detail(
        "after",
        serde_json::json!({"name": s.name, "description": s.description}),
    );
    audit.commit(txn, StatusCode::SEE_OTHER).await?;
    session::push_flash(
        &session,
        Flash::success(Msg::new("flash-service-added").arg("name", &name)),
    );
    Ok(see_other("/services"))
}

pub async fn rename(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    id: web::Path<i32>,
    CsrfForm(form): CsrfForm<ServiceForm>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ServiceUpdate);
    let s = queries::find(&data.db, *id)
        .await?
        .ok_or(AppError::NotFound)?;
    audit.detail("service_id", s.id);
    let txn = crate::db::begin_write(&data.db).await?;
    let batch_id = crate::crypto::random_id();
    let users = match service::update(&txn, &s, &form.name, &form.description, &batch_id).await {
        Ok(users) => users,
        Err(ServiceError::Db(e)) => return Err(e.into()),
        Err(e) => {
            drop(txn);
            let errors = form_errors(&e);
            audit.outcome(Outcome::Invalid);
            audit.detail("fields", errors.to_json());
            let msg = errors
                .fields()
                .first()
                .map(|f| errors.get(f).clone())
                .unwrap_or_else(|| Msg::new("error-validation"));
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
    };
    let name = form.name.trim().to_string();
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
        Flash::success(if users.is_empty() {
            Msg::new("flash-service-saved").arg("name", &name)
        } else {
            Msg::new("flash-service-saved-synced")
                .arg("name", &name)
                .num("count", users.len())
        }),
    );
    Ok(see_other("/services"))
}

pub async fn delete(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    id: web::Path<i32>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ServiceDelete);
    let s = queries::find(&data.db, *id)
        .await?
        .ok_or(AppError::NotFound)?;
    audit.detail("service_id", s.id);
    let txn = crate::db::begin_write(&data.db).await?;
    match service::delete(&txn, &s).await {
        Ok(()) => {}
        Err(ServiceError::InUse { users, .. }) => {
            drop(txn);
            audit.outcome(Outcome::Invalid);
            audit.targets(users.clone());
            let shown: Vec<&str> = users.iter().take(10).map(String::as_str).collect();
            let msg = Msg::new("services-in-use")
                .arg("name", &s.name)
                .num("count", users.len())
                .arg("users", shown.join(", "))
                .num("more", users.len().saturating_sub(10));
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
        Err(ServiceError::Db(e)) => return Err(e.into()),
        Err(e) => return Err(AppError::BadRequest(e.to_string())),
    }
    audit.detail(
        "before",
        serde_json::json!({"name": s.name, "description": s.description}),
    );
    audit.commit(txn, StatusCode::SEE_OTHER).await?;
    session::push_flash(
        &session,
        Flash::success(Msg::new("flash-service-deleted").arg("name", &s.name)),
    );
    Ok(see_other("/services"))
}
