//! Table `key_sync_states`: what mama last sent to LiteLLM for a user's key.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "key_sync_states")]
pub struct Model {
    /// The external user ID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_ref: String,
    /// The key these states were sent for (a rotation starts afresh).
    pub key_sha256: String,
    /// The fields mama owns, as LiteLLM confirmed them (canonical JSON).
    pub sent_state: Option<String>,
    /// The last few states mama sent (a JSON list, newest last): any of them
    /// may still land in LiteLLM (a call that timed out, or was cut by a crash).
    pub sending_state: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
