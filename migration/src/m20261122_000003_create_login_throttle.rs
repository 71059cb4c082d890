use sea_orm_migration::{prelude::*, schema::*};

/// Per-client-IP login failures, in the database so several instances share them.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(LoginThrottle::Table)
                .if_not_exists()
                .col(string_len(LoginThrottle::ClientIp, 64).primary_key())
                .col(integer(LoginThrottle::Failures).default(0))
                .col(timestamp_with_time_zone_null(LoginThrottle::BlockedUntil))
                .col(timestamp_with_time_zone(LoginThrottle::UpdatedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(LoginThrottle::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum LoginThrottle {
    Table,
    ClientIp,
    Failures,
    BlockedUntil,
    UpdatedAt,
}
