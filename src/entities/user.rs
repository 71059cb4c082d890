//! Table `users`.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
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
    /// USD; LiteLLM's `max_budget` (NULL: no budget).
    pub max_budget: Option<f64>,
    /// LiteLLM's `budget_duration` (`1d`, `7d`, `30d`; NULL: the budget never resets).
    pub budget_duration: Option<String>,
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    /// When the key stops working (sent to LiteLLM as a `duration` from now).
    pub expires_at: Option<DateTimeUtc>,
    pub blocked: bool,
    /// USD spent, as the last spend refresh read it from LiteLLM.
    pub spend: Option<f64>,
    /// LiteLLM's `last_active` of the key, when it reports one.
    pub last_active_at: Option<DateTimeUtc>,
    pub spend_refreshed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::user_model::Entity")]
    Models,
    #[sea_orm(has_many = "super::user_service::Entity")]
    Services,
}

impl Related<super::user_model::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Models.def()
    }
}

impl Related<super::user_service::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Services.def()
    }
}

/// A user's services, through `user_services`.
impl Related<super::service::Entity> for Entity {
    fn to() -> RelationDef {
        super::user_service::Relation::Service.def()
    }
    fn via() -> Option<RelationDef> {
        Some(super::user_service::Relation::User.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}
