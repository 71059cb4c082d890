//! Service catalogue changes shared by the web page, the REST API, the CLI and
//! `mama apply`. Each runs on the caller's transaction; a rename re-syncs the
//! users who have the service (services travel in the keys' metadata).
use sea_orm::{ConnectionTrait, DbErr};

use super::{forms::check_service_name, queries};
use crate::{entities::service, i18n::Msg};

/// Longest description.
pub const DESCRIPTION_MAX: usize = 1000;

/// Why a catalogue change was refused; `field` names the input at fault. The
/// messages are catalogue keys: pages show them in the admin's language, the API
/// and the CLI in English (`Display`).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Every field at fault, with its message.
    #[error("{}", .0.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<(&'static str, Msg)>),
    #[error("a service named `{0}` already exists")]
    Duplicate(String),
    /// The service is still granted to these users.
    #[error("`{name}` is still used by {} user(s)", users.len())]
    InUse { name: String, users: Vec<String> },
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl ServiceError {
    /// Field → message, for form and API errors.
    pub fn fields(&self) -> Vec<(&'static str, Msg)> {
        match self {
            ServiceError::Invalid(v) => v.clone(),
            ServiceError::Duplicate(_) => vec![("name", Msg::new("err-service-taken"))],
            ServiceError::InUse { name, users } => vec![(
                "service",
                Msg::new("err-service-in-use")
                    .arg("name", name)
                    .num("n", users.len()),
            )],
            ServiceError::Db(_) => vec![("service", Msg::new("error-title-500"))],
        }
    }
}

/// A checked name and description.
pub fn check(name: &str, description: &str) -> Result<(String, String), ServiceError> {
    let mut errors = vec![];
    let name = check_service_name(name).unwrap_or_else(|e| {
        errors.push(("name", e));
        String::new()
    });
    if description.chars().count() > DESCRIPTION_MAX {
        errors.push((
            "description",
            Msg::new("err-description-long").num("max", DESCRIPTION_MAX),
        ));
    }
    if description
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r')
    {
        errors.push(("description", Msg::new("err-description-control")));
    }
    if errors.is_empty() {
        Ok((name, description.trim().to_string()))
    } else {
        Err(ServiceError::Invalid(errors))
    }
}

/// Adds a service to the catalogue.
pub async fn create(
    conn: &impl ConnectionTrait,
    name: &str,
    description: &str,
) -> Result<service::Model, ServiceError> {
    let (name, description) = check(name, description)?;
    if queries::find_by_name(conn, &name).await?.is_some() {
        return Err(ServiceError::Duplicate(name));
    }
    Ok(queries::create(conn, &name, &description).await?)
}

/// Renames `s` and/or changes its description; when the name changes, its users
/// are queued for a LiteLLM sync under `batch_id`. Returns those users.
pub async fn update(
    conn: &impl ConnectionTrait,
    s: &service::Model,
    name: &str,
    description: &str,
    batch_id: &str,
) -> Result<Vec<String>, ServiceError> {
    let (name, description) = check(name, description)?;
    if let Some(other) = queries::find_by_name(conn, &name).await?
        && other.id != s.id
    {
        return Err(ServiceError::Duplicate(name));
    }
    queries::rename(conn, s.id, &name, &description).await?;
    let users = if name != s.name {
        queries::users_of(conn, s.id).await?
    } else {
        vec![]
    };
    crate::litellm::outbox::enqueue_upsert(conn, &users, Some(batch_id)).await?;
    Ok(users)
}

/// Deletes `s`, unless a user still has it.
pub async fn delete(conn: &impl ConnectionTrait, s: &service::Model) -> Result<(), ServiceError> {
    let users = queries::users_of(conn, s.id).await?;
    if !users.is_empty() {
        return Err(ServiceError::InUse {
            name: s.name.clone(),
            users,
        });
    }
    queries::delete(conn, s.id).await?;
    Ok(())
}
