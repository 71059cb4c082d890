use sea_orm_migration::{prelude::*, schema::*};

/// The cache of LiteLLM's model catalogue.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Models::Table)
                .if_not_exists()
                .col(string_len(Models::Name, 256).primary_key())
                .col(boolean(Models::Available))
                .col(timestamp_with_time_zone(Models::FirstSeenAt))
                .col(timestamp_with_time_zone_null(Models::LastSeenAt))
                .col(text_null(Models::Details))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Models::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum Models {
    Table,
    Name,
    Available,
    FirstSeenAt,
    LastSeenAt,
    Details,
}
