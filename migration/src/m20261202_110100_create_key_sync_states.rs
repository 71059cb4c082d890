use sea_orm_migration::{prelude::*, schema::*};

/// What mama last sent to LiteLLM for each user's key (the fields mama owns, as
/// canonical JSON), and the last few states it sent at all (a JSON list; any may
/// still land). Before a write the worker compares LiteLLM's current key with
/// these; anything else is a change made behind mama's back (drift), which is
/// recorded rather than overwritten.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(KeySyncStates::Table)
                .if_not_exists()
                .col(string_len(KeySyncStates::UserRef, 128).primary_key())
                .col(string_len(KeySyncStates::KeySha256, 64))
                .col(text_null(KeySyncStates::SentState))
                .col(text_null(KeySyncStates::SendingState))
                .col(timestamp_with_time_zone(KeySyncStates::UpdatedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(KeySyncStates::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum KeySyncStates {
    Table,
    UserRef,
    KeySha256,
    SentState,
    SendingState,
    UpdatedAt,
}
