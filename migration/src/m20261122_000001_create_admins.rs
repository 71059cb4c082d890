use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Admins::Table)
                .if_not_exists()
                .col(pk_auto(Admins::Id))
                .col(string_len_uniq(Admins::Username, 64))
                .col(string(Admins::PasswordHash))
                .col(string_len(Admins::Role, 16))
                .col(boolean(Admins::MustChangePassword))
                .col(integer(Admins::FailedLogins).default(0))
                .col(timestamp_with_time_zone_null(Admins::LockedUntil))
                .col(timestamp_with_time_zone_null(Admins::LastLoginAt))
                .col(timestamp_with_time_zone(Admins::CreatedAt))
                .col(timestamp_with_time_zone(Admins::UpdatedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Admins::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
pub enum Admins {
    Table,
    Id,
    Username,
    PasswordHash,
    Role,
    MustChangePassword,
    FailedLogins,
    LockedUntil,
    LastLoginAt,
    CreatedAt,
    UpdatedAt,
}
