use sea_orm_migration::{prelude::*, schema::*};

/// The catalogue of internal services admins pick from.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Services::Table)
                .if_not_exists()
                .col(pk_auto(Services::Id))
                .col(string_len_uniq(Services::Name, 128))
                .col(text(Services::Description))
                .col(timestamp_with_time_zone(Services::CreatedAt))
                .col(timestamp_with_time_zone(Services::UpdatedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Services::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
pub enum Services {
    Table,
    Id,
    Name,
    Description,
    CreatedAt,
    UpdatedAt,
}
