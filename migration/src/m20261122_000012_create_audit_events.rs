use sea_orm_migration::{prelude::*, schema::*};

/// The audit trail. `seq`, `prev_hash` and `hash` hold the tamper-evident chain;
/// they are filled by the chain sealer, so many instances can insert at once.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AuditEvents::Table)
                .if_not_exists()
                .col(big_pk_auto(AuditEvents::Id))
                .col(timestamp_with_time_zone(AuditEvents::OccurredAt))
                .col(string_len(AuditEvents::RequestId, 64))
                .col(string_len(AuditEvents::ActorKind, 16))
                .col(string_len_null(AuditEvents::ActorId, 64))
                .col(string_len_null(AuditEvents::ActorName, 128))
                .col(string_len(AuditEvents::Action, 64))
                .col(string_len(AuditEvents::Outcome, 16))
                .col(integer_null(AuditEvents::HttpStatus))
                .col(big_integer(AuditEvents::DurationUs))
                .col(string_len_null(AuditEvents::ClientIp, 64))
                .col(string_len_null(AuditEvents::UserAgent, 256))
                .col(string_len_null(AuditEvents::Method, 16))
                .col(text_null(AuditEvents::Path))
                .col(integer(AuditEvents::TargetCount))
                .col(text(AuditEvents::Targets))
                .col(text(AuditEvents::Details))
                .col(big_integer_null(AuditEvents::Seq).unique_key())
                .col(string_len_null(AuditEvents::PrevHash, 64))
                .col(string_len_null(AuditEvents::Hash, 64))
                .to_owned(),
        )
        .await?;
        for cols in [
            vec![AuditEvents::OccurredAt],
            vec![AuditEvents::RequestId],
            vec![AuditEvents::Action, AuditEvents::Id],
            vec![AuditEvents::ActorName, AuditEvents::Id],
            vec![AuditEvents::Outcome, AuditEvents::Id],
        ] {
            m.create_index(crate::index(AuditEvents::Table, &cols))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AuditEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
pub enum AuditEvents {
    Table,
    Id,
    OccurredAt,
    RequestId,
    ActorKind,
    ActorId,
    ActorName,
    Action,
    Outcome,
    HttpStatus,
    DurationUs,
    ClientIp,
    UserAgent,
    Method,
    Path,
    TargetCount,
    Targets,
    Details,
    Seq,
    PrevHash,
    Hash,
}
