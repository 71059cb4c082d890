use sea_orm_migration::{prelude::*, schema::*};

use super::m20261122_000005_create_users::Users;

/// One row per (user, model), indexed both ways so "who may use model X" and
/// bulk add/remove are single statements.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(UserModels::Table)
                .if_not_exists()
                .col(integer(UserModels::UserId))
                .col(string_len(UserModels::Model, 256))
                .primary_key(
                    Index::create()
                        .col(UserModels::UserId)
                        .col(UserModels::Model),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_user_models_user")
                        .from(UserModels::Table, UserModels::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(crate::index(
            UserModels::Table,
            &[UserModels::Model, UserModels::UserId],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(UserModels::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum UserModels {
    Table,
    UserId,
    Model,
}
