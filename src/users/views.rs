//! Askama pages and partials of `/users`.
use std::collections::BTreeSet;

use askama::Template;

use super::{
    bulk::Plan,
    forms::{BULK_OPS, Line, ListQuery, PAGE_SIZES, SortKey},
    queries::Listed,
};
use crate::{
    entities::{model, service, user},
    web::{FormErrors, PageCtx},
};

/// The two model values LiteLLM understands as "every model of the team / proxy".
pub const SPECIAL_MODELS: [&str; 2] = ["all-team-models", "all-proxy-models"];

/// A model as a user has it: special (badge), available, or no longer offered (red).
#[derive(Debug, Clone)]
pub struct ModelTag {
    pub name: String,
    pub special: bool,
    pub red: bool,
}

/// The catalogue, for deciding which models are red.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub available: BTreeSet<String>,
}

impl Catalogue {
    pub fn new(models: &[model::Model]) -> Self {
        Catalogue {
            available: models
                .iter()
                .filter(|m| m.available)
                .map(|m| m.name.clone())
                .collect(),
        }
    }
    pub fn tag(&self, name: &str) -> ModelTag {
        let special = SPECIAL_MODELS.contains(&name);
        ModelTag {
            name: name.to_string(),
            special,
            red: !special && !self.available.contains(name),
        }
    }
    /// What an admin may pick: the specials, then every available model.
    pub fn choices(&self) -> Vec<String> {
        SPECIAL_MODELS
            .iter()
            .map(|s| s.to_string())
            .chain(self.available.iter().cloned())
            .collect()
    }
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
}

impl Row {
    pub fn new(l: Listed, cat: &Catalogue) -> Row {
        Row {
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
    pub ops: [(&'static str, &'static str); 9],
    pub model_choices: Vec<String>,
    pub service_choices: Vec<String>,
    pub red_total: usize,
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
        let red_total = rows
            .iter()
            .map(|r| r.models.iter().filter(|m| m.red).count())
            .sum();
        ListPage {
            ctx,
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
            ops: BULK_OPS,
            model_choices: cat.choices(),
            service_choices: services.iter().map(|s| s.name.clone()).collect(),
            red_total,
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
        BulkPreviewPage {
            ctx,
            op_label: BULK_OPS
                .iter()
                .find(|(k, _)| *k == op)
                .map(|(_, l)| l.to_string())
                .unwrap_or_default(),
            is_delete: op == "delete",
            op,
            selected: plan.users.len(),
            changed: plan.changed.len(),
            unchanged: plan.unchanged(),
            summary: plan.summary.clone(),
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
    pub error: String,
}

impl From<&Line> for LineView {
    fn from(l: &Line) -> Self {
        LineView {
            number: l.number,
            user_id: l.user_id.clone(),
            organisation: l.organisation.clone(),
            error: l
                .error
                .clone()
                .map(|e| super::forms::capitalise(&e))
                .unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "users/create.html")]
pub struct CreatePage {
    pub ctx: PageCtx,
    pub lines_text: String,
    pub models: Vec<String>,
    pub services: Vec<String>,
    pub mode: String,
    pub model_choices: Vec<String>,
    pub service_choices: Vec<String>,
    pub errors: FormErrors,
    /// Set after a preview.
    pub preview: Option<Vec<LineView>>,
    pub valid: usize,
    pub invalid: usize,
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

pub struct Choice {
    pub name: String,
    pub checked: bool,
    pub red: bool,
    pub special: bool,
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
    pub models: Vec<Choice>,
    pub services: Vec<Choice>,
    pub errors: FormErrors,
    /// A stale-edit message, with the current values shown.
    pub conflict: String,
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
        let mut model_names: Vec<String> = cat.choices();
        for m in models {
            if !model_names.contains(m) {
                model_names.push(m.clone());
            }
        }
        EditView {
            user_id: u.user_id.clone(),
            organisation,
            key_alias,
            extra,
            version,
            key_hint: u.key_hint.clone(),
            sync_state: u.sync_state.clone(),
            sync_error: u.sync_error.clone().unwrap_or_default(),
            models: model_names
                .into_iter()
                .map(|n| {
                    let t = cat.tag(&n);
                    Choice {
                        checked: models.contains(&n),
                        red: t.red,
                        special: t.special,
                        name: n,
                    }
                })
                .collect(),
            services: all_services
                .iter()
                .map(|s| Choice {
                    checked: services.contains(&s.name),
                    red: false,
                    special: false,
                    name: s.name.clone(),
                })
                .collect(),
            errors: FormErrors::default(),
            conflict: String::new(),
        }
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
    pub user_id: String,
    pub key: String,
}
