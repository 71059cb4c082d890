//! `/api-clients…`: list, create (token shown once), revoke. Managers only.
use actix_session::Session;
use actix_web::{HttpResponse, get, http::StatusCode, post, web};

use super::{
    Scope,
    forms::NewClientForm,
    queries, service,
    views::{ClientRow, CreatedPage, ListPage, NewPage, RevokePage},
};
use crate::{
    audit::{Action, AuditCtx, Outcome},
    error::AppError,
    state::AppData,
    web::{
        CsrfForm, CurrentAdmin, Flash, FormErrors, NoFields, PageCtx, pages::html, see_other,
        session,
    },
};

#[get("/api-clients", name = "api_client.list")]
pub async fn list(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
) -> Result<ListPage, AppError> {
    audit.action(Action::ApiClientList);
    admin.require_manager()?;
    let clients = queries::list(&data.db).await?;
    audit.detail("count", clients.len());
    let default = data.settings.api_rate_limit_per_minute;
    Ok(ListPage {
        clients: clients
            .iter()
            .map(|c| ClientRow::from(c, default))
            .collect(),
        ctx: PageCtx::new(&session, &admin, "api_clients"),
    })
}

#[get("/api-clients/new", name = "api_client.view")]
pub async fn new_form(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
) -> Result<NewPage, AppError> {
    audit.action(Action::ApiClientView);
    admin.require_manager()?;
    Ok(NewPage {
        ctx: PageCtx::new(&session, &admin, "api_clients"),
        name: String::new(),
        scopes: vec![Scope::KeysRead.as_str().to_string()],
        rate_limit_per_minute: String::new(),
        default_limit: data.settings.api_rate_limit_per_minute,
        errors: FormErrors::default(),
        all: Scope::ALL,
    })
}

#[post("/api-clients", name = "api_client.create")]
pub async fn create(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    CsrfForm(form): CsrfForm<NewClientForm>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ApiClientCreate);
    admin.require_manager()?;
    let checked = match form.check(&admin.username) {
        Ok(new) if queries::find_by_name(&data.db, &new.name).await?.is_some() => {
            let mut e = FormErrors::default();
            e.add("name", "An API client with this name already exists.");
            Err(e)
        }
        other => other,
    };
    let new = match checked {
        Ok(new) => new,
        Err(errors) => {
            audit.outcome(Outcome::Invalid);
            audit.detail("fields", errors.to_json());
            let page = NewPage {
                ctx: PageCtx::new(&session, &admin, "api_clients"),
                name: form.name.chars().take(64).collect(),
                scopes: form.scopes,
                rate_limit_per_minute: form.rate_limit_per_minute.chars().take(16).collect(),
                default_limit: data.settings.api_rate_limit_per_minute,
                errors,
                all: Scope::ALL,
            };
            return html(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let txn = crate::db::begin_write(&data.db).await?;
    let (client, token) = service::create_client(&txn, new).await?;
    audit.detail("api_client_id", client.id);
    audit.detail("after", service::describe(&client));
    audit.commit(txn, StatusCode::OK).await?;
    // The one exception to POST-redirect-GET: the token exists only in this
    // response (never in a cookie, a URL or the database), so it is rendered here.
    let page = CreatedPage {
        ctx: PageCtx::new(&session, &admin, "api_clients"),
        name: client.name,
        scopes: client.scopes,
        token: token.0,
    };
    html(StatusCode::OK, &page)
}

/// Asks before revoking: the client's token stops working at once.
#[get("/api-clients/{id}/revoke", name = "api_client.view")]
pub async fn revoke_form(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    path: web::Path<i32>,
) -> Result<RevokePage, AppError> {
    audit.action(Action::ApiClientView);
    admin.require_manager()?;
    let id = path.into_inner();
    audit.detail("api_client_id", id);
    let client = queries::find(&data.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(RevokePage {
        ctx: PageCtx::new(&session, &admin, "api_clients"),
        client: ClientRow::from(&client, data.settings.api_rate_limit_per_minute),
    })
}

#[post("/api-clients/{id}/revoke", name = "api_client.revoke")]
pub async fn revoke(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    path: web::Path<i32>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::ApiClientRevoke);
    admin.require_manager()?;
    let id = path.into_inner();
    let before = queries::find(&data.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    audit.detail("api_client_id", id);
    audit.detail("name", before.name.clone());
    let txn = crate::db::begin_write(&data.db).await?;
    let changed = service::revoke_client(&txn, id).await?;
    let after = queries::find(&txn, id).await?.ok_or(AppError::NotFound)?;
    audit.detail("before", service::describe(&before));
    audit.detail("after", service::describe(&after));
    audit.detail("changed", changed);
    audit.commit(txn, StatusCode::SEE_OTHER).await?;
    let msg = if changed {
        format!(
            "Revoked `{}`. Its token stopped working at once.",
            after.name
        )
    } else {
        format!("`{}` was already revoked.", after.name)
    };
    session::push_flash(&session, Flash::success(msg));
    Ok(see_other("/api-clients"))
}
