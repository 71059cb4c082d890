//! Seeds the super admin `admin`/`admin` exactly once per installation: a marker in
//! `app_state` remembers it, so renaming or re-passwording it never re-seeds.
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, EntityTrait, TransactionSession, TransactionTrait,
};
use secrecy::SecretString;

use super::{Role, queries};
use crate::{
    audit::{Action, Event, Outcome},
    entities::app_state,
};

const MARKER: &str = "super_admin_seeded";

/// Returns true when the super admin was created by this call.
pub async fn seed_super_admin(db: &impl TransactionTrait) -> anyhow::Result<bool> {
    let txn = db.begin().await?;
    if app_state::Entity::find_by_id(MARKER)
        .one(&txn)
        .await?
        .is_some()
    {
        return Ok(false);
    }
    let hash = super::password::hash(SecretString::from("admin".to_string())).await?;
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
        "seeded the super admin `admin` with the documented default password; it must be changed at first login"
    );
    Ok(true)
}
