//! Askama pages and partials of `/users`.
use askama::Template;

use crate::i18n::Msg;

use super::{
    bulk::Plan,
    forms::{BULK_OPS, Line, ListQuery, PAGE_SIZES, SortKey},
    messages,
    queries::UserGrants,
};
use crate::{
    entities::{service, user},
    web::{FormErrors, PageCtx},
};

pub use crate::catalogue::{Catalogue, ModelTag};

/// The picker's options: the specials, the available models, then `held` models
/// outside the catalogue (marked red) — the checked ones first, so a red model a
/// user holds is never out of sight.
pub fn model_picks(cat: &Catalogue, held: &[String], with_retired: bool) -> Vec<Pick> {
    let mut names = cat.choices();
    if with_retired {
        names.extend(cat.retired.iter().cloned());
    }
    for m in held {
        if !names.contains(m) {
            names.push(m.clone());
        }
    }
    let mut picks: Vec<Pick> = names
        .into_iter()
        .map(|n| {
            let t = cat.tag(&n);
            Pick {
                checked: held.contains(&n),
                red: t.red,
                special: t.special,
                name: n,
            }
        })
        .collect();
    picks.sort_by_key(|p| !p.checked);
    picks
}

/// The element ID of a user's sync state on /users.
pub fn sync_dom_id(user_id: &str) -> String {
    let mut s = String::from("sync-");
    for b in user_id.bytes() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// One option of a picker (`partials/_picker.html`).
#[derive(Debug, Clone)]
pub struct Pick {
    pub name: String,
    pub checked: bool,
    pub red: bool,
    pub special: bool,
}

/// Services as picker options, the checked ones first.
pub fn service_picks(all: &[service::Model], held: &[String]) -> Vec<Pick> {
    let mut picks: Vec<Pick> = all
        .iter()
        .map(|s| Pick {
            checked: held.contains(&s.name),
            red: false,
            special: false,
            name: s.name.clone(),
        })
        .collect();
    picks.sort_by_key(|p| !p.checked);
    picks
}

pub struct Row {
    pub user_id: String,
    pub organisation: String,
    pub key_hint: String,
    pub alias: String,
    pub models: Vec<ModelTag>,
    pub services: Vec<String>,
    pub sync_state: String,
    pub sync_error: String,
    pub updated: String,
    /// `$12.34`, empty before the first spend refresh.
    pub spend: String,
    /// `$50.00`, empty without a budget.
    pub budget: String,
    /// The catalogue key of the budget period (empty: never resets).
    pub budget_period: &'static str,
    /// `82%`, empty without a budget.
    pub share: String,
    /// At or over [`super::limits::WARN_SHARE`] of the budget.
    pub budget_warn: bool,
    pub blocked: bool,
    pub expired: bool,
    /// The expiry date, when there is one.
    pub expires: String,
}

impl Row {
    pub fn new(l: UserGrants, cat: &Catalogue) -> Row {
        use super::limits;
        let share = limits::share_used(l.user.spend, l.user.max_budget);
        Row {
            spend: l.user.spend.map(limits::fmt_usd).unwrap_or_default(),
            budget: l.user.max_budget.map(limits::fmt_usd).unwrap_or_default(),
            budget_period: l
                .user
                .budget_duration
                .as_deref()
                .and_then(limits::BudgetDuration::parse)
                .map_or("", |d| d.label()),
            share: share
                .map(|p| format!("{}%", p.floor() as i64))
                .unwrap_or_default(),
            budget_warn: share.is_some_and(|p| p >= limits::WARN_SHARE),
            blocked: l.user.blocked,
            expired: l.user.expires_at.is_some_and(|t| t <= chrono::Utc::now()),
            expires: l
                .user
                .expires_at
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            models: l.models.iter().map(|m| cat.tag(m)).collect(),
            services: l.services,
            user_id: l.user.user_id,
            organisation: l.user.organisation,
            key_hint: l.user.key_hint,
            alias: l.user.key_alias.unwrap_or_default(),
            sync_state: l.user.sync_state,
            sync_error: l.user.sync_error.unwrap_or_default(),
            updated: l.user.updated_at.format("%Y-%m-%d %H:%M").to_string(),
        }
    }
    /// The element ID of this row's sync state (hex: user IDs may hold `.` and `@`,
    /// which CSS selectors would misread).
    pub fn sync_dom_id(&self) -> String {
        sync_dom_id(&self.user_id)
    }
    /// Path-safe: user IDs are letters, digits and `. _ @ - +` only.
    pub fn href(&self) -> String {
        user_url(&self.user_id)
    }
}

/// `/users/{id}` with the ID percent-encoded (IDs may hold `+` and `@`).
pub fn user_url(user_id: &str) -> String {
    format!("/users/{}", super::forms::urlencode(user_id))
}

impl EditView {
    pub fn url(&self) -> String {
        user_url(&self.user_id)
    }
    pub fn audit_url(&self) -> String {
        format!("/audit?user={}", super::forms::urlencode(&self.user_id))
    }
    pub fn sync_url(&self) -> String {
        format!("/sync?user={}", super::forms::urlencode(&self.user_id))
    }
}

impl RevealPage {
    pub fn url(&self) -> String {
        user_url(&self.user_id)
    }
}

pub struct Header {
    pub key: &'static str,
    pub label: &'static str,
    pub url: String,
    /// "▲", "▼" or "".
    pub arrow: &'static str,
    /// `ascending` / `descending` / `none`.
    pub aria_sort: &'static str,
}

#[derive(Template)]
#[template(path = "users/list.html")]
pub struct ListPage {
    pub ctx: PageCtx,
    pub q: String,
    pub rows: Vec<Row>,
    pub total: u64,
    pub page: u64,
    pub pages: u64,
    pub size: u64,
    pub sizes: [u64; 3],
    pub sort: String,
    pub dir: String,
    pub headers: Vec<Header>,
    pub prev_url: String,
    pub next_url: String,
    pub size_urls: Vec<(u64, String)>,
    pub ops: &'static [(&'static str, &'static str)],
    pub model_picks: Vec<Pick>,
    pub service_picks: Vec<Pick>,
    pub red_total: usize,
    /// "Select all 12 users matching this search" (empty: nothing to select).
    pub select_all_text: String,
    /// "2 models on this page are no longer offered by LiteLLM".
    pub red_text: String,
    /// The bulk bar's pickers show no errors (errors have their own page).
    pub no_errors: FormErrors,
    /// "12 users" above the table.
    pub total_text: String,
    /// The user IDs on this page whose sync is not finished (polled until none).
    pub pending_ids: Vec<String>,
    pub poll_ms: u128,
    /// True when LiteLLM is configured (else a banner, and no red models).
    pub litellm_configured: bool,
    /// The "unused for N days" filter as shown (empty: off).
    pub unused: String,
}

impl ListPage {
    pub fn build(
        ctx: PageCtx,
        q: &ListQuery,
        rows: Vec<Row>,
        total: u64,
        cat: &Catalogue,
        services: &[service::Model],
    ) -> Self {
        let pages = total.div_ceil(q.size).max(1);
        let headers = SortKey::ALL
            .into_iter()
            .map(|k| {
                let active = k == q.sort;
                Header {
                    key: k.as_str(),
                    label: k.label(),
                    url: q.url(k, active && !q.desc, 1, q.size),
                    arrow: match (active, q.desc) {
                        (true, false) => "▲",
                        (true, true) => "▼",
                        _ => "",
                    },
                    aria_sort: match (active, q.desc) {
                        (true, false) => "ascending",
                        (true, true) => "descending",
                        _ => "none",
                    },
                }
            })
            .collect();
        let pending_ids = rows
            .iter()
            .filter(|r| r.sync_state == "pending")
            .map(|r| r.user_id.clone())
            .collect::<Vec<_>>();
        let red_total = rows
            .iter()
            .map(|r| r.models.iter().filter(|m| m.red).count())
            .sum();
        ListPage {
            unused: q.unused_days.map(|d| d.to_string()).unwrap_or_default(),
            q: q.q.clone(),
            rows,
            total,
            page: q.page,
            pages,
            size: q.size,
            sizes: PAGE_SIZES,
            sort: q.sort.as_str().into(),
            dir: if q.desc { "desc".into() } else { "asc".into() },
            headers,
            prev_url: q.url(q.sort, q.desc, q.page.saturating_sub(1).max(1), q.size),
            next_url: q.url(q.sort, q.desc, (q.page + 1).min(pages), q.size),
            size_urls: PAGE_SIZES
                .iter()
                .map(|&s| (s, q.url(q.sort, q.desc, 1, s)))
                .collect(),
            ops: &BULK_OPS,
            model_picks: model_picks(cat, &[], true),
            service_picks: service_picks(services, &[]),
            red_total,
            // "Select all matching" selects by search alone: not offered under the
            // "unused for N days" filter, whose count it would not match.
            select_all_text: if total == 0 || q.unused_days.is_some() {
                String::new()
            } else if q.q.is_empty() {
                Msg::new("users-select-all")
                    .num("count", total)
                    .render(ctx.lang)
            } else {
                Msg::new("users-select-all-matching")
                    .num("count", total)
                    .render(ctx.lang)
            },
            total_text: Msg::new("users-count").num("count", total).render(ctx.lang),
            red_text: Msg::new("users-red-grants")
                .num("count", red_total)
                .render(ctx.lang),
            no_errors: FormErrors::default(),
            pending_ids,
            poll_ms: 2000,
            litellm_configured: cat.known,
            ctx,
        }
    }
}

/// The preview of a bulk action, with the form that applies it.
#[derive(Template)]
#[template(path = "users/bulk_preview.html")]
pub struct BulkPreviewPage {
    pub ctx: PageCtx,
    pub op: String,
    pub op_label: String,
    pub selected: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub summary: Vec<String>,
    pub sample: Vec<String>,
    /// Hidden fields that carry the selection and the action to the apply step.
    pub hidden: Vec<(String, String)>,
    pub is_delete: bool,
    pub errors: FormErrors,
    pub back: String,
    /// "3 users selected".
    pub selected_word: String,
    /// "Apply to 3 users" / "Delete 1 user".
    pub apply_label: String,
    /// "N users will change, M unchanged" in words.
    pub counts_text: String,
}

impl BulkPreviewPage {
    pub fn new(
        ctx: PageCtx,
        plan: &Plan,
        hidden: Vec<(String, String)>,
        errors: FormErrors,
        back: String,
    ) -> Self {
        let op = plan.op.name();
        let selected = plan.users.len();
        let changed = plan.changed.len();
        let lang = ctx.lang;
        let apply_label = if op == "delete" {
            Msg::new("bulk-apply-delete").num("count", selected)
        } else {
            Msg::new("bulk-apply").num("count", changed)
        }
        .render(lang);
        let counts_text = match (changed, plan.unchanged()) {
            (0, _) => Msg::new("bulk-nothing-will-change"),
            (c, 0) if c == selected => Msg::new("bulk-all-will-change"),
            (c, u) => Msg::new("bulk-some-will-change")
                .num("changed", c)
                .num("unchanged", u),
        }
        .render(lang);
        BulkPreviewPage {
            selected_word: Msg::new("bulk-selected")
                .num("count", selected)
                .render(lang),
            apply_label,
            counts_text,
            ctx,
            op_label: BULK_OPS
                .iter()
                .find(|(k, _)| *k == op)
                .map(|(_, l)| crate::i18n::t(lang, l))
                .unwrap_or_default(),
            is_delete: op == "delete",
            op,
            selected: plan.users.len(),
            changed: plan.changed.len(),
            unchanged: plan.unchanged(),
            summary: plan
                .effects
                .iter()
                .map(|e| messages::render(&e.preview_msgs(), lang))
                .collect(),
            sample: plan
                .changed
                .iter()
                .take(20)
                .map(|&i| plan.users[i].user_id.clone())
                .collect(),
            hidden,
            errors,
            back,
        }
    }
}

/// Bulk form errors (nothing selected, unknown service …) over the list.
#[derive(Template)]
#[template(path = "users/bulk_error.html")]
pub struct BulkErrorPage {
    pub ctx: PageCtx,
    pub errors: FormErrors,
    pub back: String,
}

/// The result of a committed bulk action too long for a flash message (the
/// cookie session has room for a few hundred characters only).
#[derive(Template)]
#[template(path = "users/bulk_done.html")]
pub struct BulkDonePage {
    pub ctx: PageCtx,
    pub text: String,
    pub back: String,
}

/// One line of a create-many preview.
pub struct LineView {
    pub number: usize,
    pub user_id: String,
    pub organisation: String,
    /// Why the line cannot be created (`None` when it can).
    pub error: Option<Msg>,
}

impl From<&Line> for LineView {
    fn from(l: &Line) -> Self {
        LineView {
            number: l.number,
            user_id: l.user_id.clone(),
            organisation: l.organisation.clone(),
            error: l.error.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "users/create.html")]
pub struct CreatePage {
    pub ctx: PageCtx,
    pub lines_text: String,
    pub mode: String,
    pub model_picks: Vec<Pick>,
    pub service_picks: Vec<Pick>,
    pub errors: FormErrors,
    /// Set after a preview.
    pub preview: Option<Vec<LineView>>,
    pub valid: usize,
    pub invalid: usize,
    /// The limits every created user gets (as sent).
    pub limits: super::limits::LimitsForm,
}

impl CreatePage {
    pub fn durations(&self) -> Vec<(&'static str, &'static str)> {
        super::limits::BudgetDuration::ALL
            .iter()
            .map(|d| (d.as_str(), d.label()))
            .collect()
    }
}

/// The edit form, as a page or as the dialog's body.
#[derive(Template)]
#[template(path = "users/edit.html")]
pub struct EditPage {
    pub ctx: PageCtx,
    pub f: EditView,
}

#[derive(Template)]
#[template(path = "users/_edit_form.html")]
pub struct EditPartial {
    pub ctx: PageCtx,
    pub f: EditView,
}

pub struct EditView {
    pub user_id: String,
    pub organisation: String,
    pub key_alias: String,
    pub extra: String,
    pub version: i32,
    pub key_hint: String,
    pub sync_state: String,
    pub sync_error: String,
    pub models: Vec<Pick>,
    pub services: Vec<Pick>,
    pub errors: FormErrors,
    /// A stale-edit message, with the current values shown.
    pub conflict: String,
    /// The limit fields as shown (stored values, or what was sent).
    pub limits: super::limits::LimitsForm,
    /// Spend as LiteLLM last reported it (empty: never refreshed).
    pub spend: String,
}

impl EditView {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        u: &user::Model,
        organisation: String,
        key_alias: String,
        extra: String,
        version: i32,
        models: &[String],
        services: &[String],
        cat: &Catalogue,
        all_services: &[service::Model],
    ) -> Self {
        EditView {
            user_id: u.user_id.clone(),
            organisation,
            key_alias,
            extra,
            version,
            key_hint: u.key_hint.clone(),
            sync_state: u.sync_state.clone(),
            sync_error: u.sync_error.clone().unwrap_or_default(),
            models: model_picks(cat, models, false),
            services: service_picks(all_services, services),
            errors: FormErrors::default(),
            conflict: String::new(),
            limits: super::limits::LimitsForm::show(&super::limits::Limits::of(u), chrono_tz::UTC),
            spend: u.spend.map(super::limits::fmt_usd).unwrap_or_default(),
        }
    }

    /// The budget periods offered (LiteLLM's text, catalogue key).
    pub fn durations(&self) -> Vec<(&'static str, &'static str)> {
        super::limits::BudgetDuration::ALL
            .iter()
            .map(|d| (d.as_str(), d.label()))
            .collect()
    }
}

/// The revealed key, once.
#[derive(Template)]
#[template(path = "users/reveal.html")]
pub struct RevealPage {
    pub ctx: PageCtx,
    pub user_id: String,
    pub key: String,
}

#[derive(Template)]
#[template(path = "users/_reveal.html")]
pub struct RevealPartial {
    pub ctx: PageCtx,
    pub user_id: String,
    pub key: String,
}

/// One row's sync state, swapped into /users by the poller.
pub struct SyncStateView {
    pub dom_id: String,
    pub state: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "users/_sync_state.html")]
