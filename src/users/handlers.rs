//! `/users…` handlers: thin — extract, call, render or redirect.
use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use secrecy::ExposeSecret;

use super::{
    bulk::{self, BulkError},
    forms::{
        BulkForm, CreateManyForm, EditForm, ListParams, ListQuery, Selection, parse_lines,
        parse_models, parse_names, parse_services, urlencode,
    },
    messages, queries, service,
    views::{
        BulkDonePage, BulkErrorPage, BulkPreviewPage, Catalogue, CreatePage, EditPage, EditPartial,
        EditView, LineView, ListPage, RevealPage, RevealPartial, Row, SyncStatePartial,
        SyncStateView, model_picks,
    },
};
use crate::{
    admins::Role,
    audit::{Action, AuditCtx, Outcome},
    error::AppError,
    i18n::Msg,
    state::AppData,
    web::{
        CsrfForm, CurrentAdmin, Flash, FormErrors, NoFields, PageCtx, pages::html, see_other,
        session,
    },
};

fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().contains_key("hx-request")
}

async fn catalogue(data: &AppData) -> Result<Catalogue, AppError> {
    Ok(crate::catalogue::load(&data.db)
        .await?
        .configured(data.settings.litellm.is_some()))
}

pub async fn list(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::UserList);
    if admin.role == Role::Auditor {
        // Auditors land here after login (the /login contract); their page is /audit.
        // They were not shown the list: recorded as refused, and where they were sent.
        audit.outcome(Outcome::Denied);
        audit.detail("redirected_to", "/audit");
        return Ok(see_other("/audit"));
    }
    admin.require_manager()?;
    let q = ListQuery::from_params(&params);
    let (rows, total) = queries::list(&data.db, &q).await?;
    audit.targets(rows.iter().map(|r| r.user.user_id.clone()).collect());
    audit.detail("total", total);
    if !q.q.is_empty() {
        audit.detail("q", q.q.clone());
    }
    let cat = catalogue(&data).await?;
    let services = queries::services(&data.db).await?;
    let rows = rows.into_iter().map(|l| Row::new(l, &cat)).collect();
    let mut page = ListPage::build(
        PageCtx::new(&session, &admin, "users"),
        &q,
        rows,
        total,
        &cat,
        &services,
    );
    page.poll_ms = data.settings.ui_poll_interval.as_millis();
    html(StatusCode::OK, &page)
}

#[derive(Debug, serde::Deserialize)]
pub struct SyncStateQuery {
    /// Comma-separated user IDs (IDs cannot hold commas).
    #[serde(default)]
    ids: String,
}

/// The sync states of the listed users, polled by /users while some are pending:
/// each state is swapped into its row (out of band), and the poller comes back
/// asking only for those still pending — or without a trigger when none are.
pub async fn sync_state(
    admin: CurrentAdmin,
    audit: AuditCtx,
    data: web::Data<AppData>,
    query: web::Query<SyncStateQuery>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::UsersSyncState);
    let mut ids: Vec<String> = query
        .ids
        .split(',')
        .filter_map(|s| super::forms::UserId::parse(s).ok())
        .map(super::forms::UserId::into_inner)
        .take(super::forms::PAGE_SIZES[2] as usize)
        .collect();
    ids.sort();
    ids.dedup();
    let users = if ids.is_empty() {
        vec![]
    } else {
        queries::find_many(&data.db, &ids).await?
    };
    audit.targets(users.iter().map(|u| u.user_id.clone()).collect());
    let page = SyncStatePartial {
        ctx: PageCtx::fragment(&admin),
        states: users
            .iter()
            .map(|u| SyncStateView {
                dom_id: super::views::sync_dom_id(&u.user_id),
                state: u.sync_state.clone(),
                error: u.sync_error.clone().unwrap_or_default(),
            })
            .collect(),
        pending: users
            .iter()
            .filter(|u| u.sync_state == "pending")
            .map(|u| u.user_id.clone())
            .collect::<Vec<_>>()
            .join(","),
        poll_ms: data.settings.ui_poll_interval.as_millis(),
    };
    let body = askama::Template::render(&page).map_err(|e| AppError::Internal(e.into()))?;
    audit.quiet(crate::crypto::sha256_hex(&body));
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body))
}

