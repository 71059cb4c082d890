//! `/account`: each admin's own language and time zone. A change applies to that
//! admin only and is audited with its before and after.
use actix_session::Session;
use actix_web::{HttpResponse, http::StatusCode, web};
use serde::Deserialize;

use super::{queries, views::AccountPage};
use crate::{
    audit::{Action, AuditCtx},
    error::AppError,
    i18n::{self, Lang},
    state::AppData,
    web::{CsrfForm, CurrentAdmin, Flash, FormErrors, PageCtx, pages::html, see_other, session},
};

/// The account form: empty values mean "follow the browser" / "the default".
#[derive(Debug, Default, Deserialize)]
pub struct AccountForm {
    #[serde(default)]
    pub language: String,
    #[serde(default)]
    pub time_zone: String,
}

impl AccountForm {
    /// The language and zone to store, or field errors.
    fn check(&self) -> Result<(Option<Lang>, Option<chrono_tz::Tz>), FormErrors> {
        let mut e = FormErrors::default();
        let lang = match self.language.trim() {
            "" => None,
            l => match Lang::parse(l) {
                Some(l) => Some(l),
                None => {
                    e.add("language", "err-language");
                    None
                }
            },
        };
        let tz = match self.time_zone.trim() {
            "" => None,
            z => match i18n::parse_tz(z) {
                Some(z) => Some(z),
                None => {
                    e.add("time_zone", "err-time-zone");
                    None
                }
            },
        };
        if e.is_empty() { Ok((lang, tz)) } else { Err(e) }
    }
}

fn page(
    ctx: PageCtx,
    data: &AppData,
    language: String,
    time_zone: String,
    errors: FormErrors,
) -> AccountPage {
    let now = i18n::time::seconds(chrono::Utc::now(), ctx.tz);
    AccountPage {
        ctx,
        language,
        time_zone,
        default_zone: data.settings.default_time_zone.name(),
        zones: &i18n::COMMON_ZONES,
        now,
        errors,
    }
}

pub async fn view(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
) -> Result<AccountPage, AppError> {
    audit.action(Action::AccountView);
    let language = admin
        .prefs
        .lang
        .map(|l| l.code().to_string())
        .unwrap_or_default();
    let time_zone = admin
        .prefs
        .tz
        .map(|z| z.name().to_string())
        .unwrap_or_default();
    let ctx = PageCtx::new(&session, &admin, "account");
    Ok(page(ctx, &data, language, time_zone, FormErrors::default()))
}

pub async fn update(
    admin: CurrentAdmin,
    session: Session,
    audit: AuditCtx,
    data: web::Data<AppData>,
    CsrfForm(form): CsrfForm<AccountForm>,
) -> Result<HttpResponse, AppError> {
    audit.action(Action::AccountUpdate);
    let (lang, tz) = match form.check() {
        Ok(v) => v,
        Err(errors) => {
            audit.outcome(crate::audit::Outcome::Invalid);
            audit.detail("fields", errors.to_json());
            let ctx = PageCtx::new(&session, &admin, "account");
            let language = form.language.chars().take(16).collect();
            let time_zone = form.time_zone.chars().take(64).collect();
            return html(
                StatusCode::UNPROCESSABLE_ENTITY,
                &page(ctx, &data, language, time_zone, errors),
            );
        }
    };
    let txn = crate::db::begin_write(&data.db).await?;
    queries::set_locale(&txn, admin.id, lang.map(Lang::code), tz.map(|z| z.name())).await?;
    audit.detail(
        "before",
        serde_json::json!({
            "language": admin.prefs.lang.map(Lang::code),
            "time_zone": admin.prefs.tz.map(|z| z.name()),
        }),
    );
    audit.detail(
        "after",
        serde_json::json!({"language": lang.map(Lang::code), "time_zone": tz.map(|z| z.name())}),
    );
    audit.commit(txn, StatusCode::SEE_OTHER).await?;
    // The confirmation is translated on the next page, in the language just chosen.
    session::push_flash(&session, Flash::success("flash-account-saved"));
    Ok(see_other("/account"))
}
