//! Table `audit_target_runs`: one row per run of the target index
//! (`audit_target_chunks`).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_target_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub run: i64,
    /// The run's event-id range.
    pub min_event_id: i64,
    pub max_event_id: i64,
    /// The highest event id of this run and every older one.
    pub ceiling_event_id: i64,
    /// The run's highest chain position (0 for unsealed rows of the seeders).
    pub max_seq: i64,
    /// The run's (user, event) pairs.
    pub row_count: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