/// Where to go back to after a bulk action: the list, with the same search.
fn back_url(q: &str) -> String {
    if q.trim().is_empty() {
        "/users".into()
    } else {
        format!("/users?q={}", urlencode(q.trim()))
    }
}

/// The fields that carry a bulk action from its preview to its apply step.
fn hidden_fields(form: &BulkForm) -> Vec<(String, String)> {
    let mut h = vec![("op".to_string(), form.op.clone())];
    match form.selection() {
        Selection::Matching(q) => {
            h.push(("all_matching".into(), "1".into()));
            h.push(("q".into(), q));
        }
        Selection::Holding(m) => {
            h.push(("holding_model".into(), m));
        }
        Selection::Ids(ids) => {
            h.push(("q".into(), form.q.clone()));
            h.extend(ids.into_iter().map(|i| ("ids".to_string(), i)));
        }
    }
    for m in parse_names(&form.models) {
        h.push(("models".into(), m));
    }
    for s in parse_names(&form.services) {
        h.push(("services".into(), s));
    }
    h.push(("organisation".into(), form.organisation.clone()));
    h.push(("limit_value".into(), form.limit_value.clone()));
    h
}

/// The bulk alias action uses the configured template, or `{user_id}` without one.
fn with_alias_template(op: super::forms::BulkOp, data: &AppData) -> super::forms::BulkOp {
    match op {
        super::forms::BulkOp::Alias(_) => {
            let t = data.settings.key_alias_template.trim();
            super::forms::BulkOp::Alias(if t.is_empty() { "{user_id}" } else { t }.to_string())
        }
        op => op,
    }
}

fn bulk_error(
    session: &Session,
    admin: &CurrentAdmin,
    audit: &AuditCtx,
    field: &str,
    msg: impl Into<Msg>,
    back: String,
) -> Result<HttpResponse, AppError> {
    audit.outcome(Outcome::Invalid);
    let mut errors = FormErrors::default();
    errors.add(field, msg);
    audit.detail("fields", errors.to_json());
    html(
        StatusCode::UNPROCESSABLE_ENTITY,
        &BulkErrorPage {
            ctx: PageCtx::new(session, admin, "users"),
            errors,
            back,
        },
    )
}

pub async fn bulk_preview(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    CsrfForm(form): CsrfForm<BulkForm>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::UsersBulkPreview);
    let back = back_url(&form.q);
    let op = match form.op_in(admin.locale.tz) {
        Ok(op) => with_alias_template(op, &data),
        Err((field, msg)) => return bulk_error(&session, &admin, &audit, field, msg, back),
    };
    let plan = match bulk::plan(&data.db, &form.selection(), op).await {
        Ok(p) => p,
        Err(BulkError::Field(f, m)) => return bulk_error(&session, &admin, &audit, f, m, back),
        Err(BulkError::Db(e)) => return Err(e.into()),
    };
    audit.targets(plan.users.iter().map(|u| u.user_id.clone()).collect());
    audit.detail("plan", plan.details());
    let page = BulkPreviewPage::new(
        PageCtx::new(&session, &admin, "users"),
        &plan,
        hidden_fields(&form),
        FormErrors::default(),
        back,
    );
    html(StatusCode::OK, &page)
}

