use sea_orm_migration::{prelude::*, schema::*};

/// Changes to a key made in LiteLLM behind mama's back, found by the worker before
/// a write: which fields, what mama had sent, what LiteLLM held. Open until an
/// admin resolves it on /sync/reconcile (overwrite, adopt, or a rename adopted).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SyncDrifts::Table)
                .if_not_exists()
                .col(big_pk_auto(SyncDrifts::Id))
                .col(string_len(SyncDrifts::UserRef, 128))
                .col(string_len(SyncDrifts::KeySha256, 64))
                .col(string_len(SyncDrifts::Fields, 255))
                .col(text(SyncDrifts::Expected))
                .col(text(SyncDrifts::Actual))
                .col(big_integer_null(SyncDrifts::JobId))
                .col(timestamp_with_time_zone(SyncDrifts::DetectedAt))
                .col(timestamp_with_time_zone_null(SyncDrifts::ResolvedAt))
                .col(string_len_null(SyncDrifts::Resolution, 32))
                .to_owned(),
        )
        .await?;
        m.create_index(crate::index(
            SyncDrifts::Table,
            &[SyncDrifts::UserRef, SyncDrifts::ResolvedAt],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SyncDrifts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum SyncDrifts {
    Table,
    Id,
    UserRef,
    KeySha256,
    Fields,
    Expected,
    Actual,
    JobId,
    DetectedAt,
    ResolvedAt,
    Resolution,
}
