use sea_orm_migration::{prelude::*, schema::*};

/// Small key/value facts about this installation (e.g. "super admin seeded",
/// "audit chain last verified").
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AppState::Table)
                .if_not_exists()
                .col(string_len(AppState::Name, 64).primary_key())
                .col(text(AppState::Value))
                .col(timestamp_with_time_zone(AppState::UpdatedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AppState::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum AppState {
    Table,
    Name,
    Value,
    UpdatedAt,
}
