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
    forms::LoginForm,
    forms::normalise_username,
    forms::safe_next,
    password::{Busy, Hasher},
    queries, throttle,
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

/// Attempts reserved before the password is checked.
struct Reservation {
    ip: String,
    /// This attempt's number on (account, address), when the account exists.
    pair_n: i32,
    /// Whether it also counted towards the account's hourly cap.
    counted_account: bool,
}

enum Gate {
    /// The address is backing off for this many seconds.
    Throttled(i64),
    /// Locked for this address, or the account's hourly cap is spent.
    Refused(Reservation),
    Open(Reservation),
}

/// Counts the attempt for the address and the account (one atomic upsert each,
/// committed before argon2 runs), so parallel guesses each see their own number.
/// See SECURITY.md, "Login throttling", for the scheme.
async fn reserve(
    data: &AppData,
    admin: Option<&crate::entities::admin::Model>,
    ip: &str,
) -> Result<Gate, AppError> {
    let s = &data.settings;
    let now = Utc::now();
    let txn = crate::db::begin_write(&data.db).await?;
    let addr = throttle::bump(&txn, ip, throttle::ADDRESS_WINDOW).await?;
    if let Some(until) = addr.blocked_until
        && until > now
    {
        // Waiting out a back-off does not lengthen it.
        throttle::take_back(&txn, ip, 1).await?;
        txn.commit().await?;
        return Ok(Gate::Throttled((until - now).num_seconds().max(1)));
    }
    if addr.n > s.login_ip_free_failures {
        let exp = (addr.n - s.login_ip_free_failures - 1).clamp(0, 30) as u32;
        let secs = 2u64
            .saturating_pow(exp)
            .min(s.login_ip_max_backoff.as_secs().max(1));
        throttle::block(&txn, ip, Some(now + std::time::Duration::from_secs(secs))).await?;
    }
    let mut r = Reservation {
        ip: ip.to_string(),
        pair_n: 0,
        counted_account: false,
    };
    let mut refused = false;
    if let Some(a) = admin {
        let window =
            chrono::Duration::from_std(s.login_lockout).unwrap_or(chrono::Duration::minutes(15));
        r.pair_n = throttle::bump(&txn, &throttle::pair_key(a.id, ip), window)
            .await?
            .n;
        refused = r.pair_n > s.login_max_failures;
        let known = throttle::current(
            &txn,
            &throttle::seen_key(a.id, ip),
            chrono::Duration::days(throttle::KNOWN_ADDRESS_DAYS),
        )
        .await?
            > 0;
        if !refused && !known {
            let acct = throttle::bump(&txn, &throttle::account_key(a.id), throttle::ACCOUNT_WINDOW)
                .await?;
            r.counted_account = true;
            refused = acct.n > s.security.login_account_hourly_cap;
        }
    }
    txn.commit().await?;
    Ok(if refused {
        Gate::Refused(r)
    } else {
        Gate::Open(r)
    })
}

/// Gives back a reservation whose password was never checked (no hashing permit).
async fn release(
    data: &AppData,
    admin: Option<&crate::entities::admin::Model>,
    r: &Reservation,
) -> Result<(), AppError> {
    let txn = crate::db::begin_write(&data.db).await?;
    throttle::take_back(&txn, &r.ip, 1).await?;
    if let Some(a) = admin {
        throttle::take_back(&txn, &throttle::pair_key(a.id, &r.ip), 1).await?;
        if r.counted_account {
            throttle::take_back(&txn, &throttle::account_key(a.id), 1).await?;
        }
    }
    txn.commit().await?;
    Ok(())
}

