//! Login and logout, with throttling per account (lockout) and per client IP
//! (exponential back-off). Every attempt is one audit event.
use actix_session::Session;
use actix_web::{
    HttpRequest, HttpResponse,
    cookie::{Cookie, SameSite},
    http::StatusCode,
    http::header,
    web,
};
use chrono::Utc;
use secrecy::SecretString;

use super::{
    forms::LoginForm, forms::normalise_username, forms::safe_next, password, queries,
    views::LoginPage,
};
use crate::{
    audit::{Action, Actor, AuditCtx, Outcome},
    crypto::{random_token, sha256_hex},
    error::AppError,
    i18n::{self, Locale, Msg},
    state::AppData,
    web::{
        CsrfForm, CurrentAdmin, Flash, FormErrors, NoFields, PageCtx, pages::html, see_other,
        session,
    },
};

/// `/login?expired=1&next=/users?q=a`: why the admin is here and where they were.
#[derive(Debug, Default, serde::Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    expired: String,
    #[serde(default)]
    next: String,
}

pub async fn login_form(
    req: HttpRequest,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    query: Option<web::Query<LoginQuery>>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::LoginView);
    let q = query.map(|q| q.into_inner()).unwrap_or_default();
    let notice = if q.expired == "1" {
        audit.detail("reason", "session_expired");
        "login-expired"
    } else {
        ""
    };
    let page = LoginPage {
        ctx: PageCtx::anonymous(&session, locale(&req, &data)),
        username: String::new(),
        errors: FormErrors::default(),
        notice: Msg::new(notice),
        next: safe_next(&q.next).unwrap_or_default(),
    };
    let mut res = html(StatusCode::OK, &page)?;
    if let Some(lang) = i18n::switch_lang(&req) {
        audit.detail("lang", lang.code());
        let cookie = Cookie::build(i18n::LANG_COOKIE, lang.code())
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(data.settings.secure_cookies)
            .max_age(actix_web::cookie::time::Duration::days(365))
            .finish();
        res.add_cookie(&cookie)
            .map_err(|e| AppError::Internal(e.into()))?;
    }
    Ok(res)
}

fn locale(req: &HttpRequest, data: &AppData) -> Locale {
    Locale {
        lang: i18n::anonymous_lang(req, data.settings.default_language),
        tz: data.settings.default_time_zone,
    }
}

struct Form<'a> {
    req: &'a HttpRequest,
    data: &'a AppData,
    session: &'a Session,
    next: &'a str,
}

fn page(f: &Form, username: &str, errors: FormErrors, notice: Msg) -> LoginPage {
    LoginPage {
        ctx: PageCtx::anonymous(f.session, locale(f.req, f.data)),
        username: username.chars().take(64).collect(),
        errors,
        notice,
        next: safe_next(f.next).unwrap_or_default(),
    }
}