pub async fn bulk_apply(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    CsrfForm(form): CsrfForm<BulkForm>,
) -> Result<HttpResponse, AppError> {
    audit.action(if form.op == "delete" {
        Action::UsersBulkDelete
    } else {
        Action::UsersBulkUpdate
    });
    // Checked here, not by a route group: a refused bulk delete is recorded as
    // a delete, which only the form says.
    admin.require_manager()?;
    let back = back_url(&form.q);
    let op = match form.op_in(admin.locale.tz) {
        Ok(op) => with_alias_template(op, &data),
        Err((field, msg)) => return bulk_error(&session, &admin, &audit, field, msg, back),
    };
    let txn = crate::db::begin_write(&data.db).await?;
    let plan = match bulk::plan(&txn, &form.selection(), op).await {
        Ok(p) => p,
        Err(BulkError::Field(f, m)) => return bulk_error(&session, &admin, &audit, f, m, back),
        Err(BulkError::Db(e)) => return Err(e.into()),
    };
    if plan.op == super::forms::BulkOp::Delete
        && form.confirm_count.trim() != plan.users.len().to_string()
    {
        audit.outcome(Outcome::Invalid);
        let mut errors = FormErrors::default();
        errors.add(
            "confirm_count",
            Msg::new("users-confirm-delete").num("count", plan.users.len()),
        );
        audit.detail("fields", errors.to_json());
        let page = BulkPreviewPage::new(
            PageCtx::new(&session, &admin, "users"),
            &plan,
            hidden_fields(&form),
            errors,
            back,
        );
        return html(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let batch_id = crate::crypto::random_id();
    bulk::apply(&txn, &data.cipher, &plan, &batch_id).await?;
    audit.targets(plan.changed_ids());
    audit.detail("batch_id", batch_id.clone());
    for (k, v) in plan.details().as_object().into_iter().flatten() {
        audit.detail(k, v.clone());
    }
    audit.commit(txn, StatusCode::SEE_OTHER).await?;
    let queued = plan.op != super::forms::BulkOp::Delete;
    let msg = messages::bulk_done_msg(&plan.effects, plan.changed.len(), queued, admin.locale.lang);
    // Committed: whatever the length of the result, the answer must not fail, so a
    // result too long for the cookie is shown on a page of its own.
    let text = msg.render(admin.locale.lang);
    if text.chars().count() > session::FLASH_MAX_CHARS {
        let page = BulkDonePage {
            ctx: PageCtx::new(&session, &admin, "users"),
            text,
            back,
        };
        return html(StatusCode::OK, &page);
    }
    let flash = if queued && !plan.changed.is_empty() {
        Flash::success(msg).with_link(format!("/sync#batch-{batch_id}"), "users-follow-sync")
    } else {
        Flash::success(msg)
    };
    session::push_flash(&session, flash);
    Ok(see_other(&back))
}

async fn create_page(
    data: &AppData,
    ctx: PageCtx,
    form: &CreateManyForm,
    errors: FormErrors,
    preview: Option<Vec<LineView>>,
) -> Result<CreatePage, AppError> {
    let cat = catalogue(data).await?;
    let services = queries::services(&data.db).await?;
    let (valid, invalid) = preview.as_ref().map_or((0, 0), |p| {
        let bad = p.iter().filter(|l| l.error.is_some()).count();
        (p.len() - bad, bad)
    });
    Ok(CreatePage {
        limits: form.limits(),
        ctx,
        lines_text: form.lines.clone(),
        mode: if form.mode == "valid" {
            "valid".into()
        } else {
            "all".into()
        },
        model_picks: model_picks(&cat, &parse_names(&form.models), false),
        service_picks: super::views::service_picks(&services, &parse_names(&form.services)),
        errors,
        preview,
        valid,
        invalid,
    })
}

pub async fn create_form(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::UsersBulkCreateView);
    let page = create_page(
        &data,
        PageCtx::new(&session, &admin, "users"),
        &CreateManyForm::default(),
        FormErrors::default(),
        None,
    )
    .await?;
    html(StatusCode::OK, &page)
}

/// Validates the whole create-many form: field errors, and the checked lines.
async fn check_create(
    data: &AppData,
    conn: &impl sea_orm::ConnectionTrait,
    form: &CreateManyForm,
    tz: chrono_tz::Tz,
) -> Result<
    (
        FormErrors,
        Vec<super::forms::Line>,
        Vec<String>,
        Vec<String>,
        super::limits::Limits,
    ),
    AppError,
> {
    let mut errors = FormErrors::default();
    let limits = form.limits().parse(tz).unwrap_or_else(|errs| {
        for (f, m) in errs {
            errors.add(f, m);
        }
        Default::default()
    });
    let models = match parse_models(&form.models) {
        Ok(m) => m,
        Err(e) => {
            errors.add("models", e);
            vec![]
        }
    };
    let services = match parse_services(&form.services) {
        Ok(s) => s,
        Err(e) => {
            errors.add("services", e);
            vec![]
        }
    };
    if let Err(e) = service::service_ids_by_name(conn, &services).await {
        errors.add("services", e);
    }
    let mut lines = match parse_lines(&form.lines) {
        Ok(l) => l,
        Err(e) => {
            errors.add("lines", e);
            vec![]
        }
    };
    if errors.is_empty() && lines.is_empty() {
        errors.add("lines", "err-lines-none");
    }
    service::check_existing(conn, &mut lines).await?;
    service::assign_aliases(conn, &data.settings.key_alias_template, &mut lines).await?;
    Ok((errors, lines, models, services, limits))
}

pub async fn create_preview(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    CsrfForm(form): CsrfForm<CreateManyForm>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::UsersBulkCreatePreview);
    let (errors, lines, _, _, _) = check_create(&data, &data.db, &form, admin.locale.tz).await?;
    let bad = lines.iter().filter(|l| l.error.is_some()).count();
    audit.detail("lines", lines.len());
    audit.detail("invalid_lines", bad);
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        audit.outcome(Outcome::Invalid);
        audit.detail("fields", errors.to_json());
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let preview = Some(lines.iter().map(LineView::from).collect());
    let page = create_page(
        &data,
        PageCtx::new(&session, &admin, "users"),
        &form,
        errors,
        preview,
    )
    .await?;
    html(status, &page)
}