pub async fn login(
    req: HttpRequest,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    hasher: web::Data<Hasher>,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::LoginFailure);
    // What every re-rendered login page is built from.
    let f = Form {
        req: &req,
        data: &data,
        session: &session,
        next: &form.next,
    };
    let errors = form.check();
    if !errors.is_empty() {
        audit.outcome(Outcome::Invalid);
        audit.detail("fields", errors.to_json());
        return html(
            StatusCode::UNPROCESSABLE_ENTITY,
            &page(&f, &form.username, errors, Msg::new("")),
        );
    }
    let username = normalise_username(&form.username);
    let s = &data.settings;
    let ip = audit.client_ip().unwrap_or("unknown").to_string();

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

    let (reservation, refused) = match reserve(&data, admin.as_ref(), &ip).await? {
        Gate::Throttled(wait) => {
            audit.action(Action::LoginThrottled);
            audit.outcome(Outcome::Denied);
            audit.detail("retry_after_s", wait);
            let notice = Msg::new("login-ip-throttled").num("seconds", wait);
            let mut res = html(
                StatusCode::TOO_MANY_REQUESTS,
                &page(&f, &username, FormErrors::default(), notice),
            )?;
            res.headers_mut().insert(header::RETRY_AFTER, wait.into());
            return Ok(res);
        }
        Gate::Refused(r) => (r, true),
        Gate::Open(r) => (r, false),
    };

    // A refused attempt still costs one (dummy) verify, so a locked account
    // answers as slowly as an unlocked one.
    let secret = SecretString::from(form.password);
    let phc = admin
        .as_ref()
        .filter(|_| !refused)
        .map(|a| a.password_hash.clone());
    let ok = match hasher
        .verify(secret, phc)
        .await
        .map_err(AppError::Internal)?
    {
        Ok(ok) => ok && !refused,
        Err(Busy) => {
            release(&data, admin.as_ref(), &reservation).await?;
            audit.action(Action::LoginBusy);
            audit.outcome(Outcome::Denied);
            audit.detail("retry_after_s", 1);
            let mut res = html(
                StatusCode::TOO_MANY_REQUESTS,
                &page(&f, &username, FormErrors::default(), Msg::new("login-busy")),
            )?;
            res.headers_mut().insert(header::RETRY_AFTER, 1.into());
            return Ok(res);
        }
    };

    if !ok {
        let txn = crate::db::begin_write(&data.db).await?;
        if refused {
            audit.action(Action::LoginLocked);
            audit.detail("attempt", reservation.pair_n);
        } else if let Some(a) = &admin
            && reservation.pair_n == s.login_max_failures
        {
            // Locked for the full duration from now, however the failures were spread.
            throttle::block(
                &txn,
                &throttle::pair_key(a.id, &reservation.ip),
                Some(Utc::now() + s.login_lockout),
            )
            .await?;
            audit.action(Action::Lockout);
            audit.detail("locked_for_s", s.login_lockout.as_secs());
            audit.detail("client_ip_locked", reservation.ip.clone());
        }
        audit.outcome(Outcome::Denied);
        audit.commit(txn, StatusCode::UNAUTHORIZED).await?;
        return html(
            StatusCode::UNAUTHORIZED,
            &page(
                &f,
                &username,
                FormErrors::default(),
                Msg::new("login-wrong"),
            ),
        );
    }

    let admin = admin.expect("verified against a real hash");
    let token = random_token();
    let txn = crate::db::begin_write(&data.db).await?;
    queries::record_success(&txn, &admin).await?;
    // Forgive only this account's attempts from this address: another account's
    // success must not reset the address's back-off.
    throttle::forget(&txn, &throttle::pair_key(admin.id, &ip)).await?;
    throttle::take_back(&txn, &ip, reservation.pair_n.max(1)).await?;
    if throttle::current(&txn, &ip, throttle::ADDRESS_WINDOW).await? <= s.login_ip_free_failures {
        throttle::block(&txn, &ip, None).await?;
    }
    if reservation.counted_account {
        throttle::take_back(&txn, &throttle::account_key(admin.id), 1).await?;
    }
    throttle::touch(&txn, &throttle::seen_key(admin.id, &ip)).await?;
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
