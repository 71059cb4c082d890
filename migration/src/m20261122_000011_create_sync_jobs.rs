use sea_orm_migration::{prelude::*, schema::*};

/// The outbox: every change LiteLLM must learn of, written in the same
/// transaction as the change, claimed by workers with a lease.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SyncJobs::Table)
                .if_not_exists()
                .col(big_pk_auto(SyncJobs::Id))
                .col(string_len(SyncJobs::UserRef, 128))
                .col(string_len(SyncJobs::Operation, 32))
                .col(text(SyncJobs::Payload))
                .col(string_len(SyncJobs::State, 16))
                .col(integer(SyncJobs::Attempts).default(0))
                .col(timestamp_with_time_zone(SyncJobs::NextAttemptAt))
                .col(string_len_null(SyncJobs::LeaseOwner, 64))
                .col(timestamp_with_time_zone_null(SyncJobs::LeaseUntil))
                .col(text_null(SyncJobs::LastError))
                .col(string_len_null(SyncJobs::BatchId, 64))
                .col(timestamp_with_time_zone(SyncJobs::CreatedAt))
                .col(timestamp_with_time_zone(SyncJobs::UpdatedAt))
                .col(timestamp_with_time_zone_null(SyncJobs::FinishedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(crate::index(
            SyncJobs::Table,
            &[SyncJobs::State, SyncJobs::NextAttemptAt],
        ))
        .await?;
        m.create_index(crate::index(SyncJobs::Table, &[SyncJobs::UserRef]))
            .await?;
        m.create_index(crate::index(SyncJobs::Table, &[SyncJobs::BatchId]))
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SyncJobs::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum SyncJobs {
    Table,
    Id,
    UserRef,
    Operation,
    Payload,
    State,
    Attempts,
    NextAttemptAt,
    LeaseOwner,
    LeaseUntil,
    LastError,
    BatchId,
    CreatedAt,
    UpdatedAt,
    FinishedAt,
}
