use sea_orm_migration::{prelude::*, schema::*};

use super::m20261122_000005_create_users::Users;
use super::m20261122_000006_create_services::Services;

/// One row per (user, service); a service in use cannot be deleted (RESTRICT).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(UserServices::Table)
                .if_not_exists()
                .col(integer(UserServices::UserId))
                .col(integer(UserServices::ServiceId))
                .primary_key(
                    Index::create()
                        .col(UserServices::UserId)
                        .col(UserServices::ServiceId),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_user_services_user")
                        .from(UserServices::Table, UserServices::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_user_services_service")
                        .from(UserServices::Table, UserServices::ServiceId)
                        .to(Services::Table, Services::Id)
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(crate::index(
            UserServices::Table,
            &[UserServices::ServiceId, UserServices::UserId],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(UserServices::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum UserServices {
    Table,
    UserId,
    ServiceId,
}