pub struct SyncStatePartial {
    pub ctx: PageCtx,
    pub states: Vec<SyncStateView>,
    /// Comma-separated IDs still pending (empty: polling stops).
    pub pending: String,
    pub poll_ms: u128,
}

/// The catalogue key of a sync state (`synced`, `pending`, `failed`).
pub fn sync_key(state: &str) -> &'static str {
    match state {
        "synced" => "sync-state-synced",
        "pending" => "sync-state-pending",
        "failed" => "sync-state-failed",
        _ => "sync-state-unknown",
    }
}

impl ListPage {
    pub fn sync_key(&self, state: &str) -> &'static str {
        sync_key(state)
    }
    /// "Page 2 of 7".
    pub fn page_text(&self) -> String {
        Msg::new("users-page-of")
            .num("page", self.page)
            .num("pages", self.pages)
            .render(self.ctx.lang)
    }
}

impl EditPage {
    pub fn sync_key(&self, state: &str) -> &'static str {
        sync_key(state)
    }
}

impl EditPartial {
    pub fn sync_key(&self, state: &str) -> &'static str {
        sync_key(state)
    }
}

impl SyncStatePartial {
    pub fn sync_key(&self, state: &str) -> &'static str {
        sync_key(state)
    }
}

impl CreatePage {
    /// "Preview: 5 valid, 1 with errors".
    pub fn preview_heading(&self) -> String {
        Msg::new("users-preview-heading")
            .num("valid", self.valid)
            .num("invalid", self.invalid)
            .render(self.ctx.lang)
    }
}
