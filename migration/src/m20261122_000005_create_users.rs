use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Users::Table)
                .if_not_exists()
                .col(pk_auto(Users::Id))
                .col(string_len_uniq(Users::UserId, 128))
                .col(string_len(Users::Organisation, 128))
                .col(text(Users::KeyCiphertext))
                .col(string_len_uniq(Users::KeySha256, 64))
                .col(string_len(Users::KeyHint, 8))
                .col(string_len_null(Users::KeyAlias, 256).unique_key())
                .col(text(Users::Extra))
                .col(string_len(Users::SyncState, 16))
                .col(text_null(Users::SyncError))
                .col(timestamp_with_time_zone_null(Users::SyncedAt))
                .col(integer(Users::Version).default(1))
                .col(timestamp_with_time_zone(Users::CreatedAt))
                .col(timestamp_with_time_zone(Users::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(crate::index(Users::Table, &[Users::Organisation]))
            .await?;
        m.create_index(crate::index(Users::Table, &[Users::SyncState]))
            .await?;
        m.create_index(crate::index(Users::Table, &[Users::UpdatedAt]))
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
pub enum Users {
    Table,
    Id,
    UserId,
    Organisation,
    KeyCiphertext,
    KeySha256,
    KeyHint,
    KeyAlias,
    Extra,
    SyncState,
    SyncError,
    SyncedAt,
    Version,
    CreatedAt,
    UpdatedAt,
}