pub async fn login(
    req: HttpRequest,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::LoginFailure);
    let errors = form.check();
    if !errors.is_empty() {
        audit.outcome(Outcome::Invalid);
        audit.detail("fields", errors.to_json());
        return html(
            StatusCode::UNPROCESSABLE_ENTITY,
            &page(
                &Form {
                    req: &req,
                    data: &data,
                    session: &session,
                    next: &form.next,
                },
                &form.username,
                errors,
                Msg::new(""),
            ),
        );
    }
    let username = normalise_username(&form.username);
    let s = &data.settings;
    let ip = audit.client_ip().unwrap_or("unknown").to_string();
    let now = Utc::now();

    if let Some(until) = queries::ip_throttle(&data.db, &ip)
        .await?
        .and_then(|t| t.blocked_until)
        && until > now
    {
        let wait = (until - now).num_seconds().max(1);
        audit.action(Action::LoginThrottled);
        audit.outcome(Outcome::Denied);
        audit.detail("retry_after_s", wait);
        let notice = Msg::new("login-ip-throttled").num("seconds", wait);
        let f = Form {
            req: &req,
            data: &data,
            session: &session,
            next: &form.next,
        };
        let mut res = html(
            StatusCode::TOO_MANY_REQUESTS,
            &page(&f, &username, FormErrors::default(), notice),
        )?;
        res.headers_mut().insert(header::RETRY_AFTER, wait.into());
        return Ok(res);
    }

    let admin = queries::find_by_username(&data.db, &username).await?;
    // People type passwords into the username field: an unknown username is
    // recorded only as a short hash, which still correlates repeated attempts.
    match &admin {
        Some(a) => audit.detail("username", a.username.clone()),
        None => audit.detail(
            "unknown_username_sha256",
            sha256_hex(&username)[..16].to_string(),
        ),
    }
    let locked = admin
        .as_ref()
        .and_then(|a| a.locked_until)
        .is_some_and(|t| t > now);
    let secret = SecretString::from(form.password);
    let ok = if locked {
        false
    } else {
        password::verify(secret, admin.as_ref().map(|a| a.password_hash.clone()))
            .await
            .map_err(AppError::Internal)?
    };

    if !ok {
        let txn = crate::db::begin_write(&data.db).await?;
        let mut notice = "login-wrong";
        let mut status = StatusCode::UNAUTHORIZED;
        if locked {
            audit.action(Action::LoginLocked);
            notice = "login-locked";
            status = StatusCode::FORBIDDEN;
        } else if let Some(a) = &admin
            && queries::record_failure(&txn, a, s.login_max_failures, s.login_lockout).await?
        {
            audit.action(Action::Lockout);
            audit.detail("locked_for_s", s.login_lockout.as_secs());
            notice = "login-now-locked";
        }
        if let Some(until) =
            queries::ip_failure(&txn, &ip, s.login_ip_free_failures, s.login_ip_max_backoff).await?
        {
            audit.detail(
                "ip_blocked_for_s",
                (until - Utc::now()).num_seconds().max(1),
            );
        }
        audit.outcome(Outcome::Denied);
        audit.commit(txn, status).await?;
        return html(
            status,
            &page(
                &Form {
                    req: &req,
                    data: &data,
                    session: &session,
                    next: &form.next,
                },
                &username,
                FormErrors::default(),
                Msg::new(notice),
            ),
        );
    }

    let admin = admin.expect("verified against a real hash");
    let token = random_token();
    let txn = crate::db::begin_write(&data.db).await?;
    queries::record_success(&txn, &admin).await?;
    queries::ip_success(&txn, &ip).await?;
    queries::create_session(
        &txn,
        &sha256_hex(&token),
        admin.id,
        audit.client_ip(),
        audit.user_agent(),
    )
    .await?;
    audit.set_actor(Actor::Admin {
        id: admin.id,
        username: admin.username.clone(),
    });
    audit.action(Action::LoginSuccess);
    audit.outcome(Outcome::Success);
    let next = safe_next(&form.next);
    if let Some(n) = &next {
        audit.detail("next", n.clone());
    }
    audit.commit(txn, StatusCode::SEE_OTHER).await?;
    session::start(&session, &token);
    Ok(see_other(if admin.must_change_password {
        "/account/password"
    } else {
        next.as_deref().unwrap_or("/users")
    }))
}

/// How long this session may stay idle still. The page's own expiry timer asks
/// before it leaves for /login, so activity in another tab is not cut short. Sent
/// as a background request: asking is not activity, and an unchanged answer is not
/// stored again (see `AuditCtx::quiet`).
pub async fn session_idle(admin: CurrentAdmin, audit: AuditCtx) -> HttpResponse {
    audit.action(Action::SessionCheck);
    audit.quiet("alive".into());
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "idle_left_secs": admin.idle_left_secs }))
}

pub async fn logout(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::Logout);
    let txn = crate::db::begin_write(&data.db).await?;
    crate::web::sessions::delete_session(&txn, &admin.session_id).await?;
    audit.commit(txn, StatusCode::SEE_OTHER).await?;
    session::end(&session);
    session::push_flash(&session, Flash::info("flash-logged-out"));
    Ok(see_other("/login"))
}