pub async fn create_apply(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    CsrfForm(form): CsrfForm<CreateManyForm>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::UsersBulkCreate);
    let txn = crate::db::begin_write(&data.db).await?;
    let (mut errors, lines, models, services, limits) =
        check_create(&data, &txn, &form, admin.locale.tz).await?;
    let bad = lines.iter().filter(|l| l.error.is_some()).count();
    let valid = lines.len() - bad;
    if errors.is_empty() && bad > 0 && form.mode != "valid" {
        errors.add(
            "lines",
            Msg::new("users-lines-have-errors").num("count", bad),
        );
    }
    if errors.is_empty() && valid == 0 {
        errors.add("lines", "users-no-line");
    }
    if !errors.is_empty() {
        drop(txn);
        audit.outcome(Outcome::Invalid);
        audit.detail("fields", errors.to_json());
        audit.detail("invalid_lines", bad);
        let preview = Some(lines.iter().map(LineView::from).collect());
        let page = create_page(
            &data,
            PageCtx::new(&session, &admin, "users"),
            &form,
            errors,
            preview,
        )
        .await?;
        return html(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let batch_id = crate::crypto::random_id();
    let created = match service::create_many(
        &txn,
        &data.cipher,
        &lines,
        &models,
        &services,
        &limits,
        &batch_id,
    )
    .await
    {
        Ok(c) => c,
        Err(service::CreateError::UnknownService(s)) => {
            return Err(AppError::validation(
                "services",
                format!("unknown service {s}"),
            ));
        }
        Err(service::CreateError::Db(e)) => return Err(e.into()),
    };
    audit.targets(created.clone());
    audit.detail("batch_id", batch_id.clone());
    audit.detail("skipped_lines", bad);
    audit.detail(
        "after",
        serde_json::json!({"count": created.len(), "models": models, "services": services, "limits": limits.to_json()}),
    );
    audit.commit(txn, StatusCode::SEE_OTHER).await?;
    session::push_flash(
        &session,
        Flash::success(messages::created_msg(created.len(), bad, admin.locale.lang))
            .with_link(format!("/sync#batch-{batch_id}"), "users-follow-sync"),
    );
    Ok(see_other("/users?sort=updated&dir=desc"))
}

/// Counts this reveal against the admin's hourly allowance; past
/// `MAMA_REVEAL_ALERT_PER_HOUR` a `security.alert.key_reveals` event is recorded
/// (once per hour), past `MAMA_REVEAL_LIMIT_PER_HOUR` reveals answer 429.
async fn reveal_allowance(
    data: &AppData,
    admin: &CurrentAdmin,
    audit: &AuditCtx,
) -> Result<(), AppError> {
    use crate::admins::throttle;
    let sec = &data.settings.security;
    let txn = crate::db::begin_write(&data.db).await?;
    let n = throttle::bump(
        &txn,
        &throttle::reveal_key(admin.id),
        throttle::ACCOUNT_WINDOW,
    )
    .await?
    .n;
    if n == sec.reveal_alert_per_hour + 1 {
        let mut ev = crate::audit::Event::system(
            "security",
            Action::SecurityAlertKeyReveals,
            crate::audit::Outcome::Success,
        );
        ev.client_ip = audit.client_ip().map(str::to_string);
        ev.details = serde_json::json!({
            "admin_id": admin.id,
            "admin": admin.username,
            "reveal_request_id": audit.request_id(),
            "reveals_last_hour": n,
            "alert_threshold": sec.reveal_alert_per_hour,
            "limit": sec.reveal_limit_per_hour,
        });
        crate::audit::insert(&txn, &ev).await?;
        tracing::warn!(admin = %admin.username, reveals = n, "more key reveals in an hour than MAMA_REVEAL_ALERT_PER_HOUR");
    }
    txn.commit().await?;
    audit.detail("reveals_last_hour", n);
    if n > sec.reveal_limit_per_hour {
        return Err(AppError::RateLimited { retry_after: 3600 });
    }
    Ok(())
}

async fn load_user(data: &AppData, user_id: &str) -> Result<sea_orm_user::Model, AppError> {
    if super::forms::UserId::parse(user_id).is_err() {
        return Err(AppError::NotFound);
    }
    queries::find(&data.db, user_id)
        .await?
        .ok_or(AppError::NotFound)
}

use crate::entities::user as sea_orm_user;

async fn current_view(
    data: &AppData,
    u: &sea_orm_user::Model,
    tz: chrono_tz::Tz,
) -> Result<EditView, AppError> {
    let cat = catalogue(data).await?;
    let all_services = queries::services(&data.db).await?;
    let models: Vec<String> = queries::models_of(&data.db, &[u.id])
        .await?
        .remove(&u.id)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let services: Vec<String> = queries::services_of(&data.db, &[u.id])
        .await?
        .remove(&u.id)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let mut f = EditView::new(
        u,
        u.organisation.clone(),
        u.key_alias.clone().unwrap_or_default(),
        u.extra.clone(),
        u.version,
        &models,
        &services,
        &cat,
        &all_services,
    );
    f.limits = super::limits::LimitsForm::show(&super::limits::Limits::of(u), tz);
    Ok(f)
}

fn edit_response(
    req: &HttpRequest,
    status: StatusCode,
    ctx: PageCtx,
    f: EditView,
) -> Result<HttpResponse, AppError> {
    if is_htmx(req) && status == StatusCode::OK {
        html(status, &EditPartial { ctx, f })
    } else {
        html(status, &EditPage { ctx, f })
    }
}

pub async fn view(
    req: HttpRequest,
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::UserView);
    let u = load_user(&data, &path).await?;
    audit.targets(vec![u.user_id.clone()]);
    let f = current_view(&data, &u, admin.locale.tz).await?;
    edit_response(
        &req,
        StatusCode::OK,
        PageCtx::new(&session, &admin, "users"),
        f,
    )
}

