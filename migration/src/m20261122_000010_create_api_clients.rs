use sea_orm_migration::{prelude::*, schema::*};

/// Internal systems that call /api/v1. Only the SHA-256 of a token is stored.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ApiClients::Table)
                .if_not_exists()
                .col(pk_auto(ApiClients::Id))
                .col(string_len_uniq(ApiClients::Name, 128))
                .col(string_len_uniq(ApiClients::TokenSha256, 64))
                .col(string_len(ApiClients::TokenHint, 8))
                .col(string_len(ApiClients::Scopes, 256))
                .col(integer_null(ApiClients::RateLimitPerMinute))
                .col(string_len_null(ApiClients::CreatedBy, 64))
                .col(timestamp_with_time_zone(ApiClients::CreatedAt))
                .col(timestamp_with_time_zone_null(ApiClients::LastUsedAt))
                .col(timestamp_with_time_zone_null(ApiClients::RevokedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ApiClients::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum ApiClients {
    Table,
    Id,
    Name,
    TokenSha256,
    TokenHint,
    Scopes,
    RateLimitPerMinute,
    CreatedBy,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}
