use sea_orm_migration::{prelude::*, schema::*};

use super::m20261122_000012_create_audit_events::AuditEvents;

/// (user ID, event) pairs, so "every event about user X" is an index range scan.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AuditTargets::Table)
                .if_not_exists()
                .col(string_len(AuditTargets::UserId, 128))
                .col(big_integer(AuditTargets::EventId))
                .primary_key(
                    Index::create()
                        .col(AuditTargets::UserId)
                        .col(AuditTargets::EventId),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_audit_targets_event")
                        .from(AuditTargets::Table, AuditTargets::EventId)
                        .to(AuditEvents::Table, AuditEvents::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(crate::index(AuditTargets::Table, &[AuditTargets::EventId]))
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AuditTargets::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum AuditTargets {
    Table,
    UserId,
    EventId,
}
