//! Table `sync_drifts`: changes made to a key in LiteLLM behind mama's back.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_drifts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_ref: String,
    pub key_sha256: String,
    /// The fields that differ, comma-separated (`models,key_alias`).
    pub fields: String,
    /// What mama had sent (canonical JSON of the fields mama owns).
    pub expected: String,
    /// What LiteLLM held instead.
    pub actual: String,
    pub job_id: Option<i64>,
    pub detected_at: DateTimeUtc,
    pub resolved_at: Option<DateTimeUtc>,
    /// `overwritten` (mama's state sent again) or `converged` (mama now wants
    /// what LiteLLM holds, e.g. after a rename was adopted).
    pub resolution: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
