//! Table `users`.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The external user ID.
    #[sea_orm(unique)]
    pub user_id: String,
    pub organisation: String,
    /// base64(nonce || AES-256-GCM ciphertext) of the key.
    pub key_ciphertext: String,
    #[sea_orm(unique)]
    pub key_sha256: String,
    pub key_hint: String,
    pub key_alias: Option<String>,
    pub extra: String,
    pub sync_state: String,
    pub sync_error: Option<String>,
    pub synced_at: Option<DateTimeUtc>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