pub async fn update(
    req: HttpRequest,
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    path: web::Path<String>,
    CsrfForm(form): CsrfForm<EditForm>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::UserUpdate);
    let u = load_user(&data, &path).await?;
    audit.targets(vec![u.user_id.clone()]);
    // Re-shows the form as sent, with the errors next to their fields.
    let rerender = |errors: FormErrors| async {
        let cat = catalogue(&data).await?;
        let all_services = queries::services(&data.db).await?;
        let mut f = EditView::new(
            &u,
            form.organisation.chars().take(200).collect(),
            form.key_alias.chars().take(300).collect(),
            form.extra.chars().take(5000).collect(),
            form.version.trim().parse().unwrap_or(0),
            &parse_names(&form.models),
            &parse_services(&form.services).unwrap_or_default(),
            &cat,
            &all_services,
        );
        f.limits = form.limits();
        f.errors = errors;
        audit.outcome(Outcome::Invalid);
        audit.detail("fields", f.errors.to_json());
        edit_response(
            &req,
            StatusCode::UNPROCESSABLE_ENTITY,
            PageCtx::new(&session, &admin, "users"),
            f,
        )
    };
    let (txn, change) = match service::edit_from_form(&data.db, &u, &form, admin.locale.tz).await {
        Ok(saved) => saved,
        Err(service::EditFailure::Invalid(errors)) => return rerender(errors).await,
        Err(service::EditFailure::Stale { submitted }) => {
            audit.outcome(Outcome::Invalid);
            audit.detail(
                "conflict",
                serde_json::json!({"submitted_version": submitted, "current_version": u.version}),
            );
            // Show the current values: nothing the other admin saved is overwritten.
            let mut f = current_view(&data, &u, admin.locale.tz).await?;
            f.conflict = Msg::new("users-conflict")
                .arg("user", &u.user_id)
                .arg("from", submitted)
                .arg("to", u.version)
                .render(admin.locale.lang);
            return edit_response(
                &req,
                StatusCode::CONFLICT,
                PageCtx::new(&session, &admin, "users"),
                f,
            );
        }
        Err(service::EditFailure::Db(e)) => return Err(e.into()),
    };
    audit.detail("before", change.before);
    audit.detail("after", change.after);
    audit.commit(txn, StatusCode::SEE_OTHER).await?;
    session::push_flash(
        &session,
        Flash::success(Msg::new("users-saved").arg("user", &u.user_id)).with_link(
            format!("/sync?user={}", urlencode(&u.user_id)),
            "users-follow-sync",
        ),
    );
    Ok(see_other(&format!("/users?q={}", urlencode(&u.user_id))))
}

pub async fn reveal(
    req: HttpRequest,
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    path: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::UserKeyReveal);
    let u = load_user(&data, &path).await?;
    audit.targets(vec![u.user_id.clone()]);
    audit.detail("key_hint", u.key_hint.clone());
    reveal_allowance(&data, &admin, &audit).await?;
    let key = data
        .cipher
        .decrypt(&u.user_id, &u.key_ciphertext, &u.key_sha256)
        .map_err(|e| {
            audit.detail("key_error", e.code());
            AppError::Conflict(format!(
                "The stored key of this user cannot be read: {e}. Rotate the key to give the user a new one."
            ))
        })?;
    let key = key.expose_secret().to_string();
    let mut resp = if is_htmx(&req) {
        html(
            StatusCode::OK,
            &RevealPartial {
                ctx: PageCtx::fragment(&admin),
                user_id: u.user_id.clone(),
                key,
            },
        )?
    } else {
        html(
            StatusCode::OK,
            &RevealPage {
                ctx: PageCtx::new(&session, &admin, "users"),
                user_id: u.user_id.clone(),
                key,
            },
        )?
    };
    resp.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}
