use sea_orm_migration::{prelude::*, schema::*};

use super::m20261122_000001_create_admins::Admins;

/// Server-side sessions: the cookie carries a random token, this table its SHA-256,
/// so logout, password change and admin deletion can end sessions at once.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AdminSessions::Table)
                .if_not_exists()
                .col(string_len(AdminSessions::Id, 64).primary_key())
                .col(integer(AdminSessions::AdminId))
                .col(timestamp_with_time_zone(AdminSessions::CreatedAt))
                .col(timestamp_with_time_zone(AdminSessions::LastSeenAt))
                .col(string_len_null(AdminSessions::ClientIp, 64))
                .col(string_len_null(AdminSessions::UserAgent, 256))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_admin_sessions_admin")
                        .from(AdminSessions::Table, AdminSessions::AdminId)
                        .to(Admins::Table, Admins::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(crate::index(
            AdminSessions::Table,
            &[AdminSessions::AdminId],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AdminSessions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
pub enum AdminSessions {
    Table,
    Id,
    AdminId,
    CreatedAt,
    LastSeenAt,
    ClientIp,
    UserAgent,
}
