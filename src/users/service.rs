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
    let service_ids = service_ids(conn, &new.services).await?;
    let key = keys::generate();
    let stored = keys::seal(cipher, &key);
    drop(key);
    let now = Utc::now();
    let model = user::ActiveModel {
        user_id: Set(new.user_id.clone()),
        organisation: Set(new.organisation),
        key_ciphertext: Set(stored.ciphertext),
        key_sha256: Set(stored.sha256),
        key_hint: Set(stored.hint),
        key_alias: Set(new.key_alias),
        extra: Set(new.extra),
        sync_state: Set(SyncState::Pending.into()),
        sync_error: Set(None),
        synced_at: Set(None),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    let mut models = new.models;
    models.sort();
    models.dedup();
    if !models.is_empty() {
        user_model::Entity::insert_many(models.into_iter().map(|m| user_model::ActiveModel {
            user_id: Set(model.id),
            model: Set(m),
        }))
        .exec(conn)
        .await?;
    }
    if !service_ids.is_empty() {
        user_service::Entity::insert_many(service_ids.into_iter().map(|s| {
            user_service::ActiveModel {
                user_id: Set(model.id),
                service_id: Set(s),
            }
        }))
        .exec(conn)
        .await?;
    }
    outbox::enqueue_upsert(conn, std::slice::from_ref(&model.user_id), batch_id).await?;
    Ok(model)
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
    let stored = keys::seal(cipher, &key);
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
) -> Result<std::collections::HashMap<String, i32>, String> {
    if names.is_empty() {
        return Ok(Default::default());
    }
    let found = service::Entity::find()
        .filter(service::Column::Name.is_in(names.iter().cloned()))
        .all(conn)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "service lookup failed");
            "The services could not be read; try again.".to_string()
        })?;
    let mut out = std::collections::HashMap::new();
    for n in names {
        match found.iter().find(|s| &s.name == n) {
            Some(s) => {
                out.insert(n.clone(), s.id);
            }
            None => {
                return Err(format!(
                    "Unknown service “{}”: add it under Services first.",
                    n.chars().take(64).collect::<String>()
                ));
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
            l.error = Some("a user with this ID already exists".into());
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
    batch_id: &str,
) -> Result<Vec<String>, CreateError> {
    let mut created = vec![];
    for l in lines.iter().filter(|l| l.error.is_none()) {
        create_user(
            conn,
            cipher,
            NewUser {
                user_id: l.user_id.clone(),
                organisation: l.organisation.clone(),
                key_alias: None,
                models: models.to_vec(),
                services: services.to_vec(),
                extra: String::new(),
            },
            Some(batch_id),
        )
        .await?;
        created.push(l.user_id.clone());
    }
    Ok(created)
}

/// What an edit sets (already validated).
#[derive(Debug, Clone)]
pub struct Edit {
    pub organisation: String,
    pub key_alias: Option<String>,
    pub models: Vec<String>,
    pub services: Vec<String>,
    pub extra: String,
    /// The version the admin saw.
    pub version: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// Someone saved the user since the admin loaded it.
    #[error("stale version")]
    Stale,
    #[error("{0}")]
    Services(String),
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
    let n = super::queries::exec(
        conn,
        "UPDATE users SET organisation = ?, key_alias = ?, extra = ?, version = version + 1, updated_at = ? \
         WHERE id = ? AND version = ?",
        vec![
            edit.organisation.into(),
            edit.key_alias.into(),
            edit.extra.into(),
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
    Ok(())
}
