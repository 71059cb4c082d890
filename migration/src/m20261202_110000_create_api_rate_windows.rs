use sea_orm_migration::{prelude::*, schema::*};

/// One counter per API client and fixed one-minute window, shared by every
/// instance: each authenticated call is one UPSERT that adds 1 and returns the
/// new count, so N instances together allow the client's limit, not N times it.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ApiRateWindows::Table)
                .if_not_exists()
                .col(integer(ApiRateWindows::ClientId))
                .col(big_integer(ApiRateWindows::WindowStart))
                .col(integer(ApiRateWindows::Hits))
                .primary_key(
                    Index::create()
                        .col(ApiRateWindows::ClientId)
                        .col(ApiRateWindows::WindowStart),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(crate::index(
            ApiRateWindows::Table,
            &[ApiRateWindows::WindowStart],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ApiRateWindows::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum ApiRateWindows {
    Table,
    ClientId,
    WindowStart,
    Hits,
}
