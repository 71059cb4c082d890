//! Table `audit_target_chunks`: the target index ("who read user X"), a run's
//! (user, event) pairs sorted and cut into chunks (see `audit::chunk`).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_target_chunks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub run: i64,
    /// The chunk's first user; a user's pairs never straddle two chunks.
    #[sea_orm(primary_key, auto_increment = false)]
    pub first_user: String,
    /// The encoded pairs (`audit::chunk::encode`).
    pub pairs: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
