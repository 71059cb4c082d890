//! `/account/password` for everyone; `/admins…` for super admins only.
use actix_session::Session;
use actix_web::{HttpResponse, http::StatusCode, web};
use secrecy::SecretString;

use super::{
    Role,
    forms::{
        ChangePasswordForm, NewAdminForm, ResetPasswordForm, check_new_password, normalise_username,
    },
    password::{self, Hasher},
    queries, throttle,
    views::{AdminRow, DeletePage, ListPage, NewPage, PasswordPage, ResetPage},
};
use crate::{
    audit::{Action, AuditCtx, Outcome},
    crypto::{random_token, sha256_hex},
    entities::admin,
    error::AppError,
    i18n::Msg,
    state::AppData,
    web::{
        CsrfForm, CurrentAdmin, Flash, FormErrors, NoFields, PageCtx, pages::html, see_other,
        session,
    },
};

pub async fn password_form(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
) -> Result<PasswordPage, AppError> {
    audit.action(Action::PasswordView);
    Ok(PasswordPage {
        forced: admin.must_change_password,
        ctx: PageCtx::new(&session, &admin, "account"),
        errors: FormErrors::default(),
    })
}

pub async fn change_password(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    hasher: web::Data<Hasher>,
    CsrfForm(form): CsrfForm<ChangePasswordForm>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::PasswordChange);
    let mut errors = form.check(&admin.username);
    let current = queries::find(&data.db, admin.id)
        .await?
        .ok_or(AppError::LoginRequired)?;
    if !form.current_password.is_empty()
        && !hasher
            .verify(
                SecretString::from(form.current_password.clone()),
                Some(current.password_hash),
            )
            .await
            .map_err(AppError::Internal)?
            .map_err(|_| AppError::RateLimited { retry_after: 1 })?
    {
        errors.add("current_password", "err-current-password-wrong");
    }
    if !errors.is_empty() {
        audit.outcome(Outcome::Invalid);
        audit.detail("fields", errors.to_json());
        let page = PasswordPage {
            forced: admin.must_change_password,
            ctx: PageCtx::new(&session, &admin, "account"),
            errors,
        };
        return html(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let hash = hasher
        .hash(SecretString::from(form.new_password))
        .await
        .map_err(AppError::Internal)?
        .map_err(|_| AppError::RateLimited { retry_after: 1 })?;
    // A new session token too: whoever copied the old cookie is out with the old password.
    let token = random_token();
    let txn = crate::db::begin_write(&data.db).await?;
    queries::set_password(&txn, admin.id, hash, false).await?;
    let ended = queries::end_other_sessions(&txn, admin.id, &admin.session_id).await?;
    crate::web::sessions::delete_session(&txn, &admin.session_id).await?;
    queries::create_session(
        &txn,
        &sha256_hex(&token),
        admin.id,
        audit.client_ip(),
        audit.user_agent(),
    )
    .await?;
    audit.detail("other_sessions_ended", ended);
    audit.detail("session_renewed", true);
    audit.commit(txn, StatusCode::SEE_OTHER).await?;
    session::replace_sid(&session, &token);
    session::push_flash(&session, Flash::success("flash-password-changed"));
    Ok(see_other("/users"))
}

pub async fn list(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
) -> Result<ListPage, AppError> {
    audit.action(Action::AdminList);
    let admins = queries::list(&data.db).await?;
    audit.detail("count", admins.len());
    Ok(ListPage {
        admins: admins.iter().map(|a| AdminRow::from(a, admin.id)).collect(),
        ctx: PageCtx::new(&session, &admin, "admins"),
    })
}

pub async fn new_form(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
) -> Result<NewPage, AppError> {
    audit.action(Action::AdminView);
    Ok(NewPage {
        ctx: PageCtx::new(&session, &admin, "admins"),
        username: String::new(),
        role: "admin".into(),
        errors: FormErrors::default(),
        roles: Role::ALL,
    })
}

pub async fn create(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    CsrfForm(form): CsrfForm<NewAdminForm>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::AdminCreate);
    let username = normalise_username(&form.username);
    let (mut errors, role) = form.check();
    if errors.is_empty()
        && queries::find_by_username(&data.db, &username)
            .await?
            .is_some()
    {
        errors.add("username", "err-username-taken");
    }
    audit.detail("username", username.chars().take(64).collect::<String>());
    audit.detail("role", form.role.chars().take(32).collect::<String>());
    let (Some(role), true) = (role, errors.is_empty()) else {
        audit.outcome(Outcome::Invalid);
        audit.detail("fields", errors.to_json());
        let page = NewPage {
            ctx: PageCtx::new(&session, &admin, "admins"),
            username: form.username.chars().take(64).collect(),
            role: form.role,
            errors,
            roles: Role::ALL,
        };
        return html(StatusCode::UNPROCESSABLE_ENTITY, &page);
    };
    let hash = password::hash(SecretString::from(form.password))
        .await
        .map_err(AppError::Internal)?;
    let txn = crate::db::begin_write(&data.db).await?;
    let created = queries::create(&txn, &username, hash, role, true).await?;
    audit.detail("admin_id", created.id);
    audit.detail("after", serde_json::json!({"username": username, "role": role.as_str(), "must_change_password": true}));
    audit.commit(txn, StatusCode::SEE_OTHER).await?;
    session::push_flash(
        &session,
        Flash::success(
            Msg::new("flash-admin-created")
                .key_arg("role", role.noun())
                .arg("username", &username),
        ),
    );
    Ok(see_other("/admins"))
}

