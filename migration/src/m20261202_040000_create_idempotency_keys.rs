use sea_orm_migration::{prelude::*, schema::*};

/// The first answer to each `Idempotency-Key` an API client sent with a POST,
/// stored in the same transaction as the write it answered, so a retry (to
/// this or any other instance) gets that answer back and changes nothing.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(IdempotencyKeys::Table)
                .if_not_exists()
                .col(big_pk_auto(IdempotencyKeys::Id))
                .col(integer(IdempotencyKeys::ClientId))
                .col(string_len(IdempotencyKeys::IdemKey, 255))
                .col(string_len(IdempotencyKeys::RequestSha256, 64))
                .col(integer(IdempotencyKeys::Status))
                .col(text(IdempotencyKeys::Body))
                .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_idempotency_keys_client_key")
                .table(IdempotencyKeys::Table)
                .col(IdempotencyKeys::ClientId)
                .col(IdempotencyKeys::IdemKey)
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_index(crate::index(
            IdempotencyKeys::Table,
            &[IdempotencyKeys::CreatedAt],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(IdempotencyKeys::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum IdempotencyKeys {
    Table,
    Id,
    ClientId,
    IdemKey,
    RequestSha256,
    Status,
    Body,
    CreatedAt,
}
