//! User changes shared by the web pages, the CLI and tests. Each function runs on
//! the caller's transaction and queues the LiteLLM sync in it.
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter,
};

use crate::{
    crypto::KeyCipher,
    entities::{service, user, user_model, user_service},
    i18n::Msg,
    litellm::{keys, outbox, sync_state::SyncState},
};

/// A user to create (already validated).
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub user_id: String,
    pub organisation: String,
    pub key_alias: Option<String>,
    pub models: Vec<String>,
    /// Service names; each must exist in the catalogue.
    pub services: Vec<String>,
    pub extra: String,
    pub limits: super::limits::Limits,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("unknown service: {0}")]
    UnknownService(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Creates the user with a new mama-made key and queues its creation in LiteLLM.
pub async fn create_user(
    conn: &impl ConnectionTrait,
    cipher: &KeyCipher,
    new: NewUser,
    batch_id: Option<&str>,
) -> Result<user::Model, CreateError> {
    let mut created = create_users(conn, cipher, vec![new], batch_id).await?;
    created
        .pop()
        .ok_or_else(|| CreateError::Db(DbErr::Custom("insert returned no row".into())))
}

/// Rows per multi-row INSERT: 22 columns × 500 stays far below either
/// backend's limit on bound values.
const INSERT_CHUNK: usize = 500;

/// Creates many users at once (the UI's create-many, the CLI import, the API and
/// `mama apply` all come here), each with a new mama-made key, set-based: one
/// multi-row INSERT per chunk of users, of their models, of their services and of
/// their sync jobs, all on `conn` (the caller's transaction). The IDs must be
/// new and distinct (the callers checked; the unique index is the last word).
/// Returns the created rows in input order.
pub async fn create_users(
    conn: &impl ConnectionTrait,
    cipher: &KeyCipher,
    users: Vec<NewUser>,
    batch_id: Option<&str>,
) -> Result<Vec<user::Model>, CreateError> {
    let mut names: Vec<String> = users.iter().flat_map(|u| u.services.clone()).collect();
    names.sort();
    names.dedup();
    let services: std::collections::HashMap<String, i32> = if names.is_empty() {
        Default::default()
    } else {
        service::Entity::find()
            .filter(service::Column::Name.is_in(names.iter().cloned()))
            .all(conn)
            .await?
            .into_iter()
            .map(|s| (s.name, s.id))
            .collect()
    };
    if let Some(missing) = names.iter().find(|n| !services.contains_key(*n)) {
        return Err(CreateError::UnknownService(missing.clone()));
    }
    let now = Utc::now();
    let mut out = Vec::with_capacity(users.len());
    for chunk in users.chunks(INSERT_CHUNK) {
        let rows: Vec<user::ActiveModel> = chunk
            .iter()
            .map(|new| {
                let key = keys::generate();
                let stored = keys::seal(cipher, &new.user_id, &key);
                drop(key);
                user::ActiveModel {
                    user_id: Set(new.user_id.clone()),
                    organisation: Set(new.organisation.clone()),
                    key_ciphertext: Set(stored.ciphertext),
                    key_sha256: Set(stored.sha256),
                    key_hint: Set(stored.hint),
                    key_alias: Set(new.key_alias.clone()),
                    extra: Set(new.extra.clone()),
                    sync_state: Set(SyncState::Pending.into()),
                    sync_error: Set(None),
                    synced_at: Set(None),
                    version: Set(1),
                    created_at: Set(now),
                    updated_at: Set(now),
                    max_budget: Set(new.limits.max_budget),
                    budget_duration: Set(new.limits.budget_duration.clone()),
                    rpm_limit: Set(new.limits.rpm_limit),
                    tpm_limit: Set(new.limits.tpm_limit),
                    expires_at: Set(new.limits.expires_at),
                    blocked: Set(new.limits.blocked),
                    spend: Set(None),
                    last_active_at: Set(None),
                    spend_refreshed_at: Set(None),
                    ..Default::default()
                }
            })
            .collect();
        let mut inserted = user::Entity::insert_many(rows)
            .exec_with_returning(conn)
            .await?;
        // RETURNING gives no order guarantee: put the rows back in input order.
        let pos: std::collections::HashMap<&str, usize> = chunk
            .iter()
            .enumerate()
            .map(|(i, n)| (n.user_id.as_str(), i))
            .collect();
        inserted.sort_by_key(|m| pos.get(m.user_id.as_str()).copied().unwrap_or(usize::MAX));
        let mut model_rows = vec![];
        let mut service_rows = vec![];
        for (m, new) in inserted.iter().zip(chunk) {
            let mut models = new.models.clone();
            models.sort();
            models.dedup();
            model_rows.extend(models.into_iter().map(|name| user_model::ActiveModel {
                user_id: Set(m.id),
                model: Set(name),
            }));
            let mut sids: Vec<i32> = new
                .services
                .iter()
                .filter_map(|n| services.get(n).copied())
                .collect();
            sids.sort();
            sids.dedup();
            service_rows.extend(sids.into_iter().map(|s| user_service::ActiveModel {
                user_id: Set(m.id),
                service_id: Set(s),
            }));
        }
        for rows in model_rows.chunks(INSERT_CHUNK * 4) {
            user_model::Entity::insert_many(rows.to_vec())
                .exec(conn)
                .await?;
        }
        for rows in service_rows.chunks(INSERT_CHUNK * 4) {
            user_service::Entity::insert_many(rows.to_vec())
                .exec(conn)
                .await?;
        }
        out.extend(inserted);
    }
    let ids: Vec<String> = out.iter().map(|m| m.user_id.clone()).collect();
    outbox::enqueue_created(conn, &ids, batch_id).await?;
    Ok(out)
}

/// Adds these services (names already checked by `forms::parse_services`, none
/// in the catalogue yet) with no description: `mama users import
/// --create-services`. Here rather than through `services::service::create` so
/// that users does not import services, which imports users.
pub async fn add_services(conn: &impl ConnectionTrait, names: &[String]) -> Result<(), DbErr> {
    let now = Utc::now();
    for n in names {
        service::ActiveModel {
            name: Set(n.clone()),
            description: Set(String::new()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

/// Resolves service names to IDs (sorted, deduplicated); an unknown name is an error.
pub async fn service_ids(
    conn: &impl ConnectionTrait,
    names: &[String],
) -> Result<Vec<i32>, CreateError> {
    if names.is_empty() {
        return Ok(vec![]);
    }
    let found = service::Entity::find()
        .filter(service::Column::Name.is_in(names.iter().cloned()))
        .all(conn)
        .await?;
    for n in names {
        if !found.iter().any(|s| &s.name == n) {
            return Err(CreateError::UnknownService(n.clone()));
        }
    }
    let mut ids: Vec<i32> = found.iter().map(|s| s.id).collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Deletes the user and queues the deletion of its key in LiteLLM.
pub async fn delete_user(
    conn: &impl ConnectionTrait,
    u: &user::Model,
    batch_id: Option<&str>,
) -> Result<(), DbErr> {
    outbox::enqueue_delete(conn, &u.user_id, &u.key_sha256, batch_id).await?;
    user::Entity::delete_by_id(u.id).exec(conn).await?;
    Ok(())
}

/// Gives the user a new mama-made key and queues the rotation in LiteLLM (the new
/// key is created there, then the old one deleted). Returns the new key's hint.
pub async fn rotate_key(
    conn: &impl ConnectionTrait,
    cipher: &KeyCipher,
    u: &user::Model,
    batch_id: Option<&str>,
) -> Result<String, DbErr> {
    let key = keys::generate();
    let stored = keys::seal(cipher, &u.user_id, &key);
    drop(key);
    let mut am: user::ActiveModel = u.clone().into();
    am.key_ciphertext = Set(stored.ciphertext);
    am.key_sha256 = Set(stored.sha256);
    am.key_hint = Set(stored.hint.clone());
    am.version = Set(u.version + 1);
    am.updated_at = Set(Utc::now());
    am.update(conn).await?;
    outbox::enqueue_rotate(conn, &u.user_id, &u.key_sha256, batch_id).await?;
    Ok(stored.hint)
}

/// Service names → IDs; an unknown name is an error naming it.
pub async fn service_ids_by_name(
    conn: &impl ConnectionTrait,
    names: &[String],
) -> Result<std::collections::HashMap<String, i32>, Msg> {
    if names.is_empty() {
        return Ok(Default::default());
    }
    let found = service::Entity::find()
        .filter(service::Column::Name.is_in(names.iter().cloned()))
        .all(conn)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "service lookup failed");
            Msg::new("err-services-unreadable")
        })?;
    let mut out = std::collections::HashMap::new();
    for n in names {
        match found.iter().find(|s| &s.name == n) {
            Some(s) => {
                out.insert(n.clone(), s.id);
            }
            None => {
                return Err(Msg::new("err-service-unknown")
                    .arg("name", n.chars().take(64).collect::<String>()));
            }
        }
    }
    Ok(out)
}

/// Marks the lines whose user ID already exists.
pub async fn check_existing(
    conn: &impl ConnectionTrait,
    lines: &mut [super::forms::Line],
) -> Result<(), DbErr> {
    let ids: Vec<String> = lines
        .iter()
        .filter(|l| l.error.is_none())
        .map(|l| l.user_id.clone())
        .collect();
    let existing = super::queries::existing_ids(conn, &ids).await?;
    for l in lines.iter_mut() {
        if l.error.is_none() && existing.contains(&l.user_id) {
            l.error = Some(Msg::new("err-user-exists"));
        }
    }
    Ok(())
}

/// The alias `template` gives a user (`{user_id}`, `{organisation}` replaced), or
/// `None` when there is no template or the result is not a valid alias.
pub fn render_alias(template: &str, user_id: &str, organisation: &str) -> Option<String> {
    if template.trim().is_empty() {
        return None;
    }
    let alias = template
        .replace("{user_id}", user_id)
        .replace("{organisation}", organisation);
    super::forms::check_alias(&alias).ok().flatten()
}

/// Which of `aliases` another user's key already has.
pub async fn taken_aliases(
    conn: &impl ConnectionTrait,
    aliases: &[String],
) -> Result<std::collections::BTreeSet<String>, DbErr> {
    let mut taken = std::collections::BTreeSet::new();
    for chunk in aliases.chunks(super::queries::CHUNK) {
        let rows = user::Entity::find()
            .filter(user::Column::KeyAlias.is_in(chunk.iter().cloned()))
            .all(conn)
            .await?;
        taken.extend(rows.into_iter().filter_map(|u| u.key_alias));
    }
    Ok(taken)
}

/// Gives each valid line the alias `template` makes for it, unique-checked like any
/// alias: one already held (or made twice in this input) is an error on that line.
pub async fn assign_aliases(
    conn: &impl ConnectionTrait,
    template: &str,
    lines: &mut [super::forms::Line],
) -> Result<(), DbErr> {
    if template.trim().is_empty() {
        return Ok(());
    }
    for l in lines.iter_mut().filter(|l| l.error.is_none()) {
        l.key_alias = render_alias(template, &l.user_id, &l.organisation);
    }
    let wanted: Vec<String> = lines.iter().filter_map(|l| l.key_alias.clone()).collect();
    let taken = taken_aliases(conn, &wanted).await?;
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    for l in lines.iter_mut().filter(|l| l.error.is_none()) {
        let Some(a) = l.key_alias.clone() else {
            continue;
        };
        if taken.contains(&a) {
            l.error = Some(Msg::new("err-alias-taken").arg("alias", &a));
        } else if let Some(first) = seen.get(&a) {
            l.error = Some(
                Msg::new("err-alias-line")
                    .arg("alias", &a)
                    .num("first", *first),
            );
        } else {
            seen.insert(a, l.number);
        }
    }
    Ok(())
}

/// Creates the valid lines as users with these models and services, all on `conn`
/// (a transaction), their sync jobs under `batch_id`. Returns the created IDs.
pub async fn create_many(
    conn: &impl ConnectionTrait,
    cipher: &KeyCipher,
    lines: &[super::forms::Line],
    models: &[String],
    services: &[String],
    limits: &super::limits::Limits,
    batch_id: &str,
) -> Result<Vec<String>, CreateError> {
    let users = lines
        .iter()
        .filter(|l| l.error.is_none())
        .map(|l| NewUser {
            user_id: l.user_id.clone(),
            organisation: l.organisation.clone(),
            key_alias: l.key_alias.clone(),
            models: models.to_vec(),
            services: services.to_vec(),
            extra: String::new(),
            limits: limits.clone(),
        })
        .collect();
    Ok(create_users(conn, cipher, users, Some(batch_id))
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect())
}

/// What an edit sets (already validated).
#[derive(Debug, Clone)]
pub struct Edit {
    pub organisation: String,
    pub key_alias: Option<String>,
    pub models: Vec<String>,
    pub services: Vec<String>,
    pub extra: String,
    pub limits: super::limits::Limits,
    /// The version the admin saw.
    pub version: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// Someone saved the user since the admin loaded it.
    #[error("stale version")]
    Stale,
    #[error("{0}")]
    Services(Msg),
    #[error("alias taken")]
    AliasTaken,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Saves an edit if nobody else saved the user since `edit.version` (optimistic
/// locking), replaces its models and services and queues the sync.
pub async fn update_user(
    conn: &impl ConnectionTrait,
    u: &user::Model,
    edit: Edit,
    batch_id: Option<&str>,
) -> Result<(), EditError> {
    let ids = service_ids_by_name(conn, &edit.services)
        .await
        .map_err(EditError::Services)?;
    if let Some(alias) = &edit.key_alias {
        let taken = user::Entity::find()
            .filter(user::Column::KeyAlias.eq(alias.clone()))
            .filter(user::Column::Id.ne(u.id))
            .one(conn)
            .await?;
        if taken.is_some() {
            return Err(EditError::AliasTaken);
        }
    }
    let l = edit.limits;
    let n = super::queries::exec(
        conn,
        "UPDATE users SET organisation = ?, key_alias = ?, extra = ?, max_budget = ?, \
         budget_duration = ?, rpm_limit = ?, tpm_limit = ?, expires_at = ?, blocked = ?, \
         version = version + 1, updated_at = ? WHERE id = ? AND version = ?",
        vec![
            edit.organisation.into(),
            edit.key_alias.into(),
            edit.extra.into(),
            l.max_budget.into(),
            l.budget_duration.into(),
            l.rpm_limit.into(),
            l.tpm_limit.into(),
            l.expires_at.into(),
            l.blocked.into(),
            Utc::now().into(),
            u.id.into(),
            edit.version.into(),
        ],
    )
    .await?;
    if n == 0 {
        return Err(EditError::Stale);
    }
    user_model::Entity::delete_many()
        .filter(user_model::Column::UserId.eq(u.id))
        .exec(conn)
        .await?;
    if !edit.models.is_empty() {
        user_model::Entity::insert_many(edit.models.into_iter().map(|m| user_model::ActiveModel {
            user_id: Set(u.id),
            model: Set(m),
        }))
        .exec(conn)
        .await?;
    }
    user_service::Entity::delete_many()
        .filter(user_service::Column::UserId.eq(u.id))
        .exec(conn)
        .await?;
    let mut sids: Vec<i32> = ids.into_values().collect();
    sids.sort();
    sids.dedup();
    if !sids.is_empty() {
        user_service::Entity::insert_many(sids.into_iter().map(|s| user_service::ActiveModel {
            user_id: Set(u.id),
            service_id: Set(s),
        }))
        .exec(conn)
        .await?;
    }
    outbox::enqueue_upsert(conn, std::slice::from_ref(&u.user_id), batch_id).await?;
    if l.blocked != u.blocked {
        // The upsert carries `blocked` too; LiteLLM's own lifecycle endpoint
        // follows it.
        outbox::enqueue_block(conn, std::slice::from_ref(&u.user_id), batch_id).await?;
    }
    Ok(())
}

/// Checks the edit dialog's form: the validated edit, or every field error.
/// (The form's own rules live in `forms` and `limits`; this gathers them.)
pub fn check_edit(
    form: &super::forms::EditForm,
    tz: chrono_tz::Tz,
) -> Result<Edit, crate::web::FormErrors> {
    use super::forms::{Organisation, check_alias, check_text, parse_models, parse_services};
    let mut errors = crate::web::FormErrors::default();
    let organisation = Organisation::parse(&form.organisation)
        .map(|o| o.into_inner())
        .unwrap_or_else(|e| {
            errors.add("organisation", e);
            String::new()
        });
    let key_alias = check_alias(&form.key_alias).unwrap_or_else(|e| {
        errors.add("key_alias", e);
        None
    });
    let models = parse_models(&form.models).unwrap_or_else(|e| {
        errors.add("models", e);
        vec![]
    });
    let services = parse_services(&form.services).unwrap_or_else(|e| {
        errors.add("services", e);
        vec![]
    });
    if let Err(e) = check_text(&form.extra, EXTRA_MAX) {
        errors.add("extra", e);
    }
    let limits = form.limits().parse(tz).unwrap_or_else(|errs| {
        for (f, m) in errs {
            errors.add(f, m);
        }
        Default::default()
    });
    let version: i32 = form.version.trim().parse().unwrap_or_else(|_| {
        errors.add("version", "users-no-version");
        0
    });
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Edit {
        organisation,
        key_alias,
        models,
        services,
        extra: form.extra.clone(),
        limits,
        version,
    })
}

/// Longest extra information of a user, in characters.
pub const EXTRA_MAX: usize = 4000;

/// What an edit changed, for the audit trail (LiteLLM's names for limits).
#[derive(Debug, Clone)]
pub struct Change {
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

/// A user's editable state as the audit trail records it.
fn snapshot(
    organisation: &str,
    key_alias: &Option<String>,
    extra: &str,
    models: &[String],
    services: &[String],
    limits: &super::limits::Limits,
    version: i32,
) -> serde_json::Value {
    let mut v = serde_json::json!({
        "organisation": organisation,
        "key_alias": key_alias,
        "extra": extra,
        "models": models,
        "services": services,
        "version": version,
    });
    if let (Some(o), serde_json::Value::Object(l)) = (v.as_object_mut(), limits.to_json()) {
        o.extend(l);
    }
    v
}

/// Saves the edit dialog's edit of `u` on `conn` (a transaction): optimistic
/// locking, models, services, limits, the sync queued. Returns before and after.
pub async fn save_edit(
    conn: &impl ConnectionTrait,
    u: &user::Model,
    edit: Edit,
) -> Result<Change, EditError> {
    let models: Vec<String> = super::queries::models_of(conn, &[u.id])
        .await?
        .remove(&u.id)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let services: Vec<String> = super::queries::services_of(conn, &[u.id])
        .await?
        .remove(&u.id)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let before = snapshot(
        &u.organisation,
        &u.key_alias,
        &u.extra,
        &models,
        &services,
        &super::limits::Limits::of(u),
        u.version,
    );
    let after = snapshot(
        &edit.organisation,
        &edit.key_alias,
        &edit.extra,
        &edit.models,
        &edit.services,
        &edit.limits,
        edit.version + 1,
    );
    update_user(conn, u, edit, None).await?;
    Ok(Change { before, after })
}

/// Why the edit dialog's save did not happen.
#[derive(Debug)]
pub enum EditFailure {
    /// Field errors (the form's rules, unknown services, a taken alias): nothing written.
    Invalid(crate::web::FormErrors),
    /// Someone saved the user since the admin loaded version `submitted`.
    Stale {
        submitted: i32,
    },
    Db(DbErr),
}

/// The edit dialog's save, whole: checks the form, opens the write transaction,
/// saves (optimistic locking, models, services, limits, the sync queued) and
/// hands back the open transaction with before/after, for the caller to commit
/// together with its audit event.
pub async fn edit_from_form(
    db: &sea_orm::DatabaseConnection,
    u: &user::Model,
    form: &super::forms::EditForm,
    tz: chrono_tz::Tz,
) -> Result<(crate::db::WriteTxn, Change), EditFailure> {
    let edit = check_edit(form, tz).map_err(EditFailure::Invalid)?;
    let submitted = edit.version;
    let txn = crate::db::begin_write(db).await.map_err(EditFailure::Db)?;
    let field = |f: &str, m: crate::i18n::Msg| {
        let mut e = crate::web::FormErrors::default();
        e.add(f, m);
        EditFailure::Invalid(e)
    };
    match save_edit(&txn, u, edit).await {
        Ok(change) => Ok((txn, change)),
        Err(EditError::Stale) => Err(EditFailure::Stale { submitted }),
        Err(EditError::Services(m)) => Err(field("services", m)),
        Err(EditError::AliasTaken) => Err(field("key_alias", "users-alias-taken".into())),
        Err(EditError::Db(e)) => Err(EditFailure::Db(e)),
    }
}