async fn target(data: &AppData, id: i32, audit: &AuditCtx) -> Result<admin::Model, AppError> {
    let t = queries::find(&data.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    audit.detail("admin_id", t.id);
    audit.detail("username", t.username.clone());
    Ok(t)
}

/// Why `me` may not delete `target`, if they may not.
async fn deletion_refusal(
    data: &AppData,
    me: &CurrentAdmin,
    target: &admin::Model,
) -> Result<Option<&'static str>, AppError> {
    if target.id == me.id {
        return Ok(Some("admins-refuse-self"));
    }
    if target.role == Role::SuperAdmin.as_str()
        && queries::count_role(&data.db, Role::SuperAdmin).await? <= 1
    {
        return Ok(Some("admins-refuse-last"));
    }
    Ok(None)
}

pub async fn delete_form(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    id: web::Path<i32>,
) -> Result<DeletePage, AppError> {
    audit.action(Action::AdminView);
    let t = target(&data, *id, &audit).await?;
    let refusal = deletion_refusal(&data, &admin, &t)
        .await?
        .unwrap_or_default()
        .to_string();
    Ok(DeletePage {
        target: AdminRow::from(&t, admin.id),
        ctx: PageCtx::new(&session, &admin, "admins"),
        refusal,
    })
}

pub async fn delete(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    id: web::Path<i32>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::AdminDelete);
    let t = target(&data, *id, &audit).await?;
    if let Some(why) = deletion_refusal(&data, &admin, &t).await? {
        return Err(AppError::Conflict(why.to_string()));
    }
    let txn = crate::db::begin_write(&data.db).await?;
    // Again inside the transaction, with the super admins' rows locked: two
    // super admins deleting each other at once must not leave none.
    if t.role == Role::SuperAdmin.as_str()
        && queries::lock_and_count_role(&txn, Role::SuperAdmin).await? <= 1
    {
        txn.rollback().await?;
        return Err(AppError::Conflict(
            "This is the last super admin; it cannot be deleted.".into(),
        ));
    }
    let ended = queries::end_all_sessions(&txn, t.id).await?;
    queries::delete(&txn, t.id).await?;
    audit.detail(
        "before",
        serde_json::json!({"username": t.username, "role": t.role}),
    );
    audit.detail("sessions_ended", ended);
    audit.commit(txn, StatusCode::SEE_OTHER).await?;
    session::push_flash(
        &session,
        Flash::success(Msg::new("flash-admin-deleted").arg("username", &t.username)),
    );
    Ok(see_other("/admins"))
}

pub async fn reset_form(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    id: web::Path<i32>,
) -> Result<ResetPage, AppError> {
    audit.action(Action::AdminView);
    let t = target(&data, *id, &audit).await?;
    Ok(ResetPage {
        target: AdminRow::from(&t, admin.id),
        ctx: PageCtx::new(&session, &admin, "admins"),
        errors: FormErrors::default(),
    })
}

pub async fn reset(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    id: web::Path<i32>,
    CsrfForm(form): CsrfForm<ResetPasswordForm>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::AdminPasswordReset);
    let t = target(&data, *id, &audit).await?;
    let mut errors = FormErrors::default();
    check_new_password(
        &mut errors,
        "password",
        &form.password,
        &form.confirm_password,
        &t.username,
    );
    if !errors.is_empty() {
        audit.outcome(Outcome::Invalid);
        audit.detail("fields", errors.to_json());
        let page = ResetPage {
            target: AdminRow::from(&t, admin.id),
            ctx: PageCtx::new(&session, &admin, "admins"),
            errors,
        };
        return html(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let hash = password::hash(SecretString::from(form.password))
        .await
        .map_err(AppError::Internal)?;
    let txn = crate::db::begin_write(&data.db).await?;
    queries::set_password(&txn, t.id, hash, true).await?;
    throttle::unlock_account(&txn, t.id).await?;
    let ended = queries::end_all_sessions(&txn, t.id).await?;
    audit.detail("sessions_ended", ended);
    audit.detail(
        "after",
        serde_json::json!({"must_change_password": true, "unlocked": true}),
    );
    audit.commit(txn, StatusCode::SEE_OTHER).await?;
    session::push_flash(
        &session,
        Flash::success(Msg::new("flash-admin-reset").arg("username", &t.username)),
    );
    Ok(see_other("/admins"))
}
