//! Seeds the super admin `admin` exactly once per installation: a marker in
//! `app_state` remembers it, so renaming or re-passwording it never re-seeds. Its
//! password is `admin` unless `MAMA_INITIAL_ADMIN_PASSWORD` gives one; in production
//! mode (`MAMA_REQUIRE_SECRETS`) it must, so a fresh deployment cannot be claimed by
//! whoever connects first. Either way it must be changed at first login.
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use secrecy::SecretString;

use super::{Role, queries};
use crate::{
    audit::{Action, Event, Outcome},
    entities::app_state,
};

const MARKER: &str = "super_admin_seeded";

/// Returns true when the super admin was created by this call.
pub async fn seed_super_admin(
    db: &sea_orm::DatabaseConnection,
    secrets: &crate::config::Secrets,
) -> anyhow::Result<bool> {
    // A write transaction from the start: on SQLite a deferred one that reads
    // the marker first cannot take the write lock once another instance on the
    // same file has committed in between ("database is locked").
    let txn = crate::db::begin_write(db).await?;
    if app_state::Entity::find_by_id(MARKER)
        .one(&txn)
        .await?
        .is_some()
    {
        return Ok(false);
    }
    let password = match (&secrets.initial_admin_password, secrets.required) {
        (Some(p), _) => p.clone(),
        (None, false) => SecretString::from("admin".to_string()),
        (None, true) => anyhow::bail!(
            "MAMA_REQUIRE_SECRETS is set and no admin exists yet: set MAMA_INITIAL_ADMIN_PASSWORD \
             (or MAMA_INITIAL_ADMIN_PASSWORD_FILE) for the first start, or MAMA_THROWAWAY=true \
             for a throwaway instance"
        ),
    };
    let hash = super::password::hash(password).await?;
    queries::create(&txn, "admin", hash, Role::SuperAdmin, true).await?;
    app_state::ActiveModel {
        name: Set(MARKER.to_string()),
        value: Set(Utc::now().to_rfc3339()),
        updated_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await?;
    let mut ev = Event::system("seed", Action::AdminCreate, Outcome::Success);
    ev.details = serde_json::json!({"username": "admin", "role": "super_admin", "must_change_password": true});
    crate::audit::insert(&txn, &ev).await?;
    txn.commit().await?;
    tracing::warn!(
        default_password = secrets.initial_admin_password.is_none(),
        "seeded the super admin `admin`; its password must be changed at first login"
    );
    Ok(true)
}
